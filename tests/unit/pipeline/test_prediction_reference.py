"""The prediction reference of the verdict: a logistic regression's 1-bit release, attacked by the battery."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from privib.pipeline.prediction_reference import prediction_reference

ATTACKERS = [{"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"max_iter": 500}},
             {"name": "hgb", "class_path": "sklearn.ensemble.HistGradientBoostingClassifier", "init_args": {"max_iter": 50}}]


def _datamodule(s_drives_target: bool, seed: int = 0) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in (("train", 3000), ("val", 500), ("test", 2000)):
        x = rng.standard_normal((n, 5)).astype(np.float32)
        s = (x[:, 0] > 0).astype(np.int64) if s_drives_target else rng.integers(0, 2, n)
        logit = (2.0 * x[:, 0] if s_drives_target else 0.0) + x[:, 1] + x[:, 2]
        y = (logit + 0.3 * rng.standard_normal(n) > 0).astype(np.int64)
        x[:, 0] = x[:, 0] if s_drives_target else rng.standard_normal(n)
        splits[split] = SimpleNamespace(x=torch.from_numpy(x), y=torch.from_numpy(y), s=torch.from_numpy(s[:, None]))
    return SimpleNamespace(splits=splits, spec=SimpleNamespace(sensitive=["s"], target_classes=["no", "yes"]))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))


def test_a_prediction_that_carries_s_leaks_it_and_one_that_does_not_reads_as_chance():
    leaky = prediction_reference(_datamodule(True), ATTACKERS, n_boot=20, seed=0)
    fair = prediction_reference(_datamodule(False), ATTACKERS, n_boot=20, seed=0)
    assert leaky["reference/predict/acc"] > 0.9 and fair["reference/predict/acc"] > 0.85
    assert leaky["reference/predict/s/auc_max"] > 0.75
    assert abs(fair["reference/predict/s/auc_max"] - 0.5) < 0.04


def test_the_reference_is_cached_and_identical_the_second_time(tmp_path):
    first = prediction_reference(_datamodule(True), ATTACKERS, n_boot=20, seed=0)
    assert list((tmp_path / "cache").rglob("prediction_reference-*.json"))
    assert prediction_reference(_datamodule(True), ATTACKERS, n_boot=20, seed=0) == first
