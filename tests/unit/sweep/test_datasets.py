"""A benchmark's sweep spec: data sets, per-data-set grids, a method's own pipeline; its points, arguments and W&B configs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers.sweeps import write_spec
from privib.errors import ConfigError
from privib.sweep.points import child_argv, expand_points, point_id
from privib.sweep.spec import load_sweep_spec
from privib.sweep.wandb import wandb_sweep_configs


def _bench(tmp_path: Path) -> dict:
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"data": {"name": "synthetic"}}))
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"data": {"name": "synthetic", "options": {"leakage": "xor"}}}))
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump({"stages": ["evaluate"]}))
    return {
        "stages": ["fit", "test"],
        "sweep": {
            "name": "bench", "seeds": [0, 1],
            "fixed": {"trainer.max_epochs": 2, "model.z_dim": 4},
            "datasets": {
                "lin": {"config": str(base), "fixed": {"data.sensitive": "s"}},
                "xor": {"config": str(other), "fixed": {"model.z_dim": 8},
                        "methods": {"vib": {"model.beta": [0.5]}}},
            },
            "methods": {"vib": {"model.beta": [0.01, 0.1]},
                        "mlp": {"pipeline": str(tmp_path / "baseline.yaml"), "model.z_dim": [2]}},
        },
    }


def test_datasets_parts_and_points(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path, _bench(tmp_path)))
    assert list(spec.datasets) == ["lin", "xor"] and spec.pipelines == {"mlp": str(tmp_path / "baseline.yaml")}
    assert spec.methods == {"mlp": {"model.z_dim": [2]}, "vib": {"model.beta": [0.01, 0.1]}}  # pipeline is no grid key
    lin, xor = spec.parts()
    assert lin.fixed == {"trainer.max_epochs": 2, "model.z_dim": 4, "data.sensitive": "s"}
    assert xor.fixed == {"trainer.max_epochs": 2, "model.z_dim": 8}  # the data set's own fixed win
    assert xor.methods == {"mlp": {"model.z_dim": [2]}, "vib": {"model.beta": [0.5]}}
    points = expand_points(spec)
    # seeds x (lin: 2 vib + 1 mlp, xor: 1 vib + 1 mlp), seed-major, data set by data set
    assert len(points) == 2 * (3 + 2)
    assert [(p.dataset, p.method, p.seed) for p in points[:5]] == [  # the spec's order (write_spec sorts keys)
        ("lin", "mlp", 0), ("lin", "vib", 0), ("lin", "vib", 0), ("xor", "mlp", 0), ("xor", "vib", 0)]
    assert points[1].run_name == f"lin-vib-{points[1].id}" and points[1].describe() == "lin vib beta=0.01 seed=0"
    assert len({p.id for p in points}) == len(points)
    # A plain sweep's ids are as before: no data set and no pipeline in the identity.
    assert point_id("vib", {"model.beta": 0.1}, 0, {}, "c.yaml") != point_id("vib", {"model.beta": 0.1}, 0, {}, "c.yaml", "lin")


def test_child_arguments_of_a_benchmark_point(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path, _bench(tmp_path)))
    points = expand_points(spec)
    xor_vib = next(p for p in points if p.dataset == "xor" and p.method == "vib")
    argv = child_argv(spec, xor_vib, tmp_path / "runs")
    assert argv[argv.index("--config") + 1] == str(tmp_path / "other.yaml")
    assert argv[argv.index("--pipeline") + 1] == str(tmp_path / "spec.yaml")
    assert json.loads(argv[argv.index("--wandb.tags") + 1]) == ["bench", "vib", "dataset:xor"]
    assert argv[argv.index("--model.z_dim") + 1] == "8" and argv[argv.index("--model.beta") + 1] == "0.5"
    assert argv[argv.index("--name") + 1] == f"xor-vib-{xor_vib.id}"
    mlp = next(p for p in points if p.dataset == "lin" and p.method == "mlp")
    argv = child_argv(spec, mlp, tmp_path / "runs")
    assert argv[argv.index("--pipeline") + 1] == str(tmp_path / "baseline.yaml")  # the method's own pipeline
    assert argv[argv.index("--data.sensitive") + 1] == "s"


def test_flags_pick_data_sets_and_reach_their_grids(tmp_path):
    path = write_spec(tmp_path, _bench(tmp_path))
    spec = load_sweep_spec(path, datasets="xor", grid=["model.beta=0.2,0.3"], sets=["model.z_dim=16"])
    assert list(spec.datasets) == ["xor"]
    (xor,) = spec.parts()
    assert xor.methods["vib"] == {"model.beta": [0.2, 0.3]} and xor.fixed["model.z_dim"] == 16  # --set wins everywhere
    spec = load_sweep_spec(path, methods="vib")
    assert {p.method for p in expand_points(spec)} == {"vib"} and spec.pipelines == {}


def test_wandb_configs_one_per_data_set_and_pipeline(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path, _bench(tmp_path)))
    configs = wandb_sweep_configs(spec)
    assert set(configs) == {"lin-vib", "lin-mlp", "xor-vib", "xor-mlp"}
    command = configs["xor-vib"]["command"]
    assert command[command.index("--config") + 1] == str(tmp_path / "other.yaml")
    assert json.loads(command[command.index("--wandb.tags") + 1]) == ["bench", "dataset:xor"]
    assert configs["xor-vib"]["parameters"]["model.beta"] == {"values": [0.5]}
    mlp = configs["lin-mlp"]["command"]
    assert mlp[mlp.index("--pipeline") + 1] == str(tmp_path / "baseline.yaml")


@pytest.mark.parametrize("change, needle", [
    ({"datasets": {"lin": {"fixed": {}}}}, "sweep.datasets.lin must give its base config"),
    ({"datasets": {"lin": {"config": "configs/adult.yaml", "bogus": 1}}}, "unknown key(s) ['bogus']"),
    ({"datasets": {"lin": {"config": "configs/adult.yaml", "methods": {"cvib": {"model.beta": [1]}}}}},
     "['cvib'] not in sweep.methods"),
    ({"datasets": {"bad name": {"config": "configs/adult.yaml"}}}, "data set name must start"),
    ({"datasets": {"lin": {"config": "absent.yaml"}}}, "base config absent.yaml of the data set lin not found"),
    ({"datasets": {"lin": {"config": "configs/adult.yaml", "fixed": {"method": "vib"}}}}, "list methods under sweep.methods"),
    ({"datasets": []}, "sweep.datasets must map data set names"),
    ({"methods": {"vib": {"pipeline": ["a.yaml", "b.yaml"]}}}, "a method's pipeline is not a grid"),
])
def test_bad_benchmark_specs_raise_one_line(tmp_path, change, needle):
    spec = _bench(tmp_path)
    spec["sweep"].update(change)
    with pytest.raises(ConfigError) as error:
        load_sweep_spec(write_spec(tmp_path, spec))
    assert needle in str(error.value) and "\n" not in str(error.value)


def test_bad_flags_of_a_benchmark(tmp_path):
    path = write_spec(tmp_path, _bench(tmp_path))
    with pytest.raises(ConfigError, match="name data sets of the spec \\(lin, xor\\)"):
        load_sweep_spec(path, datasets="health")
    with pytest.raises(ConfigError, match="--config cannot replace the configs of sweep.datasets"):
        load_sweep_spec(path, config="configs/adult.yaml")


def test_shipped_benchmark_specs_parse():
    for name, seeds, points in (("pipelines/benchmark.yaml", [0, 1, 2], 5), ("pipelines/benchmark_quick.yaml", [0, 1, 2], 3)):
        spec = load_sweep_spec(name)
        assert list(spec.datasets) == ["adult", "adult_bins", "health", "health_full"] and spec.seeds == seeds
        assert spec.datasets["adult"].fixed["data.sensitive"] == "sex"
        # the same inputs, each numeric one also in bins
        bins = spec.datasets["adult_bins"].fixed
        assert bins.pop("data.numeric_bins") == 64 and bins == spec.datasets["adult"].fixed
        assert spec.datasets["health"].fixed["data.sensitive"] == "age60"
        # the literature's accuracy-against-DP setting: every input kept, so no transfer task
        full = spec.datasets["health_full"].fixed
        assert full["data.sensitive"] == "age60" and full["data.hold_out"] == [] and full["data.transfer"] == []
        for part in spec.parts():
            for method, grid in part.methods.items():
                sizes = [len(v) for v in grid.values()]
                assert not grid or max(sizes) == points or method == "predict", (name, method, grid)
        assert {"predict", "fair_predict", "noise", "lfr", "raw"} <= set(spec.pipelines)


def test_tied_keys_move_together(tmp_path):
    spec = _bench(tmp_path)
    spec["sweep"]["methods"] = {"vib": {"model.beta+model.z_dim": [[0.01, 2], [1.0, 16]], "model.lr": [0.001, 0.01]}}
    spec["sweep"].pop("datasets")
    loaded = load_sweep_spec(write_spec(tmp_path, spec), seeds="0")
    points = expand_points(loaded)
    assert sorted(tuple(sorted(p.params_dict().items())) for p in points) == sorted(
        tuple(sorted({"model.beta": b, "model.z_dim": z, "model.lr": lr}.items()))
        for b, z in ((0.01, 2), (1.0, 16)) for lr in (0.001, 0.01))
    argv = child_argv(loaded, points[0], tmp_path / "runs")
    assert "--model.beta" in argv and "--model.z_dim" in argv and not any("+" in a for a in argv)
    configs = wandb_sweep_configs(loaded)  # W&B crosses every parameter: one W&B sweep per tied pair
    assert set(configs) == {"vib-1", "vib-2"}
    assert configs["vib-2"]["parameters"]["model.beta"] == {"values": [1.0]}
    assert configs["vib-2"]["parameters"]["model.z_dim"] == {"values": [16]}
    assert configs["vib-2"]["parameters"]["model.lr"] == {"values": [0.001, 0.01]}
    spec["sweep"]["methods"] = {"vib": {"model.beta+model.z_dim": [0.01, 1.0]}}
    with pytest.raises(ConfigError, match="ties 2 keys: give each value as a list of 2 values"):
        load_sweep_spec(write_spec(tmp_path, spec))
    spec["sweep"]["methods"] = {"vib": {"model.beta+seed_everything": [[0.01, 1]]}}
    with pytest.raises(ConfigError, match="list seeds under sweep.seeds"):
        load_sweep_spec(write_spec(tmp_path, spec))


def test_a_typo_inside_tied_keys_is_named(tmp_path):
    from privib.sweep.points import check_keys

    spec = _bench(tmp_path)
    spec["sweep"]["methods"] = {"vib": {"model.beta+model.z_dm": [[0.01, 2]]}}
    spec["sweep"].pop("datasets")
    loaded = load_sweep_spec(write_spec(tmp_path, spec))
    with pytest.raises(ConfigError, match="'model.z_dm' is not a config key of privib run \\(did you mean model.z_dim\\?\\)"):
        check_keys(loaded, {"model.beta", "model.z_dim", "trainer.max_epochs"})
