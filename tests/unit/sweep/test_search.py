"""``privib sweep --optuna``: the search space read from a grid, and NSGA-II studies run with a stand-in for `privib run`."""
from __future__ import annotations

import json
import os
import sys

import pytest

from helpers.sweeps import SPEC, write_spec
from privib.errors import ConfigError
from privib.sweep import search
from privib.sweep.points import child_argv
from privib.sweep.search import run_search, search_space
from privib.sweep.spec import load_sweep_spec

optuna = pytest.importorskip("optuna")


def test_search_space_from_a_grid():
    space = search_space({"model.beta": [0.001, 0.01, 1.0], "model.adv_weight": [0.5, 1, 2], "model.n_cells": [2, 4, 16],
                          "model.z_dim": [8], "baseline.kind": ["lr", "gbm"], "model.encoder_widths": [[64], [128, 128]]})
    assert space["model.beta"] == ("float", 0.001, 1.0, True)  # positive and spans 1000x: log scale
    assert space["model.adv_weight"] == ("float", 0.5, 2, False)  # a factor of 4: linear
    assert space["model.n_cells"] == ("int", 2, 16, False)
    assert space["baseline.kind"] == ("categorical", ['"lr"', '"gbm"'])
    assert space["model.encoder_widths"] == ("categorical", ["[64]", "[128, 128]"])
    assert space["model.z_dim"] == ("fixed", 8)  # one value: every trial has it, nothing to search
    assert search._budget({"model.z_dim": ("fixed", 8)}, 12) == 1
    assert search._budget({"k": ("categorical", ["a", "b"]), "model.z_dim": ("fixed", 8)}, 12) == 2
    assert search._budget(space, 12) == 12


@pytest.fixture()
def fake_command(monkeypatch, fake_run):
    """Trials run the stand-in for `privib run` instead of privib itself."""
    def command(spec, runs_dir):
        return lambda point: [sys.executable, str(fake_run), *child_argv(spec, point, runs_dir.resolve())]
    monkeypatch.setattr(search, "point_command", command)


def _spec(tmp_path, **flags):
    spec = json.loads(json.dumps(SPEC))
    spec["sweep"]["methods"] = {"vib": {"model.beta": [0.01, 0.3]}, "mlp": {}}
    spec["sweep"]["workers"] = 2
    return load_sweep_spec(write_spec(tmp_path, spec), directory=str(tmp_path / "sweep"), **flags)


def test_studies_run_resume_and_continue(tmp_path, fake_command):
    spec = _spec(tmp_path)
    runs_dir = spec.dir / "runs"
    quiet = open(os.devnull, "w")
    assert run_search(spec, 4, None, runs_dir, {}, no_compare=True, out=quiet) == 0
    storage = f"sqlite:///{(spec.dir / 'optuna.db').resolve()}"
    vib = optuna.load_study(study_name="unit-vib", storage=storage)
    complete = [t for t in vib.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4 and set(complete[0].params) == {"model.beta"}  # z_dim has one value: not searched
    for trial in complete:  # the stand-in's figures: accuracy 0.81 - beta, AUC 0.9 - beta, beta in [0.01, 0.3] (log)
        beta = trial.params["model.beta"]
        assert 0.01 <= beta <= 0.3 and trial.values == pytest.approx([0.81 - beta, 0.9 - beta])
    mlp = optuna.load_study(study_name="unit-mlp", storage=storage)
    assert len(mlp.trials) == 1  # nothing to search: one run
    attempts = (spec.dir / "attempts.jsonl").read_text().splitlines()
    assert len(attempts) == 5
    # Re-running the same command runs nothing more; asking for more trials runs only those.
    assert run_search(spec, 4, None, runs_dir, {}, no_compare=True, out=quiet) == 0
    assert len((spec.dir / "attempts.jsonl").read_text().splitlines()) == 5
    assert run_search(spec, 6, None, runs_dir, {}, no_compare=True, out=quiet) == 0
    assert len((spec.dir / "attempts.jsonl").read_text().splitlines()) == 7
    summary = (spec.dir / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 6 + 1 and all(",finished," in line for line in summary[1:])


def test_failed_trials_are_told_and_counted(tmp_path, fake_command):
    spec = _spec(tmp_path, methods="vib", grid=["model.beta=666"])  # the stand-in's run fails at beta 666
    result = run_search(spec, 3, None, spec.dir / "runs", {}, no_compare=True, out=open(os.devnull, "w"))
    study = optuna.load_study(study_name="unit-vib", storage=f"sqlite:///{(spec.dir / 'optuna.db').resolve()}")
    # One point to run (nothing to search); it fails, is told FAIL, and is tried once more, never more.
    assert result == 1 and [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    attempts = [json.loads(line) for line in (spec.dir / "attempts.jsonl").read_text().splitlines()]
    assert [a["reason"] for a in attempts] == ["TrainingDiverged: loss is nan"] * 2


def test_bad_storage_and_trials_are_one_line_errors(tmp_path, fake_command):
    spec = _spec(tmp_path)
    with pytest.raises(ConfigError, match="--trials must be at least 1"):
        run_search(spec, 0, None, spec.dir / "runs", {}, no_compare=True)
    with pytest.raises(ConfigError, match="--storage nosuchdb://x: Optuna could not open it") as error:
        run_search(spec, 2, "nosuchdb://x", spec.dir / "runs", {}, no_compare=True)
    assert "\n" not in str(error.value)
