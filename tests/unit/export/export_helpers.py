"""Helpers and fixtures of the export unit tests: synthetic records, a fitted preprocessor, tiny encoders.

No Adult, no Lightning: exports of a plain GaussianMLPEncoder, so these tests run in seconds.
There is deliberately no conftest.py here: a second ``conftest`` module would shadow
tests/conftest.py for ``from conftest import ...`` in other folders. Test modules import
the fixtures they use from this module.
"""
from __future__ import annotations

import shutil
from pathlib import Path


import numpy as np
import pandas as pd
import pytest
import torch

from privib.data.preprocessing import TabularPreprocessor
from privib.models.networks import GaussianMLPEncoder

NUMERIC = ["age", "hours"]
CATEGORICAL = ["color", "city"]


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": np.arange(n),
        "age": rng.integers(18, 90, n).astype(np.int64),
        "hours": rng.normal(40, 10, n).round(1),
        "color": rng.choice(["red", "green", "blue"], n),
        "city": rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], n),
        "label": rng.integers(0, 2, n),
        "sex": rng.choice(["F", "M"], n),
    })


def make_preprocessor(frame: pd.DataFrame, **policies: str) -> TabularPreprocessor:
    return TabularPreprocessor(numeric=list(NUMERIC), categorical=list(CATEGORICAL), **policies).fit(frame)


def make_encoder(input_dim: int, deterministic: bool = False, seed: int = 0) -> GaussianMLPEncoder:
    torch.manual_seed(seed)
    encoder = GaussianMLPEncoder(input_dim, z_dim=4, widths=[16, 8], activation="gelu", deterministic=deterministic)
    with torch.no_grad():  # spread the scales so log_var is not flat
        for parameter in encoder.parameters():
            parameter.mul_(2.0)
    return encoder.eval()


def export_tiny(folder: Path, deterministic: bool = False, formats: str | None = None, release: str = "mean", **kwargs):
    from privib.export.exporters import export_encoder

    frame = make_frame(400)
    preprocessor = make_preprocessor(frame)
    encoder = make_encoder(preprocessor.n_features, deterministic)
    result = export_encoder(
        encoder, preprocessor, folder, formats=formats, dataset="synthetic", target="label", sensitive=["sex"],
        train_rows=len(frame), run_name="tiny-run", config={"data": {"name": "synthetic"}, "model": {"z_dim": 4, "release": release}},
        metrics={"task/test/acc": 0.75}, **kwargs,
    )
    return result, encoder, preprocessor


def unique_messages(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    """Messages containing ``needle``, each record once (it may reach caplog's handler twice)."""
    return list({id(r): r.getMessage() for r in caplog.records if needle in r.getMessage()}.values())


_EXPORTS: dict[bool, tuple] = {}


def _cached_export(tmp_path_factory: pytest.TempPathFactory, deterministic: bool) -> tuple:
    """Export each tiny encoder once per session, whichever test module asks first."""
    if deterministic not in _EXPORTS:
        folder = tmp_path_factory.mktemp("tiny_det" if deterministic else "tiny") / "export"
        result, encoder, preprocessor = export_tiny(folder, deterministic=deterministic)
        _EXPORTS[deterministic] = (result.folder, encoder, preprocessor)
    return _EXPORTS[deterministic]


@pytest.fixture()
def tiny_export(tmp_path_factory: pytest.TempPathFactory):
    """(export folder, the torch encoder, its preprocessor) of a stochastic encoder, all formats. Read-only."""
    return _cached_export(tmp_path_factory, False)


@pytest.fixture()
def tiny_deterministic_export(tmp_path_factory: pytest.TempPathFactory):
    """The same for a deterministic encoder (scale 0). Read-only."""
    return _cached_export(tmp_path_factory, True)


@pytest.fixture()
def export_copy(tiny_export, tmp_path: Path) -> Path:
    """A private copy of the tiny export that a test may damage."""
    target = tmp_path / "export"
    shutil.copytree(tiny_export[0], target)
    return target


@pytest.fixture()
def export_log(caplog: pytest.LogCaptureFixture):
    """caplog attached to the ``privib.export`` logger itself (privib.cli may stop propagation to the root)."""
    import logging

    logger = logging.getLogger("privib.export")
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    caplog.handler.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def restore_privib_logging():
    """privib.cli.main configures the ``privib`` logger with a handler bound to the current stderr
    (a capsys buffer in tests); undo that after each test so later tests do not log to a closed stream."""
    import logging

    logger = logging.getLogger("privib")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
