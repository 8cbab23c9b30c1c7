"""Sweep specs: the YAML file, the command-line flags that override it, and bad specs refused in one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.sweeps import SPEC, write_spec
from privib.errors import ConfigError
from privib.sweep.spec import load_sweep_spec, parse_grid_flag


def test_flags_override_the_spec(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path), methods="vib,cvib", seeds="3", grid=["model.beta=0.5,1e-3"],
                           sets=["trainer.max_epochs=4", "data.sensitive=sex"], workers=3, threads=2, name="other")
    assert spec.methods == {"vib": {"model.beta": [0.5, 0.001]}, "cvib": {}}
    assert spec.seeds == [3] and spec.workers == 3 and spec.threads == 2 and spec.name == "other"
    assert spec.fixed == {"trainer.max_epochs": 4, "data.sensitive": "sex"}
    assert spec.dir == Path("runs/other")
    # A --grid key no method grid has is added to the shared grid (crossed into every method).
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model.lr=[0.001, 0.01]"])
    assert spec.grid == {"model.z_dim": [8], "model.lr": [0.001, 0.01]}
    assert parse_grid_flag("model.encoder_widths=[[64], [128, 128]]") == ("model.encoder_widths", [[64], [128, 128]])


@pytest.mark.parametrize("change, needle", [
    ({"methods": None, "grid": {}}, "empty grid"),
    ({"methods": []}, "empty grid"),
    ({"grid": {"model.z_dim": []}}, "empty list of values"),
    ({"seeds": []}, "no seeds"),
    ({"fixed": {"seed_everything": 3}}, "list seeds under sweep.seeds"),
    ({"grid": {"wandb.group": ["a"]}}, "W&B group"),
    ({"workers": 0}, "at least 1"),
    ({"bogus": 1}, "unknown key(s) ['bogus']"),
    ({"config": "nope.yaml"}, "nope.yaml"),
])
def test_bad_specs_raise_config_errors(tmp_path, change, needle):
    spec = json.loads(json.dumps(SPEC))
    spec["sweep"].update(change)
    with pytest.raises(ConfigError) as error:
        load_sweep_spec(write_spec(tmp_path, spec))
    assert needle in str(error.value)


def test_missing_sweep_section_and_file(tmp_path):
    with pytest.raises(ConfigError, match="no 'sweep' section"):
        load_sweep_spec(write_spec(tmp_path, {"stages": ["fit"]}))
    with pytest.raises(ConfigError, match="not found"):
        load_sweep_spec(tmp_path / "absent.yaml")
