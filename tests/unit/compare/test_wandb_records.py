"""privib compare from W&B: recorded public-API run records -> the same table as local folders.

The recorded runs are in tests/helpers/records.py; the fake W&B hosts (``dead_host``) in tests/conftest.py.
"""
from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any

import pytest

from helpers.records import RECORDED, make_run
from privib.cli.compare import main as compare_command
from privib.compare.records import load_run_folders
from privib.compare.table import compare_records
from privib.compare.wandb_records import fetch_wandb_records, record_from_wandb, records_from_wandb, unwrap_config
from privib.errors import PrivibError


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
    monkeypatch.setattr("privib.runs.wandb.probe_wandb_host", lambda timeout_s=3.0: None)
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


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("no_wandb_left_running")
def test_fetching_wandb_runs_fails_naming_the_host_before_calling_wandb(
    dead_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wandb

    def no_api(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("wandb.Api must not be called when the host does not answer")

    monkeypatch.setattr(wandb, "Api", no_api)
    with pytest.raises(PrivibError, match="W&B host") as raised:
        fetch_wandb_records("me/privib")
    assert dead_host in str(raised.value)
