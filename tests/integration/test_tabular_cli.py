"""A user's own CSV through the CLI: `privib inspect`, `privib run` end to end, `privib encode`, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers.cli import REPO, run_privib
from helpers.tables import people

pytestmark = pytest.mark.slow
CONFIG = str(REPO / "configs" / "tabular.yaml")
TABLE = ["--data.path", "people.csv", "--data.target", "outcome", "--data.sensitive", "gender,age"]
TINY = ["--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false", "--wandb.enabled", "false"]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tabular")
    people(400).to_csv(folder / "people.csv", index=False)
    people(50, seed=9).drop(columns=["outcome"]).to_csv(folder / "new_people.csv", index=False)
    return folder


def _one_error_line(result, *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("privib: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_run_end_to_end_then_encode_new_rows(work):
    result = run_privib("run", "--config", CONFIG, *TABLE, "--data.id_column", "person", *TINY, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "inferred" in result.stderr  # the schema inference is reported in the log
    folder = Path(result.stdout.strip().splitlines()[-1])
    folder = folder if folder.is_absolute() else work / folder
    assert json.loads((folder / "status.json").read_text())["state"] == "finished"
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["data"]["name"] == "tabular" and config["data"]["path"] == "people.csv"
    assert config["data"]["target"] == "outcome" and config["data"]["missing_categorical"] == "category"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert 0.0 <= metrics["task/test/acc"] <= 1.0

    (work / "noise.key").write_text("0123456789abcdef0123456789abcdef")  # the default releases a sample: keyed noise
    encoded = run_privib("encode", str(folder / "export"), "new_people.csv", "-o", "z.parquet", "--keep", "person",
                         "--noise_key", "noise.key", cwd=work)
    assert encoded.returncode == 0, encoded.stderr[-2000:]
    z = pd.read_parquet(work / "z.parquet")
    assert len(z) == 50 and z["person"].tolist() == [f"p{i:05d}" for i in range(50)]
    assert np.isfinite(z.filter(like="z_").to_numpy()).all()


def test_inspect_prints_schema_balances_and_baselines(work):
    runs_before = sorted((work / "runs").glob("*")) if (work / "runs").exists() else []
    result = run_privib("inspect", *TABLE, cwd=work)
    assert result.returncode == 0, result.stderr[-2000:]
    for needle in ("columns:", "inferred: numbers", "majority baseline", "target outcome", "sensitive age: binned",
                   "quantile bins", "missing values: numeric impute, categorical category"):
        assert needle in result.stdout, needle
    as_json = run_privib("inspect", "--config", "configs/tabular.yaml", *TABLE, "--json", cwd=work)
    assert as_json.returncode == 0, as_json.stderr[-2000:]
    summary = json.loads(as_json.stdout)
    assert summary["splits"] == {"train": 256, "val": 64, "test": 80}
    assert summary["target"]["majority_baseline"]["test"] >= 0.5
    assert summary["sensitive"]["age"]["kind"] == "binned" and len(summary["sensitive"]["age"]["classes"]) == 4
    assert {c["name"]: c["kind"] for c in summary["columns"]}["city"] == "categorical"
    assert (sorted((work / "runs").glob("*")) if (work / "runs").exists() else []) == runs_before  # nothing trained


def test_bad_input_gives_one_line_and_exit_2(work):
    run = run_privib("run", "--config", CONFIG, "--data.path", "people.csv", "--data.target", "outcme",
                     "--data.sensitive", "gender", *TINY, "--runs_dir", "bad_runs", cwd=work)
    _one_error_line(run, "'outcme'", "did you mean 'outcome'")
    assert not (work / "bad_runs").exists()
    (work / "latin.csv").write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    inspect = run_privib("inspect", "--data.path", "latin.csv", "--data.target", "b", "--data.sensitive", "a", cwd=work)
    _one_error_line(inspect, "--data.encoding")
    adult = run_privib("run", "--data.path", "people.csv", *TINY, cwd=work)
    _one_error_line(adult, "data.path is an option of generic tables", "configs/tabular.yaml")


def test_datasets_lists_the_generic_table(work):
    result = run_privib("datasets", cwd=work)
    assert result.returncode == 0
    assert any(line.startswith("tabular") and "--data.path" in line for line in result.stdout.splitlines())
