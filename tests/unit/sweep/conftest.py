"""Fixtures of the sweep unit tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.sweeps import FAKE_RUN


@pytest.fixture()
def fake_run(tmp_path: Path) -> Path:
    """A script standing in for `privib run` (see helpers.sweeps.FAKE_RUN)."""
    script = tmp_path / "fake_privib_run.py"
    script.write_text(FAKE_RUN)
    return script
