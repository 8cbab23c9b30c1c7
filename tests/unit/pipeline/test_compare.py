"""privib compare: fronts, dominated area, mean ± std per configuration, outputs, bad input (no training)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from privib.cli import main
from privib.errors import ConfigError
from privib.pipeline.compare import (
    WORST_KEY, RunRecord, best_accuracy_at, compare_command, compare_records, dominated_area, flatten_config,
    infer_method, load_run_folders, pareto_front, write_outputs,
)

PRESETS = {
    "mlp": {"deterministic": True, "beta": 0.0, "adv_weight": 0.0, "recon_weight": 0.0},
    "adv": {"deterministic": True, "beta": 0.0, "adv_weight": 1.0, "recon_weight": 0.0},
    "vib_adv": {"deterministic": False, "beta": 0.001, "adv_weight": 1.0, "recon_weight": 0.0},
}


def make_run(root: Path, name: str, method: str | None, model: dict, seed: int, metrics: dict, state: str = "finished",
             group: str = "g") -> Path:
    folder = root / f"{name}-20250101-000000-{seed:06x}"
    folder.mkdir(parents=True)
    config = {"seed_everything": seed, "name": name, "runs_dir": str(root), "method": method, "threads": 1,
              "data": {"name": "adult", "sensitive": "sex,race", "root": f"/data/{seed}"},
              "model": {"z_dim": 16, **PRESETS.get(method or "vib_adv", {}), **model},
              "trainer": {"max_epochs": 3, "enable_progress_bar": False},
              "wandb": {"enabled": True, "project": "privib", "group": group, "tags": [name], "mode": "auto"}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "status.json").write_text(json.dumps({"state": state}))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def figures(acc: float, sex: float, race: float, **extra: float) -> dict:
    return {"task/test/acc": acc, "task/probe/acc_max": acc + 0.01, "leakage/sex/auc_max": sex,
            "leakage/race/auc_max": race, "fairness/sex/dp_gap": 0.1, "robustness/noise/area": 0.8,
            "task/val/acc": 0.9, **extra}


@pytest.fixture()
def sweep_folder(tmp_path: Path) -> tuple[Path, dict]:
    """Two methods: vib_adv at adv_weight 1 and 10 (3 seeds each), mlp (2 seeds), plus unfinished runs."""
    runs = tmp_path / "sweep" / "runs"
    expected = {}
    rng = np.random.default_rng(0)
    for weight, (acc0, leak0) in {1.0: (0.85, 0.80), 10.0: (0.80, 0.62)}.items():
        accs, worst = [], []
        for seed in range(3):
            acc, sex, race = acc0 + rng.normal(0, 0.01), leak0 + rng.normal(0, 0.02), leak0 - 0.05
            make_run(runs, f"vib_adv-w{int(weight)}", "vib_adv", {"adv_weight": weight}, seed, figures(acc, sex, race))
            accs.append(acc)
            worst.append(max(sex, race))
        expected[("vib_adv", weight)] = (np.mean(accs), np.std(accs, ddof=1), np.mean(worst), np.std(worst, ddof=1))
    for seed in range(2):
        make_run(runs, "mlp", "mlp", {}, seed, figures(0.86, 0.93, 0.70 + seed / 100))
    make_run(runs, "mlp-failed", "mlp", {}, 7, {}, state="failed")
    make_run(runs, "vib_adv-running", "vib_adv", {"adv_weight": 3.0}, 0, {}, state="running")
    return tmp_path / "sweep", expected


# ---------------------------------------------------------------------------- pure functions
def test_pareto_front_keeps_non_dominated_points_sorted_by_leakage():
    leak = [0.9, 0.6, 0.7, 0.6, float("nan"), 0.95]
    acc = [0.86, 0.80, 0.79, 0.78, 0.99, 0.85]
    # 0.7/0.79 is dominated by 0.6/0.80; 0.6/0.78 by 0.6/0.80; 0.95/0.85 by 0.9/0.86; NaN never on the front.
    assert pareto_front(leak, acc) == [1, 0]
    assert pareto_front([], []) == []


def test_best_accuracy_at_threshold():
    leak, acc = [0.9, 0.6, 0.54, 0.7], [0.86, 0.80, 0.75, 0.83]
    assert best_accuracy_at(leak, acc, 0.55) == 2
    assert best_accuracy_at(leak, acc, 0.60) == 1
    assert best_accuracy_at(leak, acc, 0.70) == 3
    assert best_accuracy_at(leak, acc, 0.5) is None


def test_dominated_area_matches_a_brute_force_reference():
    assert dominated_area([0.6], [0.8]) == pytest.approx((1.0 - 0.6) * (0.8 - 0.5))
    assert dominated_area([0.4], [1.0]) == pytest.approx(0.25)  # AUC below chance counts as 0.5: the maximum
    assert dominated_area([], []) == 0.0
    rng = np.random.default_rng(1)
    leak, acc = rng.uniform(0.45, 1.0, 12), rng.uniform(0.4, 0.95, 12)
    grid_a, grid_u = np.meshgrid(np.linspace(0.5, 1.0, 1001), np.linspace(0.5, 1.0, 1001))
    covered = np.zeros_like(grid_a, dtype=bool)
    for a, u in zip(np.maximum(leak, 0.5), acc):
        covered |= (grid_a >= a) & (grid_u <= u)
    assert dominated_area(leak, acc) == pytest.approx(covered.mean() * 0.25, abs=2e-3)


def test_flatten_and_method_inference():
    flat = flatten_config({"model": {"beta": 0.1, "encoder_widths": [64, 64]}, "seed_everything": 1})
    assert flat == {"model.beta": 0.1, "model.encoder_widths": "[64, 64]", "seed_everything": 1}
    assert infer_method({"method": "cvib", "model": {}}) == "cvib"
    assert infer_method({"model": {"deterministic": True, "adv_weight": 0}}) == "mlp"
    assert infer_method({"model": {"deterministic": True, "adv_weight": 2}}) == "adv"
    assert infer_method({"model": {"deterministic": False, "adv_weight": 0, "recon_weight": 1}}) == "cvib"
    assert infer_method({"model": {"adv_weight": 1.0}}) == "vib_adv"
    assert infer_method({"model": {"adv_weight": 0.0}}) == "vib"


# ---------------------------------------------------------------------------- table
def test_table_is_mean_and_std_over_seeds_per_configuration(sweep_folder):
    folder, expected = sweep_folder
    records, skipped = load_run_folders([folder])
    assert skipped == 2 and len(records) == 8
    result = compare_records(records, skipped=skipped)
    # Seeds, names, run folders, data roots and W&B settings never split configurations; adv_weight does.
    assert result.params == ["model.adv_weight"]
    table = result.table.set_index(["method", "model.adv_weight"])
    for (method, weight), (acc, acc_std, worst, worst_std) in expected.items():
        row = table.loc[(method, weight)]
        assert row["n"] == 3
        assert row["task/test/acc_mean"] == pytest.approx(acc)
        assert row["task/test/acc_std"] == pytest.approx(acc_std)
        assert row[f"{WORST_KEY}_mean"] == pytest.approx(worst)
        assert row[f"{WORST_KEY}_std"] == pytest.approx(worst_std)
    # Independent reference: pandas groupby over the per-run rows.
    reference = result.runs.groupby(["method", "model.adv_weight"])["task/test/acc"].agg(["mean", "std", "count"])
    for key, ref in reference.iterrows():
        assert table.loc[key, "task/test/acc_mean"] == pytest.approx(ref["mean"])
        assert table.loc[key, "n"] == ref["count"]
    mlp = table.loc[("mlp", 0.0)]
    assert mlp["n"] == 2 and mlp[f"{WORST_KEY}_mean"] == pytest.approx(0.93)
    assert {"leakage/sex/auc_max", "leakage/race/auc_max", "fairness/sex/dp_gap", "robustness/noise/area"} <= set(result.metrics)
    assert list(result.table["method"]) == ["mlp", "vib_adv", "vib_adv"]  # methods in preset order


def test_per_method_best_accuracy_and_area(sweep_folder):
    folder, expected = sweep_folder
    result = compare_records(load_run_folders([folder])[0])
    methods = result.methods.set_index("method")
    acc10, _, worst10, _ = expected[("vib_adv", 10.0)]
    acc1, _, worst1, _ = expected[("vib_adv", 1.0)]
    assert worst10 <= 0.70 < worst1
    assert methods.loc["vib_adv", "best_acc@auc<=0.7"] == pytest.approx(acc10)
    assert methods.loc["vib_adv", "best_config@auc<=0.7"] == "adv_weight=10"
    assert math.isnan(methods.loc["vib_adv", "best_acc@auc<=0.55"])
    assert math.isnan(methods.loc["mlp", "best_acc@auc<=0.7"])
    area = dominated_area([worst1, worst10], [acc1, acc10])
    assert methods.loc["vib_adv", "dominated_area"] == pytest.approx(area)


def test_missing_metrics_read_as_nan(tmp_path):
    make_run(tmp_path, "a", "vib_adv", {}, 0, {"task/test/acc": 0.8})
    make_run(tmp_path, "b", "vib_adv", {}, 1, {"task/test/acc": 0.82, "leakage/sex/auc_max": 0.7})
    result = compare_records(load_run_folders([tmp_path])[0])
    row = result.table.iloc[0]
    assert row["n"] == 2 and row["task/test/acc_mean"] == pytest.approx(0.81)
    assert row[f"{WORST_KEY}_mean"] == pytest.approx(0.7)  # the run without leakage figures does not count
    assert math.isnan(row["task/probe/acc_max_mean"])


def test_outputs_csv_markdown_png(sweep_folder, tmp_path):
    folder, _ = sweep_folder
    result = compare_records(load_run_folders([folder])[0])
    paths = write_outputs(result, tmp_path / "out")
    assert {p.name for p in paths.values()} == {"table.csv", "runs.csv", "methods.csv", "compare.md", "summary.json",
                                                "pareto.png"}
    table = pd.read_csv(paths["table"])
    assert len(table) == 3 and "task/test/acc_mean" in table and "task/test/acc_std" in table
    markdown = paths["markdown"].read_text()
    assert "| method | configuration | n | acc |" in markdown and "| vib_adv | adv_weight=10 | 3 |" in markdown and "±" in markdown and "![Pareto front](pareto.png)" in markdown
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(paths["summary"].read_text())
    assert summary["runs"] == 8 and "vib_adv/best_acc@auc<=0.7" in summary


def test_compare_command_on_run_and_sweep_folders(sweep_folder, tmp_path, capsys, monkeypatch):
    folder, _ = sweep_folder
    assert compare_command([str(folder)]) == 0
    out = capsys.readouterr().out
    assert "vib_adv" in out and "best acc @ AUC<=0.6" in out and "±" in out
    assert (folder / "compare" / "pareto.png").is_file()  # a single sweep folder gets its own compare/
    one_run = next((folder / "runs").glob("mlp-2025*"))
    monkeypatch.chdir(tmp_path)
    assert compare_command([str(one_run), "--out", "cmp", "--no-plot", "--thresholds", "0.6,0.9"]) == 0
    assert (tmp_path / "cmp" / "table.csv").is_file() and not (tmp_path / "cmp" / "pareto.png").exists()


@pytest.mark.parametrize("argv, needle", [
    (["{empty}"], "no finished runs to compare"),
    (["{failed}"], "no finished runs to compare"),
    (["{missing}"], "does not exist"),
    ([], "pass run or sweep folders"),
    (["{failed}", "--thresholds", "0.3"], "thresholds"),
    (["--group", "g"], "--group selects W&B runs"),
    (["--wandb", "just-a-project"], "ENTITY/PROJECT"),
])
def test_bad_input_is_one_error_line_and_exit_2(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    (tmp_path / "empty").mkdir()
    make_run(tmp_path / "failed", "x", "mlp", {}, 0, {}, state="failed")
    names = {"{empty}": str(tmp_path / "empty"), "{failed}": str(tmp_path / "failed"), "{missing}": str(tmp_path / "nope")}
    code = main(["compare", *[names.get(a, a) for a in argv]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("privib: error: ") and needle in err[0], err


def test_compare_records_refuses_nothing():
    with pytest.raises(ConfigError, match="no finished runs"):
        compare_records([], skipped=3)


def test_records_from_different_sources_compare_alike():
    records = [RunRecord(f"r{i}", "x", "finished", {"seed_everything": i, "model": {"beta": 0.1}, "method": "vib"},
                         {"task/test/acc": 0.8 + i / 100, "leakage/sex/auc_max": 0.6}) for i in range(3)]
    result = compare_records(records)
    assert result.params == [] and len(result.table) == 1
    assert result.table.iloc[0]["label"] == "default" and result.table.iloc[0]["seeds"] == "0,1,2"


def test_leakage_of_the_released_mean_or_sampled_z(tmp_path):
    # Unprefixed keys attack what the run releases (model.release); leakage/<attr>/<other>/ the other one.
    for seed, (released, other) in enumerate([(0.9, 0.6), (0.8, 0.62)]):
        make_run(tmp_path / "m", "v", "vib", {"release": "mean"}, seed,
                 {"task/test/acc": 0.8, "leakage/sex/auc_max": released, "leakage/sex/sample/auc_max": other})
        make_run(tmp_path / "s", "v", "vib", {"release": "sample"}, seed,
                 {"task/test/acc": 0.8, "leakage/sex/auc_max": other, "leakage/sex/mean/auc_max": released})
    for folder, released in (("m", 0.85), ("s", 0.61)):
        records = load_run_folders([tmp_path / folder])[0]
        assert compare_records(records).table.iloc[0][f"{WORST_KEY}_mean"] == pytest.approx(released)
        assert compare_records(records, leakage="mean").table.iloc[0][f"{WORST_KEY}_mean"] == pytest.approx(0.85)
        sampled = compare_records(records, leakage="sample")
        assert sampled.table.iloc[0][f"{WORST_KEY}_mean"] == pytest.approx(0.61)
        assert sampled.methods.iloc[0]["best_acc@auc<=0.7"] == pytest.approx(0.8)
    with pytest.raises(ConfigError, match="released, mean, sample"):
        compare_records(records, leakage="both")
