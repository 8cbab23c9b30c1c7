"""Transfer tasks and the downstream protocol on the audit's pool: a planted signal is found, none reads as the
base rate, the raw-input reference has its own keys and comes from the cache the second time."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from privib.data.datamodule import Split
from privib.data.transfer import TransferTask
from privib.evaluation.attackers import FitPool
from privib.evaluation.audit import Timer
from privib.evaluation.options import EvaluationOptions
from privib.evaluation.protocols import protocol_figures, raw_names

LIGHT = [{"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"max_iter": 300},
          "standardize": True},
         {"name": "hgb", "class_path": "sklearn.ensemble.HistGradientBoostingClassifier", "init_args": {"max_iter": 30}}]
SMALL_MLP = {"name": "mlp_50", "class_path": "sklearn.neural_network.MLPClassifier",
             "init_args": {"hidden_layer_sizes": [50], "max_iter": 200, "tol": 0.01}, "standardize": True}


def _split(rng: np.random.Generator, n: int) -> tuple[Split, np.ndarray]:
    """Codes z carry the planted task (column 0) and the main task (column 1); raw inputs x carry neither."""
    planted = (rng.random(n) < 0.3).astype(np.int64)
    noise = (rng.random(n) < 0.4).astype(np.int64)
    y = (rng.random(n) < 0.5).astype(np.int64)
    z = np.column_stack([planted + 0.1 * rng.standard_normal(n), y + 0.1 * rng.standard_normal(n),
                         rng.standard_normal((n, 2))]).astype(np.float32)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    s = rng.integers(0, 3, n)[:, None]
    t = np.column_stack([planted, noise])
    t[:25, 1] = -1  # missing labels are left out of the task
    return Split(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(s), torch.from_numpy(t)), z


@pytest.fixture()
def case(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    (train, z_train), (test, z_test) = _split(rng, 1500), _split(rng, 800)
    datamodule = SimpleNamespace(
        splits={"train": train, "test": test}, spec=SimpleNamespace(sensitive=["g"]),
        transfer_tasks=[TransferTask("planted", "planted", ">", "0", ["no", "yes"]),
                        TransferTask("noise", "noise", ">", "0", ["no", "yes"])])
    options = EvaluationOptions(probes=LIGHT, downstream=SMALL_MLP, downstream_seeds=2)
    return datamodule, (z_train, z_test), options


def _figures(case):
    datamodule, codes, options = case
    timer = Timer()
    return protocol_figures(FitPool(1), datamodule, codes, options, 0, (), timer), timer


def test_a_planted_signal_is_found_and_no_signal_reads_as_the_base_rate(case):
    out, timer = _figures(case)
    test = case[0].splits["test"]
    planted_base = max(np.mean(test.t[:, 0].numpy() == v) for v in (0, 1))
    assert out["transfer/planted/base"] == pytest.approx(planted_base) and planted_base > 0.6
    assert out["transfer/planted/acc"] > 0.97 and out["transfer/planted/logreg/acc"] > 0.97
    assert abs(out["transfer/planted/raw_acc"] - planted_base) < 0.03  # the raw inputs never carried it
    labelled = test.t[:, 1].numpy() >= 0
    assert out["transfer/noise/base"] == pytest.approx(np.mean(test.t[labelled, 1].numpy() == 0))
    assert abs(out["transfer/noise/acc"] - out["transfer/noise/base"]) < 0.03
    assert out["transfer/planted/dp_gap"] < 0.1 and "transfer/planted/dp_gap/g" not in out  # one attribute
    assert out["transfer/mean/acc"] == pytest.approx((out["transfer/planted/acc"] + out["transfer/noise/acc"]) / 2)
    assert out["downstream/acc"] > 0.97 and abs(out["downstream/raw_acc"] - 0.5) < 0.05
    assert 0 <= out["downstream/g/dp_gap"] < 0.1 and 0 <= out["downstream/g/eo_gap"] < 0.1
    assert {"transfer/planted/raw/hgb/acc", "transfer/mean/raw_acc", "downstream/g/raw_dp_gap", "downstream/raw_acc_std"} <= set(out)
    assert "transfer/planted/raw_base" not in out and out["time/evaluate/raw_protocols_cache_hit"] == 0.0
    assert {"transfer", "downstream", "raw_reference"} <= set(timer.parts)


def test_the_raw_reference_is_read_from_the_cache_the_second_time(case):
    first, _ = _figures(case)
    again, timer = _figures(case)
    assert again["time/evaluate/raw_protocols_cache_hit"] == 1.0 and "raw_reference" not in timer.parts
    assert {k: v for k, v in again.items() if not k.startswith("time/")} == {
        k: v for k, v in first.items() if not k.startswith("time/")}


def test_nothing_to_do_without_tasks_or_protocol(case):
    datamodule, codes, options = case
    datamodule.transfer_tasks = []
    options.downstream = None
    assert protocol_figures(FitPool(1), datamodule, codes, options, 0, (), Timer()) == {}
    datamodule.splits["train"].t = None
    options.downstream, options.raw_reference = SMALL_MLP, False
    out = protocol_figures(FitPool(1), datamodule, codes, options, 0, (), Timer())
    assert set(out) == {"downstream/acc", "downstream/acc_std", "downstream/g/dp_gap", "downstream/g/dp_gap_std",
                        "downstream/g/eo_gap"}


def test_raw_keys():
    assert raw_names("transfer/t", {"logreg/acc": 1, "acc": 2, "base": 3, "dp_gap": 4, "dp_gap/sex": 5}) == {
        "transfer/t/raw/logreg/acc": 1, "transfer/t/raw_acc": 2, "transfer/t/raw_dp_gap": 4, "transfer/t/raw_dp_gap/sex": 5}
    assert raw_names("transfer/mean", {"acc": 1, "base": 2, "dp_gap": 3}) == {
        "transfer/mean/raw_acc": 1, "transfer/mean/raw_dp_gap": 3}
    assert raw_names("downstream", {"acc": 1, "acc_std": 2, "age/dp_gap": 3, "age/eo_gap": 4}) == {
        "downstream/raw_acc": 1, "downstream/raw_acc_std": 2, "downstream/age/raw_dp_gap": 3, "downstream/age/raw_eo_gap": 4}
