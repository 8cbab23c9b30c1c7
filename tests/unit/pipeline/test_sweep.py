"""privib sweep: spec and grid expansion, point ids, validation, the parallel runner, resume, summary, W&B configs.

The runner is exercised with a stand-in for `privib run` (a small script that writes a run
folder the way privib does), so these tests train nothing; tests/integration/test_sweep.py
runs real points.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from privib.cli import main
from privib.errors import ConfigError
from privib.pipeline.sweep import (
    THREAD_ENV, check_keys, child_argv, child_env, done_points, expand_points, load_sweep_spec, parse_grid_flag,
    point_id, run_points, validate_points, wandb_sweep_configs, write_summary,
)

SPEC = {
    "stages": ["fit", "test"],
    "sweep": {
        "name": "unit",
        "seeds": [0, 1],
        "fixed": {"trainer.max_epochs": 1},
        "grid": {"model.z_dim": [8]},
        "methods": {"mlp": {}, "vib": {"model.beta": [0.01, 0.1]}, "vib_adv": {"model.beta": [0.01], "model.adv_weight": [1, 10]}},
    },
}

FAKE_RUN = textwrap.dedent('''
    """Stand-in for `privib run`: writes a run folder like privib's; beta 666 fails in the run, 999 before it."""
    import json, os, secrets, sys, time
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    beta = float(args.get("--model.beta", 0))
    if beta == 999:
        print("privib: error: model.beta 999 is not allowed", file=sys.stderr)
        sys.exit(2)
    folder = os.path.join(args["--runs_dir"], f"{args['--name']}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}")
    os.makedirs(folder)
    config = {"seed_everything": int(args["--seed_everything"]), "method": args.get("--method"),
              "model": {"beta": beta}, "wandb": {"group": args["--wandb.group"]}}
    open(os.path.join(folder, "config.yaml"), "w").write(json.dumps(config))
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    if beta == 666:
        open(os.path.join(folder, "status.json"), "w").write(json.dumps({"state": "failed", "reason": "TrainingDiverged: loss is nan"}))
        sys.exit(1)
    metrics = {"task/test/acc": 0.8 - beta, "leakage/sex/auc_max": 0.9 - beta, "threads": float(os.environ["OMP_NUM_THREADS"])}
    open(os.path.join(folder, "metrics.json"), "w").write(json.dumps(metrics))
    open(os.path.join(folder, "status.json"), "w").write(json.dumps({"state": "finished"}))
    print(folder)
''')


def write_spec(tmp_path: Path, spec: dict | None = None, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec or SPEC))
    return path


@pytest.fixture()
def fake_run(tmp_path: Path) -> Path:
    script = tmp_path / "fake_privib_run.py"
    script.write_text(FAKE_RUN)
    return script


# ---------------------------------------------------------------------------- spec and points
def test_expansion_is_seed_major_with_per_method_grids(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path), directory=str(tmp_path / "out"))
    points = expand_points(spec)
    assert len(points) == (1 + 2 + 2) * 2
    assert [p.seed for p in points] == [0] * 5 + [1] * 5
    first = [(p.method, p.params_dict()) for p in points[:5]]
    assert first[0] == ("mlp", {"model.z_dim": 8})
    assert ("vib_adv", {"model.z_dim": 8, "model.beta": 0.01, "model.adv_weight": 10}) in first
    assert spec.pipeline == str(tmp_path / "spec.yaml")  # the spec lists stages: runs use it as their pipeline
    assert len({p.id for p in points}) == len(points) and all(p.run_name == f"{p.method}-{p.id}" for p in points)


def test_point_ids_are_stable_and_depend_on_every_override():
    base = point_id("vib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 5}, "configs/adult.yaml")
    assert base == point_id("vib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 5}, "configs/adult.yaml")
    assert point_id("vib", {"model.beta": 1}, 0, {}, "c") == point_id("vib", {"model.beta": 1.0}, 0, {}, "c")
    others = [point_id("vib", {"model.beta": 0.1}, 0, {"trainer.max_epochs": 5}, "configs/adult.yaml"),
              point_id("vib", {"model.beta": 0.01}, 1, {"trainer.max_epochs": 5}, "configs/adult.yaml"),
              point_id("cvib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 5}, "configs/adult.yaml"),
              point_id("vib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 6}, "configs/adult.yaml"),
              point_id("vib", {"model.beta": 0.01}, 0, {"trainer.max_epochs": 5}, "configs/other.yaml")]
    assert len({base, *others}) == 6 and len(base) == 10


def test_flags_override_the_spec(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path), methods="vib,cvib", seeds="3", grid=["model.beta=0.5,1e-3"],
                           sets=["trainer.max_epochs=4", "data.sensitive=sex"], workers=3, threads=2, name="other")
    assert spec.methods == {"vib": {"model.beta": [0.5, 0.001]}, "cvib": {}}
    assert spec.seeds == [3] and spec.workers == 3 and spec.threads == 2 and spec.name == "other"
    assert spec.fixed == {"trainer.max_epochs": 4, "data.sensitive": "sex"}
    assert spec.dir == Path("runs/other")
    # A --grid key no method grid has is added to the shared grid (crossed into every method).
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model.lr=[0.001, 0.01]"])
    assert spec.grid == {"model.z_dim": [8], "model.lr": [0.001, 0.01]}
    assert parse_grid_flag("model.encoder_widths=[[64], [128, 128]]") == ("model.encoder_widths", [[64], [128, 128]])


def test_child_arguments_carry_method_seed_group_and_one_thread(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path))
    point = [p for p in expand_points(spec) if p.method == "vib_adv"][-1]
    argv = child_argv(spec, point, tmp_path / "runs")
    pairs = dict(zip(argv[::2], argv[1::2]))
    assert pairs["--method"] == "vib_adv" and pairs["--seed_everything"] == "1" and pairs["--wandb.group"] == "unit"
    assert pairs["--model.adv_weight"] == "10" and pairs["--model.beta"] == "0.01" and pairs["--threads"] == "1"
    assert pairs["--name"] == point.run_name and pairs["--runs_dir"] == str(tmp_path / "runs")
    assert json.loads(pairs["--wandb.tags"]) == ["unit", "vib_adv"]
    env = child_env(1)
    assert all(env[k] == "1" for k in THREAD_ENV)


@pytest.mark.parametrize("change, needle", [
    ({"methods": None, "grid": {}}, "empty grid"),
    ({"methods": []}, "empty grid"),
    ({"grid": {"model.z_dim": []}}, "empty list of values"),
    ({"seeds": []}, "no seeds"),
    ({"fixed": {"seed_everything": 3}}, "list seeds under sweep.seeds"),
    ({"grid": {"wandb.group": ["a"]}}, "W&B group"),
    ({"workers": 0}, "at least 1"),
    ({"bogus": 1}, "unknown key(s) ['bogus']"),
    ({"config": "nope.yaml"}, "nope.yaml"),
])
def test_bad_specs_raise_config_errors(tmp_path, change, needle):
    spec = json.loads(json.dumps(SPEC))
    spec["sweep"].update(change)
    with pytest.raises(ConfigError) as error:
        load_sweep_spec(write_spec(tmp_path, spec))
    assert needle in str(error.value)


def test_missing_sweep_section_and_file(tmp_path):
    with pytest.raises(ConfigError, match="no 'sweep' section"):
        load_sweep_spec(write_spec(tmp_path, {"stages": ["fit"]}))
    with pytest.raises(ConfigError, match="not found"):
        load_sweep_spec(tmp_path / "absent.yaml")


def test_grid_keys_are_checked_against_config_keys(tmp_path):
    keys = {"model.beta", "model.adv_weight", "model.z_dim", "trainer.max_epochs", "data.sensitive"}
    spec = load_sweep_spec(write_spec(tmp_path))
    check_keys(spec, keys)
    spec.methods["vib"]["model.bta"] = [0.1]
    with pytest.raises(ConfigError, match=r"sweep.methods.vib: 'model.bta' is not a config key .*did you mean model.beta"):
        check_keys(spec, keys)
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model=1"])
    with pytest.raises(ConfigError, match="it is a section"):
        check_keys(spec, keys)


def test_validation_with_the_real_run_parser(tmp_path):
    from privib.pipeline.config import build_run_parser

    parser = build_run_parser()
    spec = load_sweep_spec(write_spec(tmp_path), grid=["trainer.max_epochs=many"])
    with pytest.raises(ConfigError, match="max_epochs"):
        validate_points(spec, expand_points(spec), tmp_path / "runs", parser)
    spec = load_sweep_spec(write_spec(tmp_path), sets=["trainer.max_epoch=3"])
    with pytest.raises(ConfigError, match="did you mean trainer.max_epochs"):
        validate_points(spec, expand_points(spec), tmp_path / "runs", parser)
    spec = load_sweep_spec(write_spec(tmp_path), methods="vib,nosuch")
    with pytest.raises(ConfigError, match="unknown method 'nosuch': use one of adv, cvib, mlp, vib, vib_adv"):
        validate_points(spec, expand_points(spec), tmp_path / "runs", parser)
    spec = load_sweep_spec(write_spec(tmp_path))
    config = validate_points(spec, expand_points(spec), tmp_path / "runs", parser)
    assert config["method"] == "mlp" and config["model"]["deterministic"] is True and config["wandb"]["group"] == "unit"


# ---------------------------------------------------------------------------- runner
def _run(spec, points, fake_run: Path, workers: int = 2, env: dict | None = None):
    runs_dir = spec.dir / "runs"
    command = lambda p: [sys.executable, str(fake_run), *child_argv(spec, p, runs_dir)]  # noqa: E731
    return run_points(points, command, workers=workers, sweep_dir=spec.dir, runs_dir=runs_dir,
                      env={**child_env(1), **(env or {})}, poll=0.05, out=open(os.devnull, "w"))


def test_runner_failures_summary_and_resume(tmp_path, fake_run):
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model.beta=0.01,666,999"], seeds="0", methods="vib",
                           directory=str(tmp_path / "sweep"))
    points = expand_points(spec)
    assert len(points) == 3
    attempts = _run(spec, points, fake_run)
    assert sorted(a.state for a in attempts) == ["failed", "failed", "finished"]  # a failure does not stop the sweep
    path, rows = write_summary(points, spec.dir / "runs", spec.dir)
    by_beta = {row["model.beta"]: row for row in rows}
    assert by_beta["0.01"]["state"] == "finished" and by_beta["0.01"]["task/test/acc"] == pytest.approx(0.79)
    assert by_beta["666"]["state"] == "failed" and by_beta["666"]["reason"] == "TrainingDiverged: loss is nan"
    assert by_beta["999"]["state"] == "failed" and by_beta["999"]["reason"] == "model.beta 999 is not allowed"
    assert by_beta["999"]["run_dir"] == ""
    assert path.read_text().count("\n") == 4
    finished = spec.dir / by_beta["0.01"]["run_dir"]
    assert json.loads((finished / "metrics.json").read_text())["threads"] == 1.0  # one BLAS thread per child
    assert (spec.dir / "logs" / f"{points[2].run_name}.log").read_text().count("model.beta 999 is not allowed") == 1
    # Resume: only the points without a finished run run again.
    done = done_points(points, spec.dir / "runs")
    assert done == {p.id for p in points if p.params_dict()["model.beta"] == 0.01}
    again = _run(spec, [p for p in points if p.id not in done], fake_run)
    assert len(again) == 2
    _, rows = write_summary(points, spec.dir / "runs", spec.dir)
    assert {r["model.beta"]: r["attempts"] for r in rows} == {"0.01": 1, "666": 2, "999": 2}
    assert len((spec.dir / "attempts.jsonl").read_text().splitlines()) == 5


def test_workers_run_in_parallel(tmp_path, fake_run):
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model.beta=0.01,0.02,0.03,0.04"], seeds="0", methods="vib",
                           directory=str(tmp_path / "sweep"))
    started = time.monotonic()
    attempts = _run(spec, expand_points(spec), fake_run, workers=4, env={"FAKE_SLEEP": "3"})
    elapsed = time.monotonic() - started
    assert [a.state for a in attempts] == ["finished"] * 4
    assert elapsed < 4 * 3, f"4 workers took {elapsed:.1f} s for 4 x 3 s points"


def test_interrupt_stops_children_and_records_them(tmp_path, fake_run):
    spec = load_sweep_spec(write_spec(tmp_path), grid=["model.beta=0.01,0.02,0.03"], seeds="0", methods="vib",
                           directory=str(tmp_path / "sweep"))
    points = expand_points(spec)
    # A shell that starts a job in the background makes it ignore SIGINT; Ctrl-C must raise here regardless.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(2.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(spec, points, fake_run, workers=2, env={"FAKE_SLEEP": "60"})
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    attempts = [json.loads(line) for line in (spec.dir / "attempts.jsonl").read_text().splitlines()]
    assert len(attempts) == 2 and all(a["state"] == "failed" for a in attempts)  # the third never started
    assert all(a["reason"].startswith("interrupted with the sweep") for a in attempts)
    assert done_points(points, spec.dir / "runs") == set()


# ---------------------------------------------------------------------------- W&B backend
def test_wandb_sweep_configs_one_grid_per_method(tmp_path):
    spec = load_sweep_spec(write_spec(tmp_path))
    configs = wandb_sweep_configs(spec)
    assert set(configs) == {"mlp", "vib", "vib_adv"}
    vib_adv = configs["vib_adv"]
    assert vib_adv["method"] == "grid" and vib_adv["name"] == "unit-vib_adv"
    assert vib_adv["parameters"] == {"method": {"values": ["vib_adv"]}, "model.z_dim": {"values": [8]},
                                     "model.beta": {"values": [0.01]}, "model.adv_weight": {"values": [1, 10]},
                                     "seed_everything": {"values": [0, 1]}}
    command = vib_adv["command"]
    assert command[:3] == ["${env}", "privib", "run"] and command[-1] == "${args}"
    assert command[command.index("--wandb.group") + 1] == "unit"
    assert command[command.index("--trainer.max_epochs") + 1] == "1"
    # Methods sharing a grid share one W&B sweep.
    shared = load_sweep_spec(write_spec(tmp_path, {**SPEC, "sweep": {**SPEC["sweep"], "methods": ["vib", "cvib"]}}))
    assert list(wandb_sweep_configs(shared)) == ["vib-cvib"]


# ---------------------------------------------------------------------------- command line
@pytest.mark.parametrize("extra, needle", [
    (["--methods", "vib,nosuch"], "unknown method 'nosuch'"),
    (["--grid", "model.bta=1,2"], "'model.bta' is not a config key"),
    (["--seeds", ""], "no seeds"),
    (["--backend", "slurm"], "invalid choice"),
])
def test_bad_command_lines_are_one_error_line(tmp_path, capsys, extra, needle):
    code = main(["sweep", str(write_spec(tmp_path)), "--dir", str(tmp_path / "s"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("privib: error: ") and needle in err[0], err
    assert not (tmp_path / "s").exists()


def test_empty_grid_command_line(tmp_path, capsys):
    spec = write_spec(tmp_path, {"stages": ["fit"], "sweep": {"name": "e", "seeds": [0]}})
    assert main(["sweep", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty grid" in err[0]


def test_dry_run_lists_points(tmp_path, capsys):
    assert main(["sweep", str(write_spec(tmp_path)), "--dir", str(tmp_path / "s"), "--dry-run"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-2] == "10 points, 0 done, 10 to run" and out[-1] == str(tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_sweep_folder_runs_one_sweep_at_a_time(tmp_path):
    import subprocess

    from privib.pipeline.sweep import _acquire_lock

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / ".sweep.lock").write_text(str(holder.pid))
        with pytest.raises(ConfigError, match=f"already running \\(pid {holder.pid}\\)"):
            _acquire_lock(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    lock = _acquire_lock(tmp_path)  # the holder is gone: a stale lock is taken over
    assert lock.read_text() == str(os.getpid())
