"""A benchmark end to end: real `privib run` children on two synthetic data sets, 2 methods x 2 points x 1 seed each.

`privib sweep` runs the eight points (two workers), writes one table and plot per data set into the
sweep's benchmark/ folder, and `privib compare --benchmark` writes the same from the run folders.
"""
from __future__ import annotations

import csv
import json

import pytest
import yaml

from helpers.cli import run_privib

pytestmark = pytest.mark.slow

LOGREG = {"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"max_iter": 300},
          "standardize": True}
DOWNSTREAM = {"name": "mlp50", "class_path": "sklearn.neural_network.MLPClassifier",
              "init_args": {"hidden_layer_sizes": [8], "max_iter": 50}, "standardize": True}
SYNTHETIC = {"n_train": 1500, "n_test": 800}
SPEC = {
    "stages": ["fit", "test", "evaluate"],
    "sweep": {
        "name": "bench",
        "seeds": [0],
        "fixed": {
            "data.name": "synthetic", "data.sensitive": "s", "trainer.max_epochs": 1, "model.encoder_widths": [16],
            "model.z_dim": 4, "evaluation.attackers": [LOGREG], "evaluation.probes": [LOGREG],
            "evaluation.downstream": DOWNSTREAM, "evaluation.downstream_seeds": 2, "evaluation.n_boot": 5,
            "evaluation.robustness": {}, "evaluation.attack_both": False, "evaluation.raw_reference": False,
            "evaluation.encoder_holder": False, "evaluation.k_releases": [],
        },
        "datasets": {
            "linear": {"config": "configs/adult.yaml",
                       "fixed": {"data.options": {**SYNTHETIC, "leakage": "linear"}, "data.transfer": ["x5 > 0"]}},
            "xor": {"config": "configs/adult.yaml", "fixed": {"data.options": {**SYNTHETIC, "leakage": "xor"}}},
        },
        "methods": {"mlp": {"model.z_dim": [2, 4]}, "vib": {"model.beta": [0.01, 1.0]}},
    },
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    spec = work / "bench.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    result = run_privib("sweep", str(spec), "--workers", "2", cwd=work, env={"WANDB_MODE": "disabled"})
    return work, result


def test_sweep_runs_every_data_set_and_writes_a_table_and_plot_each(bench):
    work, result = bench
    assert result.returncode == 0, result.stderr[-3000:]
    assert "8 points (0 already done), 8 to run" in result.stdout
    folder = work / "runs" / "bench"
    rows = list(csv.DictReader((folder / "summary.csv").open()))
    assert sorted((r["dataset"], r["method"]) for r in rows) == sorted([(d, m) for d in ("linear", "xor")
                                                                         for m in ("mlp", "mlp", "vib", "vib")])
    assert all(r["state"] == "finished" for r in rows)
    config = yaml.safe_load((folder / rows[0]["run_dir"] / "config.yaml").read_text())
    assert f"dataset:{rows[0]['dataset']}" in config["wandb"]["tags"]
    out = folder / "benchmark"
    assert {p.name for p in out.iterdir()} >= {"linear.md", "linear.csv", "linear.png", "xor.md", "xor.csv", "xor.png",
                                               "index.md"}
    assert (out / "linear.png").stat().st_size > 20_000
    table = {r["method"]: r for r in csv.DictReader((out / "linear.csv").open())}
    assert set(table) == {"mlp", "vib"} and table["vib"]["configurations"] == "2"
    for row in table.values():
        assert 0.0 <= float(row["area@auc"]) <= 0.25 and 0.0 <= float(row["area@dp"]) <= 0.5
    # Transfer tasks on the linear data set only: a gain there, no transfer table for xor.
    linear, xor = (out / "linear.md").read_text(), (out / "xor.md").read_text()
    assert "Transfer accuracy above base rate" in linear and "no transfer table" in xor
    assert "(n=1)" in linear and "protocol acc @ DP ≤ 0.1" in linear
    assert "linear: 4 runs" in result.stdout and "xor: 4 runs" in result.stdout


def test_compare_benchmark_writes_the_same_tables(bench):
    work, _ = bench
    result = run_privib("compare", "--benchmark", "runs/bench", "--out", "docs_bench", cwd=work,
                        env={"WANDB_MODE": "disabled"})
    assert result.returncode == 0, result.stderr[-3000:]
    out = work / "docs_bench"
    assert {p.name for p in out.iterdir()} == {"linear.md", "linear.csv", "linear.png", "xor.md", "xor.csv", "xor.png",
                                               "index.md"}
    assert (out / "linear.csv").read_text() == (work / "runs/bench/benchmark/linear.csv").read_text()
    again = run_privib("sweep", str(work / "bench.yaml"), "--dry_run", cwd=work, env={"WANDB_MODE": "disabled"})
    assert "8 points, 8 done, 0 to run" in again.stdout
    bad = run_privib("compare", "--benchmark", "runs/bench", "--thresholds", "0.6", cwd=work)
    assert bad.returncode == 2 and "drop --thresholds" in bad.stderr
    # one data set rewritten: the other's table and index row stay
    (out / "linear.md").write_text("kept\n")
    one = run_privib("compare", "--benchmark", "runs/bench", "--out", "docs_bench", "--datasets", "xor", cwd=work,
                     env={"WANDB_MODE": "disabled"})
    assert one.returncode == 0, one.stderr[-3000:]
    assert (out / "linear.md").read_text() == "kept\n" and "| linear |" in (out / "index.md").read_text()
    unknown = run_privib("compare", "--benchmark", "runs/bench", "--datasets", "mnist", cwd=work)
    assert unknown.returncode == 2 and "no finished runs of mnist here; the data sets found are linear, xor" in unknown.stderr
    manifest = yaml.safe_load((work / "runs/bench/sweep.yaml").read_text())
    assert set(manifest["datasets"]) == {"linear", "xor"} and {p["dataset"] for p in manifest["points"]} == {"linear", "xor"}
    assert json.loads(json.dumps(manifest["points"][0]["params"]))


def test_optuna_search_runs_real_points(tmp_path):
    pytest.importorskip("optuna")
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["sweep"].update(name="search", methods={"vib": {"model.beta": [0.001, 1.0]}})
    spec["sweep"]["datasets"].pop("xor")
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(spec))
    result = run_privib("sweep", "search.yaml", "--optuna", "--trials", "2", "--workers", "2", cwd=tmp_path,
                        env={"WANDB_MODE": "disabled"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "search-linear-vib: 0 of 2 trials complete" in result.stdout and "Pareto-optimal trials" in result.stdout
    rows = list(csv.DictReader((tmp_path / "runs/search/summary.csv").open()))
    assert len(rows) == 2 and all(r["state"] == "finished" and 0.001 <= float(r["model.beta"]) <= 1.0 for r in rows)
    assert (tmp_path / "runs/search/optuna.db").is_file() and (tmp_path / "runs/search/benchmark/linear.md").is_file()
