"""The evaluate stage: the raw reference comes from the cache on a second run, and parallel fits change nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers.runs import synthetic_args, train_run

OPTIONS = {"leakage": "linear", "flip": 0.1, "n_train": 1200, "n_test": 800, "seed": 3}
LIGHT = ["--evaluation.robustness", '{"noise": [0, 0.5]}', "--evaluation.n_boot", "50"]


def _evaluate(run: Path, **evaluation) -> tuple[dict[str, float], dict[str, float]]:
    from privib.pipeline.context import RunContext
    from privib.pipeline.stages.evaluate import evaluate_stage
    from privib.runs.folder import RunFolder

    config = yaml.safe_load((run / "config.yaml").read_text())
    config["evaluation"].update(evaluation)
    out = evaluate_stage(RunContext(folder=RunFolder(run), config=config))
    return ({k: v for k, v in out.items() if not k.startswith("time/")},
            {k: v for k, v in out.items() if k.startswith("time/")})


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("evaluate-cache")
    return train_run(work, *synthetic_args(OPTIONS), *LIGHT, stages=("fit",))


def test_raw_reference_is_computed_once_and_identical_from_the_cache(run, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    first, first_times = _evaluate(run)
    assert first_times["time/evaluate/raw_reference_cache_hit"] == 0.0
    assert len(list((tmp_path / "cache" / "evaluation").glob("raw_reference-*.json"))) == 1
    second, second_times = _evaluate(run)
    assert second_times["time/evaluate/raw_reference_cache_hit"] == 1.0
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)  # every figure, bit for bit
    assert {"leakage/s/raw_auc_max", "leakage/s/raw_auc_max_lo", "task/probe/raw_acc_max"} <= set(second)
    third, third_times = _evaluate(run, n_boot=60)  # another option: another entry, computed again
    assert third_times["time/evaluate/raw_reference_cache_hit"] == 0.0
    assert len(list((tmp_path / "cache" / "evaluation").glob("raw_reference-*.json"))) == 2


def test_parallel_fits_give_the_same_figures(run, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVIB_CACHE", "0")
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    sequential, _ = _evaluate(run, n_jobs=1)
    parallel, times = _evaluate(run, n_jobs=2)
    assert json.dumps(sequential, sort_keys=True) == json.dumps(parallel, sort_keys=True)
    assert times["time/evaluate/raw_reference_cache_hit"] == 0.0 and not (tmp_path / "cache").exists()
