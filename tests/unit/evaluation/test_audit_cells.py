"""The audit of a cell release: the certificate is written, never below the attackers, and nothing else is attacked."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from privib.data.datamodule import DataSpec, Split
from privib.evaluation.audit import audit
from privib.evaluation.certificate import independent_floor
from privib.evaluation.options import EvaluationOptions
from privib.models.checkpoint import TrainedModel
from privib.models.vib import build_vib_model

ROWS = {"train": 3000, "val": 500, "test": 2500}


def _datamodule(planted: bool) -> SimpleNamespace:
    """x: 6 features; y = [x0 > 0]; s = [x1 > 0] (planted) or a fair coin (independent)."""
    generator = torch.Generator().manual_seed(0)
    splits = {}
    for name, n in ROWS.items():
        x = torch.randn(n, 6, generator=generator)
        s = (x[:, 1] > 0).long() if planted else torch.randint(0, 2, (n,), generator=generator)
        splits[name] = Split(x, (x[:, 0] > 0).long(), s[:, None])
    spec = DataSpec(input_dim=6, feature_names=[f"f{i}" for i in range(6)], target="y", target_classes=["0", "1"],
                    target_prior=[0.5, 0.5], sensitive=["s"], sensitive_classes={"s": ["a", "b"]},
                    sensitive_priors={"s": [0.5, 0.5]})
    return SimpleNamespace(spec=spec, splits=splits, transfer_tasks=[])


def _trained(n_cells: int, planted: bool) -> TrainedModel:
    """An untrained cell encoder whose cells follow x0 and x1 (planted) or x0 alone."""
    hparams = {"data_spec": {"input_dim": 6, "target_classes": ["0", "1"], "sensitive": ["s"],
                             "sensitive_classes": {"s": ["a", "b"]}},
               "release": "cells", "n_cells": n_cells, "encoder_widths": [], "deterministic": True, "eval_samples": 0}
    model = build_vib_model(hparams["data_spec"], **{k: v for k, v in hparams.items() if k != "data_spec"})
    with torch.no_grad():
        layer = model.encoder.body[0]
        layer.weight.zero_()
        layer.bias.zero_()
        layer.weight[0, 0], layer.weight[1, 0] = 3.0, -3.0
        if planted:
            layer.weight[n_cells - 1, 1] = 4.0
    return TrainedModel(model=model.eval(), hparams=hparams)


def _options() -> EvaluationOptions:
    return EvaluationOptions(robustness={}, raw_reference=False, downstream=None, n_boot=20)


@pytest.mark.parametrize("n_cells", [2, 3])
def test_a_planted_cell_code_is_certified_above_every_attacker(n_cells: int):
    out = audit(_trained(n_cells, planted=True), _datamodule(planted=True), _options(), seed=0, head_seed=0)
    assert out["leakage/s/auc_max"] > 0.6  # the code does leak
    for key in [k for k in out if k.startswith("leakage/s/") and k.endswith("/auc")] + ["leakage/s/auc_max_hi"]:
        assert out[key] <= out["leakage/s/certified_auc_ub"], key
    assert out["fairness/s/dp_gap"] <= out["fairness/s/certified_dp_ub"]
    assert out["leakage/s/empirical_tv"] <= out["leakage/s/certified_tv_ub"]
    assert [out[f"leakage/s/certified_rows/{p}"] for p in ("prior", "cells", "mean")] == [3000, 2000, 500]
    assert not [k for k in out if k.startswith(("leakage/s/mean/", "leakage/s/sample/"))]  # one code, one audit


def test_an_independent_cell_code_is_certified_at_the_floor():
    out = audit(_trained(2, planted=False), _datamodule(planted=False), _options(), seed=0, head_seed=0)
    floor = independent_floor(3000, 2000, 500, n_cells=2, p_zero=0.5).tv_ub
    assert out["leakage/s/auc_max"] < 0.55 and out["leakage/s/certified_tv_ub"] == pytest.approx(floor, abs=0.05)
    assert out["leakage/s/certified_auc_ub"] == pytest.approx(0.5 + out["leakage/s/certified_tv_ub"] / 2)
    assert out["task/probe/acc_max"] > 0.9  # the cells follow the target (the head is untrained)


def test_no_certificate_when_turned_off_or_for_a_gaussian_release():
    options = _options()
    options.certificate = False
    out = audit(_trained(2, planted=True), _datamodule(planted=True), options, seed=0, head_seed=0)
    assert not [k for k in out if "certified" in k]
    gaussian = build_vib_model(_trained(2, True).hparams["data_spec"], z_dim=2, encoder_widths=[8])
    out = audit(TrainedModel(gaussian.eval(), {"release": "mean", "eval_samples": 0}), _datamodule(planted=True),
                _options(), seed=0, head_seed=0)
    assert not [k for k in out if "certified" in k] and np.isfinite(out["leakage/s/auc_max"])
