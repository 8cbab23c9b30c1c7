"""The synthetic dataset: known dependence between s, the inputs and y; registered; bad options refused."""
from __future__ import annotations

import numpy as np
import pytest

from privib.data.registry import get_dataset
from privib.data.synthetic import load_synthetic
from privib.errors import ConfigError


def test_registered_and_deterministic() -> None:
    entry = get_dataset("synthetic")
    assert entry.sensitive_choices == ("s",)
    a = entry.loader(root=None, sensitive=["s"], n_train=300, n_test=200, seed=3)
    b = load_synthetic(n_train=300, n_test=200, seed=3)
    assert a.train.equals(b.train) and a.test.equals(b.test)
    assert len(a.train) == 300 and len(a.test) == 200
    assert a.target == "y" and a.sensitive == ["s"] and a.positive_label == "1"
    assert a.numeric == [f"x{i}" for i in range(6)] and a.categorical == ["c0", "c1"]
    assert not a.train.equals(load_synthetic(n_train=300, n_test=200, seed=4).train)


@pytest.mark.parametrize("leakage", ["none", "linear", "xor"])
def test_the_attribute_follows_its_rule(leakage: str) -> None:
    table = load_synthetic(n_train=4000, n_test=500, leakage=leakage, seed=1)
    frame = table.train
    s = frame["s"].astype(int).to_numpy()
    x0, x1 = frame["x0"].to_numpy() > 0, frame["x1"].to_numpy() > 0
    if leakage == "linear":
        assert np.array_equal(s, x0.astype(int))
    elif leakage == "xor":
        assert np.array_equal(s, (x0 ^ x1).astype(int))
        # marginally, s is independent of each single input: what makes it invisible to a linear attacker
        assert abs(np.corrcoef(s, frame["x0"])[0, 1]) < 0.05 and abs(np.corrcoef(s, frame["x1"])[0, 1]) < 0.05
    else:
        assert abs(s.mean() - 0.5) < 0.03
        for column in ("x0", "x1", "x2"):
            assert abs(np.corrcoef(s, frame[column])[0, 1]) < 0.05
        assert abs(np.corrcoef(s, frame["y"].astype(int))[0, 1]) < 0.05


def test_flip_rate_and_target_dependence() -> None:
    table = load_synthetic(n_train=20000, n_test=100, leakage="linear", flip=0.2, seed=0)
    agree = (table.train["s"].astype(int) == (table.train["x0"] > 0)).mean()
    assert abs(agree - 0.8) < 0.02
    y = table.train["y"].astype(int)
    assert 0.3 < y.mean() < 0.7
    dependent = load_synthetic(n_train=20000, n_test=100, target_on_s=2.0, seed=0).train
    assert np.corrcoef(dependent["s"].astype(int), dependent["y"].astype(int))[0, 1] > 0.3


@pytest.mark.parametrize(
    "options, message",
    [
        ({"leakage": "quadratic"}, "leakage must be one of"),
        ({"flip": 0.7}, "flip"),
        ({"n_numeric": 2}, "n_numeric"),
        ({"n_train": 10}, "at least 50"),
        ({"s_rate": 1.0}, "s_rate"),
        ({"sensitive": ["sex"]}, "one sensitive attribute 's'"),
    ],
)
def test_bad_options_are_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_synthetic(**options)


def test_datamodule_keeps_s_out_of_the_inputs() -> None:
    from privib.data.datamodule import PrivibDataModule

    dm = PrivibDataModule(name="synthetic", sensitive="s", options={"n_train": 500, "n_test": 200})
    dm.setup()
    assert not any(name.startswith("s") for name in dm.spec.feature_names)
    assert dm.spec.sensitive == ["s"] and dm.spec.target_classes == ["0", "1"]
    assert len(dm.splits["test"]) == 200 and len(dm.splits["train"]) + len(dm.splits["val"]) == 500
    with pytest.raises(ConfigError, match="do not fit dataset synthetic"):
        PrivibDataModule(name="synthetic", sensitive="s", options={"bogus": 1}).setup()
