"""The W&B backend of privib sweep: one W&B grid sweep config per method (or per shared grid)."""
from __future__ import annotations

from helpers.sweeps import SPEC, write_spec
from privib.sweep.spec import load_sweep_spec
from privib.sweep.wandb import wandb_sweep_configs


def test_wandb_sweep_configs_one_grid_per_method(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path))
    configs = wandb_sweep_configs(spec)
    assert set(configs) == {"mlp", "vib", "vib_adv"}
    vib_adv = configs["vib_adv"]
    assert vib_adv["method"] == "grid" and vib_adv["name"] == "unit-vib_adv"
    assert vib_adv["parameters"] == {"method": {"values": ["vib_adv"]}, "model.z_dim": {"values": [8]},
                                     "model.beta": {"values": [0.01]}, "model.adv_weight": {"values": [1, 10]},
                                     "seed_everything": {"values": [0, 1]}}
    command = vib_adv["command"]
    assert command[:3] == ["${env}", "privib", "run"] and command[-1] == "${args}"
    assert command[command.index("--wandb.group") + 1] == "unit"
    assert command[command.index("--trainer.max_epochs") + 1] == "1"
    # Methods sharing a grid share one W&B sweep.
    shared = load_sweep_spec(write_spec(tmp_path, {**SPEC, "sweep": {**SPEC["sweep"], "methods": ["vib", "cvib"]}}))
    assert list(wandb_sweep_configs(shared)) == ["vib-cvib"]
