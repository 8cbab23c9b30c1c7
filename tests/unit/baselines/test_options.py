"""The ``baseline`` config section: one-line errors for bad values, the settings each kind records, its words."""
from __future__ import annotations

import pytest

from privib.baselines import BaselineOptions, baseline_options
from privib.errors import ConfigError
from privib.models.release import describe_run_release, run_release


@pytest.mark.parametrize("section, match", [
    ({}, "baseline.kind must be one of predict, fair_predict, noise, lfr, raw, got None"),
    ({"kind": "pca"}, "baseline.kind must be one of"),
    ({"kind": "predict", "classifier": "svm"}, "baseline.classifier must be one of lr, gbm"),
    ({"kind": "predict", "output": "logit"}, "baseline.output must be one of bit, score"),
    ({"kind": "fair_predict", "eps": -0.1}, "baseline.eps must be a finite number >= 0"),
    ({"kind": "noise", "sigma": float("nan")}, "baseline.sigma must be a finite number"),
    ({"kind": "noise", "epochs": 0}, "baseline.epochs must be an integer >= 1"),
    ({"kind": "lfr", "n_prototypes": 1}, "baseline.n_prototypes must be an integer >= 2"),
    ({"kind": "lfr", "max_iter": 2.5}, r"baseline.max_iter must be an integer >= 1 \(or null\)"),
    ({"kind": "raw", "width": 3}, r"unknown baseline option\(s\) \['width'\]"),
])
def test_bad_values_are_one_line_config_errors(section, match) -> None:
    with pytest.raises(ConfigError, match=match) as error:
        baseline_options({"baseline": section})
    assert "\n" not in str(error.value)


def test_settings_name_what_shapes_the_release() -> None:
    assert BaselineOptions(kind="predict").settings() == {"kind": "predict", "classifier": "lr", "output": "bit"}
    assert BaselineOptions(kind="fair_predict").settings() == {"kind": "fair_predict", "classifier": "lr", "eps": 0.01, "dp_bound": 0.01,
                                                               "max_iter": 50}
    assert BaselineOptions(kind="lfr").settings()["max_iter"] == 200
    assert BaselineOptions(kind="raw").settings() == {"kind": "raw"}


def test_a_baseline_run_says_what_it_released() -> None:
    config = {"baseline": {"kind": "fair_predict", "eps": 0.05, "classifier": "lr"}, "model": {"release": "sample"}}
    assert run_release(config) == "baseline"
    assert describe_run_release(config).startswith("the 1-bit prediction of fairlearn's ExponentiatedGradient "
                                                   "(logistic regression) under DemographicParity, eps 0.05")
    assert "8-dim code" in describe_run_release({"baseline": {"kind": "noise", "sigma": 1}, "model": {"z_dim": 8}})
    assert run_release({"baseline": {"kind": None}, "model": {"release": "sample"}}) == "sample"
