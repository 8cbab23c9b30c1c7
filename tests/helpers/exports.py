"""Helpers of the export tests: synthetic records, a fitted preprocessor, tiny encoders and their exports.

No Adult, no Lightning: exports of a plain GaussianMLPEncoder, so these tests run in seconds.
The fixtures built on them (``tiny_export``, ``export_copy``, ``export_log``, ...) are in
tests/unit/conftest.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

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


def make_preprocessor(frame: pd.DataFrame, **policies: Any) -> TabularPreprocessor:
    return TabularPreprocessor(numeric=list(NUMERIC), categorical=list(CATEGORICAL), **policies).fit(frame)


def make_encoder(input_dim: int, deterministic: bool = False, seed: int = 0) -> GaussianMLPEncoder:
    torch.manual_seed(seed)
    encoder = GaussianMLPEncoder(input_dim, z_dim=4, widths=[16, 8], activation="gelu", deterministic=deterministic)
    with torch.no_grad():  # spread the scales so log_var is not flat
        for parameter in encoder.parameters():
            parameter.mul_(2.0)
    return encoder.eval()


def export_tiny(folder: Path, deterministic: bool = False, formats: str | None = None, release: str = "mean",
                bins: int = 0, **kwargs):
    from privib.export.exporters import export_encoder

    frame = make_frame(400)
    preprocessor = make_preprocessor(frame, bins=bins)
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


def cached_export(tmp_path_factory: pytest.TempPathFactory, deterministic: bool) -> tuple:
    """Export each tiny encoder once per session, whichever test module asks first.

    The fixtures ``tiny_export`` and ``tiny_deterministic_export`` (tests/unit/conftest.py) return this.
    """
    if deterministic not in _EXPORTS:
        folder = tmp_path_factory.mktemp("tiny_det" if deterministic else "tiny") / "export"
        result, encoder, preprocessor = export_tiny(folder, deterministic=deterministic)
        _EXPORTS[deterministic] = (result.folder, encoder, preprocessor)
    return _EXPORTS[deterministic]
