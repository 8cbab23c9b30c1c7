"""Shared helpers of the test suite (importable as ``helpers``: pyproject.toml puts tests/ on the path).

Plain functions and constants only: fixtures live in the ``conftest.py`` of the folder whose tests use them.
"""
