"""The outputs of privib compare: CSV tables, the markdown report, the Pareto PNG, summary.json."""
from __future__ import annotations

import json

import pandas as pd

from privib.compare.records import load_run_folders
from privib.compare.render import method_colors, write_outputs
from privib.compare.table import compare_records


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


def test_outputs_on_the_dp_axis(tmp_path):
    from helpers.records import make_run

    for seed in range(2):
        make_run(tmp_path / "runs", "v", "vib_adv", {}, seed, {"task/test/acc": 0.8, "downstream/acc": 0.79 + seed / 100,
                                                                "leakage/sex/auc_max": 0.6, "downstream/sex/dp_gap": 0.08})
    result = compare_records(load_run_folders([tmp_path / "runs"])[0], accuracy_key="downstream/acc",
                             thresholds=(0.05, 0.1), x_axis="dp_gap")
    paths = write_outputs(result, tmp_path / "out")
    markdown = paths["markdown"].read_text()
    assert "best acc @ DP<=0.1" in markdown and "worst demographic-parity gap" in markdown and "protocol worst DP" in markdown
    summary = json.loads(paths["summary"].read_text())
    assert summary["vib_adv/best_acc@dp<=0.1"] == 0.795 and summary["vib_adv/best_acc@dp<=0.05"] is None
    assert summary["x_key"] == "downstream/worst/dp_gap"
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_seed_shows_no_spread_and_the_caption_names_what_the_runs_release(tmp_path):
    from helpers.records import make_run

    make_run(tmp_path / "runs", "v", "vib_adv", {"release": "sample"}, 0,
             {"task/test/acc": 0.8, "leakage/sex/auc_max": 0.6})
    result = compare_records(load_run_folders([tmp_path / "runs"])[0])
    markdown = write_outputs(result, tmp_path / "out")["markdown"].read_text()
    assert "| vib_adv |" in markdown and "0.800" in markdown and "± 0.000" not in markdown
    assert "sample: one sample z ~ q(z|x)" in markdown and "mean of q(z|x) by default" not in markdown


def test_every_method_of_a_benchmark_gets_its_own_colour():
    methods = [f"m{i}" for i in range(15)]  # the benchmark draws 12 methods besides the frontier
    colors = method_colors(methods)
    assert list(colors) == methods and len(set(colors.values())) == 15 and "black" not in colors.values()
