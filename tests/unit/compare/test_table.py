"""The comparison table: mean ± std per configuration over seeds, per-method figures, which leakage counts.

The ``sweep_folder`` fixture (a folder of finished and unfinished runs) is in tests/unit/conftest.py.
"""
from __future__ import annotations

import math

import pytest

from helpers.records import make_run
from privib.compare.pareto import dominated_area
from privib.compare.records import RunRecord, load_run_folders
from privib.compare.table import WORST_KEY, compare_records
from privib.errors import ConfigError


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


def _protocol_runs(root):
    """Two vib_adv configurations (3 seeds each) with downstream-protocol figures for two attributes."""
    points = {1.0: (0.82, 0.30, 0.12), 10.0: (0.76, 0.08, 0.05)}  # adv_weight: (protocol acc, age60 DP, age DP)
    for weight, (acc, dp60, dp) in points.items():
        for seed in range(3):
            make_run(root, f"w{int(weight)}", "vib_adv", {"adv_weight": weight}, seed, {
                "task/test/acc": acc + 0.01, "leakage/age60/auc_max": 0.7, "leakage/age/auc_max": 0.6,
                "downstream/acc": acc + seed / 1000, "downstream/age60/dp_gap": dp60, "downstream/age/dp_gap": dp,
                "fairness/age60/dp_gap": dp60 + 0.01, "transfer/mean/acc": 0.7, "transfer/mean/base": 0.66})
    return points


def test_accuracy_against_the_protocols_dp_gap(tmp_path):
    points = _protocol_runs(tmp_path)
    records = load_run_folders([tmp_path])[0]
    result = compare_records(records, accuracy_key="downstream/acc", thresholds=(0.05, 0.1, 0.2), x_axis="dp_gap")
    assert result.x_key == "downstream/worst/dp_gap"
    table = result.table.set_index("model.adv_weight")
    for weight, (acc, dp60, dp) in points.items():
        assert table.loc[weight, "downstream/worst/dp_gap_mean"] == pytest.approx(max(dp60, dp))
        assert table.loc[weight, "downstream/acc_mean"] == pytest.approx(acc + 0.001)
    methods = result.methods.set_index("method")
    assert math.isnan(methods.loc["vib_adv", "best_acc@dp<=0.05"])
    assert methods.loc["vib_adv", "best_acc@dp<=0.1"] == pytest.approx(0.761)
    assert methods.loc["vib_adv", "best_config@dp<=0.1"] == "adv_weight=10"
    assert methods.loc["vib_adv", "dominated_area"] == pytest.approx(dominated_area([0.08, 0.30], [0.761, 0.821],
                                                                                    best_leakage=0.0))
    assert {"transfer/mean/acc", "transfer/mean/base", "downstream/age60/dp_gap", "fairness/worst/dp_gap"} <= set(result.metrics)
    head = compare_records(records, x_axis="dp_gap", fairness="head", thresholds=(0.1,))
    assert head.x_key == "fairness/worst/dp_gap"
    assert head.methods.iloc[0]["best_acc@dp<=0.1"] == pytest.approx(0.77)  # the head's accuracy at its own gap 0.09
    with pytest.raises(ConfigError, match="leakage, dp_gap"):
        compare_records(records, x_axis="auc")
