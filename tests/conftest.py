"""Shared fixtures: W&B forced offline/disabled, Adult located, tiny run configs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["WANDB_MODE"] = os.environ.get("PRIVIB_TEST_WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def adult_dir() -> Path | None:
    """Folder holding adult.data / adult.test (``$PRIVIB_DATA_DIR``), or None."""
    root = os.environ.get("PRIVIB_DATA_DIR")
    if root and any((Path(root) / sub / "adult.data").is_file() for sub in ("adult", ".")):
        return Path(root)
    return None


@pytest.fixture(scope="session")
def adult_root() -> Path:
    root = adult_dir()
    if root is None:
        pytest.skip("UCI Adult not available: set PRIVIB_DATA_DIR to a folder holding adult/adult.data")
    return root


@pytest.fixture(scope="session")
def adult_datamodule(adult_root: Path):
    from privib.data.datamodule import PrivibDataModule

    datamodule = PrivibDataModule(name="adult", root=str(adult_root), sensitive=["sex", "race"])
    datamodule.setup()
    return datamodule


def run_privib(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the ``privib`` CLI in a fresh process, as a user would."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "privib.cli", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
