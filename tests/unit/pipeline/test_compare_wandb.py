"""privib compare from W&B: recorded public-API run records -> the same table as local folders; the summary run."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from privib.pipeline.compare import compare_command, compare_records, load_run_folders, log_compare_to_wandb, write_outputs
from privib.pipeline.wandb_compare import fetch_wandb_records, record_from_wandb, records_from_wandb, unwrap_config
from test_compare import make_run

# Shaped like `wandb.Api().runs(...)` entries of privib runs: the config privib pushed (nested sections), the
# summary with W&B internals, media, "NaN" strings; one raw-API config with {"value": ...} wrappers, one W&B
# sweep run whose parameters arrive as flat dotted keys, a crashed run and a compare summary run.
def _config(method: str, weight: float, seed: int) -> dict:
    return {"seed_everything": seed, "name": f"{method}-x", "runs_dir": "runs/s/runs", "method": method, "threads": 1,
            "pipeline": "pipelines/pareto.yaml", "data": {"name": "adult", "sensitive": "sex", "root": None},
            "model": {"deterministic": method == "adv", "beta": 0.0 if method == "adv" else 0.001, "adv_weight": weight,
                      "recon_weight": 0.0, "z_dim": 16},
            "trainer": {"max_epochs": 20}, "wandb": {"project": "privib", "group": "s", "tags": ["s", method]}}


def _summary(acc: float, sex: float) -> dict:
    return {"task/test/acc": acc, "task/probe/acc_max": acc + 0.01, "leakage/sex/auc_max": sex,
            "leakage/sex/auc_max_lo": sex - 0.01, "fairness/sex/dp_gap": 0.05, "robustness/noise/area": "NaN",
            "_runtime": 81.2, "_step": 40, "_timestamp": 1.7e9, "_wandb": {"runtime": 81},
            "val/task_acc": acc, "report/pareto": {"_type": "image-file", "path": "media/x.png"}, "epoch": 19}


RECORDED = [
    {"id": "a0", "name": "adv-1-0", "state": "finished", "group": "s", "job_type": "train",
     "config": _config("adv", 1.0, 0), "summary": _summary(0.84, 0.80)},
    {"id": "a1", "name": "adv-1-1", "state": "finished", "group": "s", "job_type": "train",
     "config": {k: {"value": v, "desc": None} for k, v in _config("adv", 1.0, 1).items()},  # raw API form
     "summary": _summary(0.86, 0.84)},
    {"id": "b0", "name": "sweep-run", "state": "finished", "group": "s", "job_type": "train",  # a W&B sweep run
     "config": {**_config("vib_adv", 1.0, 0), "model.adv_weight": 10, "seed_everything": 0, "_wandb": {"x": 1}},
     "summary": _summary(0.80, 0.61)},
    {"id": "b1", "name": "vib_adv-10-1", "state": "finished", "group": "s", "job_type": "train",
     "config": _config("vib_adv", 10.0, 1), "summary": _summary(0.82, 0.63)},
    {"id": "c0", "name": "crashed", "state": "crashed", "group": "s", "job_type": "train",
     "config": _config("vib_adv", 3.0, 0), "summary": {"_runtime": 3}},
    {"id": "d0", "name": "s-compare", "state": "finished", "group": "s", "job_type": "compare",
     "config": {"sweep": "s", "sources": ["runs/s"]}, "summary": {"compare/runs": 4}},
]


def test_unwrap_config_folds_wrappers_and_dotted_sweep_keys():
    raw = {"model": {"value": {"beta": 0.1, "adv_weight": 1}}, "model.adv_weight": {"value": 5}, "_wandb": {"value": {}},
           "seed_everything": {"value": 2, "desc": None}}
    assert unwrap_config(raw) == {"model": {"beta": 0.1, "adv_weight": 5}, "seed_everything": 2}


def test_record_transformation():
    records, skipped = records_from_wandb(copy.deepcopy(RECORDED))
    assert skipped == 2  # the crashed run and the compare summary run
    assert [r.name for r in records] == ["adv-1-0", "adv-1-1", "sweep-run", "vib_adv-10-1"]
    sweep_run = records[2]
    assert sweep_run.config["model"]["adv_weight"] == 10 and sweep_run.method == "vib_adv"
    assert records[1].config["seed_everything"] == 1 and records[1].method == "adv"
    metrics = records[0].metrics
    assert metrics["task/test/acc"] == 0.84 and metrics["epoch"] == 19.0
    assert metrics["robustness/noise/area"] != metrics["robustness/noise/area"]  # "NaN" -> nan
    assert not any(k.startswith("_") for k in metrics) and "report/pareto" not in metrics
    # Public-API Run objects (attributes, HTTPSummary-like summary) read the same as plain records.
    summary = SimpleNamespace(_json_dict=RECORDED[0]["summary"])
    obj = SimpleNamespace(name="adv-1-0", id="a0", state="finished", job_type="train", url="https://wandb.ai/x/y/runs/a0",
                          config=RECORDED[0]["config"], summary=summary, summary_metrics=None)
    same = record_from_wandb(obj)
    assert json.dumps(same.metrics) == json.dumps(records[0].metrics) and same.source.endswith("/a0")


def test_wandb_records_give_the_same_table_as_local_folders(tmp_path):
    records, _ = records_from_wandb(copy.deepcopy(RECORDED))
    remote = compare_records(records)
    for record in records:  # the same runs as local run folders
        folder = make_run(tmp_path, record.name, record.config["method"], {}, int(record.config["seed_everything"]), {})
        (folder / "config.yaml").write_text(json.dumps(record.config))
        (folder / "metrics.json").write_text(json.dumps(record.metrics))
    local = compare_records(load_run_folders([tmp_path])[0])
    # 10 (a W&B sweep value) and 10.0 (YAML) are one configuration; adv_weight is constant within each method,
    # so the method name alone labels its configuration.
    assert remote.params == local.params == []
    assert list(remote.table["n"]) == [2, 2]
    columns = [c for c in remote.table.columns if c.endswith(("_mean", "_std"))] + ["method", "n"]
    assert remote.table[columns].equals(local.table[columns])
    methods = remote.methods.set_index("method")
    assert methods.loc["vib_adv", "best_acc@auc<=0.7"] == pytest.approx(0.81)
    assert methods.loc["adv", "configurations"] == 1 and methods.loc["adv", "runs"] == 2


class _FakeApi:
    """Stands in for wandb.Api: returns recorded runs as objects, remembers the query."""

    calls: list = []

    def __init__(self, timeout: int = 0) -> None:
        pass

    def runs(self, path, filters=None, per_page=50, lazy=True):
        _FakeApi.calls.append((path, filters, lazy))
        return [SimpleNamespace(**{**r, "summary_metrics": r["summary"]}) for r in copy.deepcopy(RECORDED)]


def test_compare_wandb_path_uses_the_public_api(monkeypatch, tmp_path, capsys):
    import wandb

    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr(wandb, "Api", _FakeApi)
    monkeypatch.setattr("privib.pipeline.tracking.probe_wandb_host", lambda timeout_s=3.0: None)
    _FakeApi.calls.clear()
    records, skipped = fetch_wandb_records("me/privib", group="s")
    assert len(records) == 4 and skipped == 2
    assert _FakeApi.calls == [("me/privib", {"group": "s"}, False)]
    assert compare_command(["--wandb", "me/privib", "--group", "s", "--out", str(tmp_path / "cmp")]) == 0
    assert "vib_adv" in capsys.readouterr().out and (tmp_path / "cmp" / "pareto.png").is_file()


def test_wandb_path_needs_credentials(monkeypatch, tmp_path):
    from privib.errors import ConfigError

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with pytest.raises(ConfigError, match="log in first"):
        fetch_wandb_records("me/privib")


def test_comparison_is_logged_as_an_offline_wandb_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    records, _ = records_from_wandb(copy.deepcopy(RECORDED))
    result = compare_records(records)
    paths = write_outputs(result, tmp_path / "cmp")
    where = log_compare_to_wandb(result, paths, project="privib", entity=None, group="s", name="s-compare",
                                 mode="offline", directory=tmp_path / "cmp", config={"sweep": "s"})
    run_dir = Path(where)
    assert run_dir.name.startswith("offline-run-") and run_dir.is_dir()
    wandb_cli = Path(sys.executable).parent / "wandb"
    inspected = subprocess.run([str(wandb_cli), "leet", "inspect", "--summary", "--json", str(run_dir)],
                               capture_output=True, text=True, timeout=120)
    record = json.loads(inspected.stdout)
    assert record["name"] == "s-compare" and record["project"] == "privib" and record["config"]["sweep"] == "s"
    summary = record["summary"]
    assert summary["compare/runs"] == 4 and summary["compare/vib_adv/best_acc@auc<=0.7"] == pytest.approx(0.81)
    assert {"compare/table", "compare/pareto", "compare/methods"} <= set(summary)
