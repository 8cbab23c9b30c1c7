"""The evaluate and report stages in the pipeline, `privib evaluate RUN`, bad input, and W&B offline."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers.cli import run_privib
from helpers.runs import metrics_of, pipeline_file, synthetic_args, train_run

OPTIONS = {"leakage": "linear", "flip": 0.1, "n_train": 2000, "n_test": 1500, "seed": 5}
GRID = '{"noise": [0, 0.5], "masking": [0, 0.25], "pgd": [0, 0.1]}'
PNG = b"\x89PNG\r\n\x1a\n"
ATTACKERS = ["logreg", "mlp_64", "mlp_128_64", "hgb"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A VIB with an adversary on the synthetic table, through fit, test, evaluate and report."""
    work = tmp_path_factory.mktemp("evaluate")
    return train_run(work, *synthetic_args(OPTIONS), "--evaluation.robustness", GRID, "--evaluation.n_boot", "100")


def test_every_figure_of_the_issue_is_in_metrics_json(run: Path) -> None:
    m = metrics_of(run)
    expected = {"task/test/acc", "task/test/bacc", "task/test/auc", "task/val/acc", "task/probe/acc_max",
                "task/probe/raw_acc_max", "fairness/s/dp_gap", "fairness/s/eo_gap",
                "info/rate_bits", "info/izy_lb_bits", "info/izs_lb_bits/s", "info/epoch"}
    for rep in ("", "sample/"):
        expected |= {f"leakage/s/{rep}{a}/{k}" for a in ATTACKERS for k in ("acc", "bacc", "auc")}
        expected |= {f"leakage/s/{rep}{k}" for k in ("acc_max", "bacc_max", "auc_max", "auc_max_lo", "auc_max_hi",
                                                    "majority", "n_classes", "mi_bits_lb")}
    expected |= {f"leakage/s/raw/{a}/auc" for a in ATTACKERS} | {"leakage/s/raw_auc_max", "leakage/s/raw_auc_max_lo",
                                                                   "leakage/s/raw_auc_max_hi"}
    expected |= {f"task/probe/{p}/acc" for p in ("logreg", "mlp", "hgb")}
    expected |= {f"task/probe/raw/{p}/acc" for p in ("logreg", "mlp", "hgb")}
    expected |= {"reference/predict/acc", "reference/predict/s/auc_max", "task/test/majority"}  # the verdict's references
    for family, levels in yaml.safe_load(GRID).items():
        expected |= {f"robustness/{family}/{lv:g}/{k}" for lv in levels for k in ("acc", "leak_auc", "drift")}
        expected.add(f"robustness/{family}/area")
    assert expected <= set(m), sorted(expected - set(m))
    assert all(isinstance(v, float) and np.isfinite(v) for k, v in m.items() if k.startswith(("leakage", "robustness")))
    assert not any(k.startswith("time/") for k in m)  # timings live in timings.json
    timings = json.loads((run / "timings.json").read_text())
    assert {"stage/evaluate_s", "time/evaluate/leakage_s", "time/evaluate/raw_reference_s"} <= set(timings)


def test_figures_agree_with_each_other(run: Path) -> None:
    m = metrics_of(run)
    assert m["leakage/s/auc_max"] == max(m[f"leakage/s/{a}/auc"] for a in ATTACKERS)
    assert m["leakage/s/auc_max_lo"] <= m["leakage/s/auc_max"] <= m["leakage/s/auc_max_hi"]
    assert m["leakage/s/raw_auc_max"] > 0.85  # s = [x0 > 0] with 10% flips: the inputs give it away
    for family in ("noise", "masking", "pgd"):  # level 0 is the clean test split
        assert m[f"robustness/{family}/0/acc"] == m["task/test/acc"]
        assert m[f"robustness/{family}/0/leak_auc"] == m["leakage/s/auc_max"]
        assert m[f"robustness/{family}/0/drift"] == 0.0
        assert 0.0 < m[f"robustness/{family}/area"] <= m["task/test/acc"] + 1e-9
    assert m["robustness/pgd/0.1/acc"] < m["task/test/acc"]
    assert m["robustness/noise/0.5/drift"] > 0.0
    history = json.loads((run / "history.json").read_text())
    assert m["info/rate_bits"] == pytest.approx(history[-1]["val/info/rate_bits"])


def test_task_accuracy_matches_the_test_stage(run: Path) -> None:
    from privib.pipeline.context import RunContext
    from privib.pipeline.stages.test import test_stage
    from privib.runs.folder import RunFolder

    config = yaml.safe_load((run / "config.yaml").read_text())
    again = test_stage(RunContext(folder=RunFolder(run), config=config))
    m = metrics_of(run)
    assert again["task/test/acc"] == m["task/test/acc"] and again["task/val/acc"] == m["task/val/acc"]


def test_report_and_figures_are_in_the_run_folder(run: Path) -> None:
    text = (run / "report.md").read_text()
    m = metrics_of(run)
    assert f"{m['leakage/s/auc_max']:.3f} [{m['leakage/s/auc_max_lo']:.3f}, {m['leakage/s/auc_max_hi']:.3f}]" in text
    for section in ("## Summary", "## Leakage of `s` per attacker", "## Robustness", "## Information plane",
                    "raw features (reference)", "majority baseline"):
        assert section in text, section
    for name in ("leakage", "robustness", "info_plane"):
        assert (run / "figures" / f"{name}.png").read_bytes().startswith(PNG)
        assert f"figures/{name}.png" in text
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["evaluation"]["n_boot"] == 100 and "attackers" in config["evaluation"]


def test_privib_evaluate_rewrites_metrics_and_keeps_the_status(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    metrics = metrics_of(copy)
    metrics["leakage/s/retired_attacker/auc"] = 0.99  # left by an earlier evaluation with another battery
    (copy / "metrics.json").write_text(json.dumps(metrics))
    status = (copy / "status.json").read_bytes()
    attackers = json.dumps([{"name": "lr", "class_path": "sklearn.linear_model.LogisticRegression"},
                            {"name": "tree", "class_path": "sklearn.tree.DecisionTreeClassifier",
                             "init_args": {"max_depth": 6}}])
    result = run_privib("evaluate", str(copy), "--evaluation.attackers", attackers, "--evaluation.n_boot", "50",
                        "--evaluation.robustness", '{"noise": [0, 1.0]}', cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str(copy / "report.md")
    new = metrics_of(copy)
    assert "leakage/s/retired_attacker/auc" not in new and "leakage/s/hgb/auc" not in new
    assert {"leakage/s/lr/auc", "leakage/s/tree/auc", "leakage/s/sample/tree/auc", "robustness/noise/1/acc"} <= set(new)
    assert "robustness/pgd/area" not in new
    assert new["fit/best_epoch"] == metrics["fit/best_epoch"]  # figures of other stages are kept
    assert new["task/test/acc"] == metrics["task/test/acc"]  # same checkpoint, same seed, same answer
    assert (copy / "status.json").read_bytes() == status
    config = yaml.safe_load((copy / "config.yaml").read_text())
    assert [a["name"] for a in config["evaluation"]["attackers"]] == ["lr", "tree"]  # config.yaml matches metrics
    assert config["evaluation"]["n_boot"] == 50
    assert "| tree |" in (copy / "report.md").read_text()
    # without overrides, the run's own (new) evaluation section is reused; report alone redraws the report
    from privib.cli import main

    (copy / "report.md").unlink()
    assert main(["evaluate", str(copy), "--stages", "report"]) == 0
    assert metrics_of(copy) == new and "| tree |" in (copy / "report.md").read_text()


def _one_error_line(returncode: int, stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert returncode == 2, stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("privib: error: "), stderr
    return lines[0]


# (command, expected message, run in a subprocess?): one subprocess per kind of bad input proves the real
# entry point; the other cases go through the same ``main`` in-process, which is much faster here.
BAD_INPUT = [
    (["evaluate", "{untrained}"], "no checkpoint", True),
    (["evaluate", "{run}", "--evaluation.attackers", '[{"class_path": "sklearn.linear_model.Nope"}]'],
     "cannot import class_path", True),
    (["run", "--evaluation.robustness", '{"masking": [0.2, 1.5]}'], "must be in [0, 1]", True),
    (["evaluate", "{tmp}/nope"], "not a privib run folder", False),
    (["evaluate", "{run}", "--evaluation.robustness", '{"pgd": [-0.1]}'], "must be a finite number >= 0", False),
    (["evaluate", "{run}", "--stages", "fit,evaluate"], "`fit` needs `privib run`", False),
    (["run", "--evaluation.attackers", '[{"class_path": "sklearn.linear_model.LinearRegression"}]'],
     "not a classifier", False),
    (["run", "--evaluation.probes", '[{"class_path": "sklearn.cluster.KMeans"}]'], "evaluation.probes", False),
]


@pytest.mark.parametrize("command, message, subprocess", BAD_INPUT, ids=[m for _, m, _ in BAD_INPUT])
def test_bad_evaluation_input_is_one_line_and_exit_2(run: Path, tmp_path: Path, capsys, command: list[str],
                                                     message: str, subprocess: bool) -> None:
    from privib.cli import main

    untrained = tmp_path / "untrained"
    untrained.mkdir()
    shutil.copy(run / "config.yaml", untrained / "config.yaml")
    before = (run / "metrics.json").read_bytes()
    places = {"{run}": str(run), "{untrained}": str(untrained), "{tmp}": str(tmp_path)}
    args = [places.get(a.split("/")[0], a.split("/")[0]) + a[len(a.split("/")[0]):] for a in command]
    if args[0] == "run":  # refused before any training: no run folder appears
        args += [*synthetic_args(OPTIONS), "--runs_dir", str(tmp_path / "runs"), "--wandb.enabled", "false"]
    if subprocess:
        result = run_privib(*args, cwd=tmp_path)
        line = _one_error_line(result.returncode, result.stderr)
    else:
        code = main(args)
        line = _one_error_line(code, capsys.readouterr().err)
    assert message in line
    assert not (tmp_path / "runs").exists()
    assert (run / "metrics.json").read_bytes() == before


def test_wandb_offline_run_holds_the_tables_and_figures(tmp_path: Path) -> None:
    options = {**OPTIONS, "n_train": 800, "n_test": 600}
    result = run_privib(
        "run", *synthetic_args(options, epochs=1), "--runs_dir", "runs", "--wandb.mode", "offline",
        "--pipeline", str(pipeline_file(tmp_path)), "--evaluation.robustness", '{"noise": [0, 0.5]}',
        "--trainer.enable_progress_bar", "false", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    folder = Path(result.stdout.strip().splitlines()[-1])
    folder = folder if folder.is_absolute() else tmp_path / folder
    offline = [p for p in (folder / "wandb").iterdir() if p.name.startswith("offline-run-")]
    assert len(offline) == 1
    media = offline[0] / "files" / "media"
    images = sorted(p.name.rsplit("_", 2)[0] for p in (media / "images" / "report" / "figure").glob("*.png"))
    assert images == ["info_plane", "leakage", "robustness"]
    tables = {p.name.split("_")[0]: p for p in (media / "table" / "report" / "table").glob("*.table.json")}
    assert set(tables) == {"attackers", "robustness"}
    table = json.loads(tables["attackers"].read_text())
    assert table["columns"] == ["attribute", "representation", "attacker", "acc", "bacc", "auc"]
    assert {row[1] for row in table["data"]} == {"mean", "sample", "raw"} and len(table["data"]) == 12
    inspect = shutil.which("wandb", path=str(Path(__import__("sys").executable).parent))
    if inspect:  # the summary is inside the binary log; `wandb leet inspect` reads it offline
        import subprocess

        out = subprocess.run([inspect, "leet", "inspect", "--summary", "--json", str(offline[0])],
                             capture_output=True, text=True, timeout=120)
        if out.returncode == 0 and out.stdout.strip().startswith("{"):
            summary = json.loads(out.stdout)["summary"]
            assert summary["leakage/s/auc_max"] == pytest.approx(metrics_of(folder)["leakage/s/auc_max"])


def test_released_sample_is_the_headline_and_the_mean_is_reported_beside_it(tmp_path: Path) -> None:
    folder = train_run(tmp_path, *synthetic_args(OPTIONS, epochs=1, release="sample"), "--evaluation.robustness", "{}",
                       "--evaluation.raw_reference", "false", "--evaluation.n_boot", "20", stages=("fit", "evaluate"))
    m = metrics_of(folder)
    assert {"leakage/s/auc_max", "leakage/s/mean/auc_max"} <= set(m)
    assert not any(k.startswith("leakage/s/sample/") for k in m)
    assert m["leakage/s/auc_max"] != m["leakage/s/mean/auc_max"]
