"""Runs as ``privib compare`` reads them, written by hand: run folders, and W&B public-API run records."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

PRESETS = {
    "mlp": {"deterministic": True, "beta": 0.0, "adv_weight": 0.0, "recon_weight": 0.0},
    "adv": {"deterministic": True, "beta": 0.0, "adv_weight": 1.0, "recon_weight": 0.0},
    "vib_adv": {"deterministic": False, "beta": 0.001, "adv_weight": 1.0, "recon_weight": 0.0},
}


def make_run(root: Path, name: str, method: str | None, model: dict, seed: int, metrics: dict, state: str = "finished",
             group: str = "g") -> Path:
    folder = root / f"{name}-20250101-000000-{seed:06x}"
    folder.mkdir(parents=True)
    config = {"seed_everything": seed, "name": name, "runs_dir": str(root), "method": method, "threads": 1,
              "data": {"name": "adult", "sensitive": "sex,race", "root": f"/data/{seed}"},
              "model": {"z_dim": 16, **PRESETS.get(method or "vib_adv", {}), **model},
              "trainer": {"max_epochs": 3, "enable_progress_bar": False},
              "wandb": {"enabled": True, "project": "privib", "group": group, "tags": [name], "mode": "auto"}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "status.json").write_text(json.dumps({"state": state}))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def figures(acc: float, sex: float, race: float, **extra: float) -> dict:
    return {"task/test/acc": acc, "task/probe/acc_max": acc + 0.01, "leakage/sex/auc_max": sex,
            "leakage/race/auc_max": race, "fairness/sex/dp_gap": 0.1, "robustness/noise/area": 0.8,
            "task/val/acc": 0.9, **extra}


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
