"""A sweep spec, and a stand-in for `privib run` that writes run folders the way privib does (trains nothing).

The ``fake_run`` fixture (the stand-in as a script) is in tests/unit/sweep/conftest.py;
tests/integration/test_sweep_cli.py runs real points.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

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
    metrics = {"task/test/acc": 0.8 - beta, "task/probe/acc_max": 0.81 - beta, "leakage/sex/auc_max": 0.9 - beta,
               "threads": float(os.environ["OMP_NUM_THREADS"])}
    open(os.path.join(folder, "metrics.json"), "w").write(json.dumps(metrics))
    open(os.path.join(folder, "status.json"), "w").write(json.dumps({"state": "finished"}))
    print(folder)
''')


def write_spec(tmp_path: Path, spec: dict | None = None, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec or SPEC))
    return path
