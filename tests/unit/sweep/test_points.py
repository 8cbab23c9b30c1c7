"""Sweep points: grid expansion, stable point ids, the child `privib run` arguments, key checks and validation."""
from __future__ import annotations

import json

import pytest

from helpers.sweeps import write_spec
from privib.errors import ConfigError
from privib.sweep.local import THREAD_ENV, child_env
from privib.sweep.points import check_keys, child_argv, expand_points, point_id, validate_points
from privib.sweep.spec import load_sweep_spec


def test_expansion_is_seed_major_with_per_method_grids(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path), directory=str(tmp_path / "out"))
    points = expand_points(spec)
    assert len(points) == (1 + 2 + 2) * 2
    assert [p.seed for p in points] == [0] * 5 + [1] * 5
    first = [(p.method, p.params_dict()) for p in points[:5]]
    assert first[0] == ("mlp", {"model.z_dim": 8})
    assert ("vib_adv", {"model.z_dim": 8, "model.beta": 0.01, "model.adv_weight": 10}) in first
    assert spec.pipeline == str(tmp_path / "spec.yaml")  # the spec lists stages: runs use it as their pipeline
    assert len({p.id for p in points}) == len(points) and all(p.run_name == f"{p.method}-{p.id}" for p in points)


def test_point_ids_are_stable_and_depend_on_every_override():
    base = point_id("vib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 5}, "configs/adult.yaml")
    assert base == point_id("vib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 5}, "configs/adult.yaml")
    assert point_id("vib", {"model.beta": 1}, 0, {}, "c") == point_id("vib", {"model.beta": 1.0}, 0, {}, "c")
    others = [point_id("vib", {"model.beta": 0.1}, 0, {"trainer.max_epochs": 5}, "configs/adult.yaml"),
              point_id("vib", {"model.beta": 0.01}, 1, {"trainer.max_epochs": 5}, "configs/adult.yaml"),
              point_id("cvib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 5}, "configs/adult.yaml"),
              point_id("vib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 6}, "configs/adult.yaml"),
              point_id("vib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 5}, "configs/other.yaml")]
    assert len({base, *others}) == 6 and len(base) == 10


def test_child_arguments_carry_method_seed_group_and_one_thread(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path))
    point = [p for p in expand_points(spec) if p.method == "vib_adv"][-1]
    argv = child_argv(spec, point, tmp_path / "runs")
    pairs = dict(zip(argv[::2], argv[1::2]))
    assert pairs["--method"] == "vib_adv" and pairs["--seed_everything"] == "1" and pairs["--wandb.group"] == "unit"
    assert pairs["--model.adv_weight"] == "10" and pairs["--model.beta"] == "0.01" and pairs["--threads"] == "1"
    assert pairs["--name"] == point.run_name and pairs["--runs_dir"] == str(tmp_path / "runs")
    assert json.loads(pairs["--wandb.tags"]) == ["unit", "vib_adv"]
    env = child_env(1)
    assert all(env[k] == "1" for k in THREAD_ENV)


def test_grid_keys_are_checked_against_config_keys(tmp_path):
    keys = {"model.beta", "model.adv_weight", "model.z_dim", "trainer.max_epochs", "data.sensitive"}
    spec = load_sweep_spec(write_spec(tmp_path))
    check_keys(spec, keys)
    spec.methods["vib"]["model.bta"] = [0.1]
    with pytest.raises(ConfigError, match=r"sweep.methods.vib: 'model.bta' is not a config key .*did you mean model.beta"):
        check_keys(spec, keys)
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model=1"])
    with pytest.raises(ConfigError, match="it is a section"):
        check_keys(spec, keys)


def test_validation_with_the_real_run_parser(tmp_path):
    from privib.pipeline.config import build_run_parser

    parser = build_run_parser()
    spec = load_sweep_spec(write_spec(tmp_path), grid=["trainer.max_epochs=many"])
    with pytest.raises(ConfigError, match="max_epochs"):
        validate_points(spec, expand_points(spec), tmp_path / "runs", parser)
    spec = load_sweep_spec(write_spec(tmp_path), sets=["trainer.max_epoch=3"])
    with pytest.raises(ConfigError, match="did you mean trainer.max_epochs"):
        validate_points(spec, expand_points(spec), tmp_path / "runs", parser)
    spec = load_sweep_spec(write_spec(tmp_path), methods="vib,nosuch")
    with pytest.raises(ConfigError, match="unknown method 'nosuch': use one of adv, cells, cvib, .*mlp, .*vib, vib_adv"):
        validate_points(spec, expand_points(spec), tmp_path / "runs", parser)
    spec = load_sweep_spec(write_spec(tmp_path))
    config = validate_points(spec, expand_points(spec), tmp_path / "runs", parser)
    assert config["method"] == "mlp" and config["model"]["deterministic"] is True and config["wandb"]["group"] == "unit"
