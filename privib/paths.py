"""Where privib's own files live: the shipped configs and pipeline specs, and the cache folder.

The top-level ``configs/`` and ``pipelines/`` folders of the checkout are the user-facing copies
and the only ones in the repository; a built wheel carries them as the package data
``privib.configs`` and ``privib.pipelines`` (see ``pyproject.toml``), so a non-editable
``pip install .`` keeps every preset. :func:`shipped_dir` finds whichever is there.
"""
from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

CHECKOUT_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_KINDS = ("configs", "pipelines")
CACHE_DIR_ENV = "PRIVIB_CACHE_DIR"
DEFAULT_CONFIG = "configs/adult.yaml"
DEFAULT_PIPELINE = "pipelines/standard.yaml"
METHODS_DIR = "configs/methods"  # method presets: --method NAME layers METHODS_DIR/NAME.yaml


def shipped_dir(kind: str) -> Path:
    """The folder of shipped ``configs`` or ``pipelines``: the installed package data, else the checkout's."""
    if kind not in SHIPPED_KINDS:
        raise ValueError(f"unknown kind of shipped file {kind!r}: use one of {SHIPPED_KINDS}")
    installed = Path(str(importlib.resources.files("privib").joinpath(kind)))
    return installed if installed.is_dir() else CHECKOUT_ROOT / kind


def shipped_file(relative: str | os.PathLike[str]) -> Path:
    """``configs/...`` or ``pipelines/...`` among the shipped files (the path may not exist)."""
    parts = Path(relative).parts
    if len(parts) < 2 or parts[0] not in SHIPPED_KINDS:
        return CHECKOUT_ROOT / Path(relative)
    return shipped_dir(parts[0]).joinpath(*parts[1:])


def resolve_project_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as given (relative to the working directory) when it exists, else the shipped file of that name."""
    candidate = Path(path).expanduser()
    if candidate.is_file() or candidate.is_absolute():
        return candidate
    shipped = shipped_file(candidate)
    return shipped if shipped.is_file() else candidate


def list_shipped(relative_dir: str, suffix: str = ".yaml") -> list[str]:
    """Stems of the shipped files in ``relative_dir`` (e.g. ``configs/methods``) and of the same folder here."""
    folders = {shipped_file(relative_dir), Path(relative_dir)}
    return sorted({file.stem for folder in folders if folder.is_dir() for file in folder.glob(f"*{suffix}")})


def cache_dir() -> Path:
    """The folder of privib's caches and downloads (``PRIVIB_CACHE_DIR``, else ``$XDG_CACHE_HOME/privib`` or ``~/.cache/privib``)."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "privib"
