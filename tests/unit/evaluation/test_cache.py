"""The content-addressed cache of encoder-independent figures."""
from __future__ import annotations

import math

import numpy as np
import pytest

from privib.evaluation import cache


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x_train": rng.normal(size=(50, 3)).astype(np.float32), "y_train": rng.integers(0, 2, 50)}


def test_key_names_content_and_settings():
    settings = {"n_boot": 200, "seed": 0, "attackers": [{"class_path": "a.B", "init_args": {"C": 1.0}}]}
    key = cache.cache_key("raw_reference", _arrays(), settings)
    assert key == cache.cache_key("raw_reference", _arrays(), dict(reversed(settings.items())))
    changed = _arrays()
    changed["x_train"][0, 0] += 1e-6
    assert cache.cache_key("raw_reference", changed, settings) != key
    as_float64 = {**_arrays(), "x_train": _arrays()["x_train"].astype(np.float64)}
    assert cache.cache_key("raw_reference", as_float64, settings) != key
    assert cache.cache_key("raw_reference", _arrays(), {**settings, "seed": 1}) != key
    assert cache.cache_key("other_kind", _arrays(), settings) != key


def test_round_trip_keeps_every_float_exactly():
    figures = {"a/auc": 0.1 + 0.2, "b": float("nan"), "c": 1e-300}
    cache.write_cached("raw_reference", "k1", figures, {"why": "test"})
    back = cache.read_cached("raw_reference", "k1")
    assert back["a/auc"] == figures["a/auc"] and back["c"] == 1e-300 and math.isnan(back["b"])
    assert cache.read_cached("raw_reference", "unknown") is None


def test_unreadable_entry_is_a_miss(tmp_path):
    cache.write_cached("raw_reference", "k2", {"a": 1.0}, {})
    path = next((tmp_path / "cache" / "evaluation").glob("raw_reference-k2.json"))
    path.write_text("{not json")
    assert cache.read_cached("raw_reference", "k2") is None


def test_environment_turns_the_cache_off(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, "0")
    cache.write_cached("raw_reference", "k3", {"a": 1.0}, {})
    assert not (tmp_path / "cache" / "evaluation").exists()
    assert cache.read_cached("raw_reference", "k3") is None
