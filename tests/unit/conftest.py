"""Fixtures shared by unit tests of several packages: tiny exports (export/, cli/), a folder of runs (compare/, cli/)."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.exports import cached_export
from helpers.records import figures, make_run


# ---------------------------------------------------------------------------- exports
@pytest.fixture()
def tiny_export(tmp_path_factory: pytest.TempPathFactory):
    """(export folder, the torch encoder, its preprocessor) of a stochastic encoder, all formats. Read-only."""
    return cached_export(tmp_path_factory, False)


@pytest.fixture()
def tiny_deterministic_export(tmp_path_factory: pytest.TempPathFactory):
    """The same for a deterministic encoder (scale 0). Read-only."""
    return cached_export(tmp_path_factory, True)


@pytest.fixture()
def export_copy(tiny_export, tmp_path: Path) -> Path:
    """A private copy of the tiny export that a test may damage."""
    target = tmp_path / "export"
    shutil.copytree(tiny_export[0], target)
    return target


@pytest.fixture()
def export_log(caplog: pytest.LogCaptureFixture):
    """caplog attached to the ``privib.export`` logger itself (privib.cli may stop propagation to the root)."""
    logger = logging.getLogger("privib.export")
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    caplog.handler.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)


# ---------------------------------------------------------------------------- runs to compare
@pytest.fixture()
def sweep_folder(tmp_path: Path) -> tuple[Path, dict]:
    """Two methods: vib_adv at adv_weight 1 and 10 (3 seeds each), mlp (2 seeds), plus unfinished runs."""
    runs = tmp_path / "sweep" / "runs"
    expected = {}
    rng = np.random.default_rng(0)
    for weight, (acc0, leak0) in {1.0: (0.85, 0.80), 10.0: (0.80, 0.62)}.items():
        accs, worst = [], []
        for seed in range(3):
            acc, sex, race = acc0 + rng.normal(0, 0.01), leak0 + rng.normal(0, 0.02), leak0 - 0.05
            make_run(runs, f"vib_adv-w{int(weight)}", "vib_adv", {"adv_weight": weight}, seed, figures(acc, sex, race))
            accs.append(acc)
            worst.append(max(sex, race))
        expected[("vib_adv", weight)] = (np.mean(accs), np.std(accs, ddof=1), np.mean(worst), np.std(worst, ddof=1))
    for seed in range(2):
        make_run(runs, "mlp", "mlp", {}, seed, figures(0.86, 0.93, 0.70 + seed / 100))
    make_run(runs, "mlp-failed", "mlp", {}, 7, {}, state="failed")
    make_run(runs, "vib_adv-running", "vib_adv", {"adv_weight": 3.0}, 0, {}, state="running")
    return tmp_path / "sweep", expected
