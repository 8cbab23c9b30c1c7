"""The methods a sweep compares: --method presets (configs/methods/), layered into the run config."""
from __future__ import annotations

import pytest
import yaml

from privib.errors import ConfigError
from privib.paths import CHECKOUT_ROOT
from privib.pipeline.config import apply_method_preset, list_methods, method_preset_path, parse_run_config

METHODS = ("adv", "cells", "cvib", "fcrl", "laftr", "mlp", "vib", "vib_adv", "vib_mix", "vib_recon")
BASELINES = ("fair_predict", "lfr", "noise", "predict", "raw")  # release baselines: no encoder (pipelines/baseline.yaml)


def test_every_method_has_a_preset_that_names_itself():
    assert list_methods() == sorted(METHODS + BASELINES)
    for name in BASELINES:
        preset = yaml.safe_load((CHECKOUT_ROOT / "configs" / "methods" / f"{name}.yaml").read_text())
        assert preset["method"] == preset["baseline"]["kind"] == name
        assert preset["pipeline"] == "pipelines/baseline.yaml"
    for method in METHODS:
        preset = yaml.safe_load((CHECKOUT_ROOT / "configs" / "methods" / f"{method}.yaml").read_text())
        assert preset["method"] == method
        assert {"deterministic", "beta", "adv_weight", "recon_weight"} <= set(preset["model"])


def test_preset_is_layered_after_configs_and_before_flags():
    argv = ["--config", "base.yaml", "--model.beta", "0.5", "--method", "vib", "--config=more.yaml", "--name", "x"]
    out = apply_method_preset(argv)
    preset = str(method_preset_path("vib"))
    assert out == ["--config", "base.yaml", "--config=more.yaml", "--config", preset, "--model.beta", "0.5",
                   "--method", "vib", "--name", "x"]
    assert apply_method_preset(["--method=adv"])[:2] == ["--config", str(method_preset_path("adv"))]
    assert method_preset_path("adv").resolve() == CHECKOUT_ROOT / "configs" / "methods" / "adv.yaml"
    assert apply_method_preset(["--model.beta", "1"]) == ["--model.beta", "1"]


@pytest.mark.parametrize("argv, needle", [
    (["--method", "nosuch"], "unknown method 'nosuch': use one of adv, cells, cvib, fair_predict, fcrl, laftr, lfr, mlp, noise, predict, raw, "
                           "vib, vib_adv"),
    (["--method", "../adult"], "unknown method '../adult'"),
    (["--method"], "--method needs a name"),
    (["--method", "vib", "--method", "adv"], "more than once"),
])
def test_bad_method_flags(argv, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        apply_method_preset(argv)


def test_presets_resolve_to_the_documented_settings():
    expected = {
        "mlp": (True, 0.0, 0.0, 0.0), "adv": (True, 0.0, 1.0, 0.0), "vib": (False, 0.01, 0.0, 0.0),
        "vib_adv": (False, 0.05, 2.0, 0.0), "cvib": (False, 0.001, 0.0, 1.0),
        "fcrl": (False, 0.5, 0.0, 0.0), "laftr": (True, 0.0, 1.0, 0.1), "vib_recon": (False, 0.05, 16.0, 0.1),
        "vib_mix": (False, 0.01, 0.0, 0.0),
    }
    for method, (deterministic, beta, adv_weight, recon_weight) in expected.items():
        _, config = parse_run_config(["--method", method])
        model = config["model"]
        assert config["method"] == method
        assert (model["deterministic"], model["beta"], model["adv_weight"], model["recon_weight"]) == (
            deterministic, beta, adv_weight, recon_weight), method
    _, config = parse_run_config(["--method", "vib_recon"])  # the reconstruction alone, beside the adversaries
    assert config["model"]["pairwise_kl"] is False and config["model"]["adv_steps"] == 5
    _, config = parse_run_config(["--method", "vib_mix"])  # the encoder holder's penalty instead of the adversaries'
    assert (config["model"]["dep_penalty"], config["model"]["dep_weight"], config["model"]["release"]) == ("mixture", 100.0, "sample")
    _, config = parse_run_config(["--method", "cvib"])
    assert config["model"]["pairwise_kl"] is True
    _, config = parse_run_config(["--method", "vib_adv"])  # privib's method is the shipped default
    _, default = parse_run_config([])
    assert {k: config["model"][k] for k in ("release", "adv_steps", "beta", "adv_weight", "z_dim")} == {
        k: default["model"][k] for k in ("release", "adv_steps", "beta", "adv_weight", "z_dim")}
    assert config["model"]["release"] == "sample" and config["model"]["adv_steps"] == 3
    _, config = parse_run_config(["--model.adv_weight", "7", "--method", "adv"])  # the user's flags win
    assert config["model"]["adv_weight"] == 7.0 and config["model"]["deterministic"] is True
