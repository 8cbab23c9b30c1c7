"""Train tiny runs in-process for the evaluation tests (synthetic data unless told otherwise)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

STAGES = ("fit", "test", "evaluate", "report")


def pipeline_file(folder: Path, stages: tuple[str, ...] = STAGES) -> Path:
    path = folder / f"pipeline-{'-'.join(stages)}.yaml"
    path.write_text(yaml.safe_dump({"stages": list(stages)}))
    return path


def synthetic_args(options: dict[str, Any], epochs: int = 2, release: str = "mean") -> list[str]:
    """Arguments for the synthetic dataset; ``release`` is pinned so each test knows which keys are unprefixed."""
    return ["--data.name", "synthetic", "--data.sensitive", "s", "--data.options", json.dumps(options),
            "--trainer.max_epochs", str(epochs), "--model.release", release]


def train_run(work: Path, *args: str, stages: tuple[str, ...] = STAGES, name: str = "t") -> Path:
    """``privib run`` in this process with W&B off and no progress bar; returns the run folder."""
    from privib.pipeline.config import parse_run_config
    from privib.pipeline.runner import run_pipeline

    _, config = parse_run_config([
        "--name", name, "--runs_dir", str(work / "runs"), "--pipeline", str(pipeline_file(work, stages)),
        "--wandb.enabled", "false", "--trainer.enable_progress_bar", "false", *args,
    ])
    folder = run_pipeline(config)
    assert folder is not None
    return Path(folder)


def metrics_of(folder: Path) -> dict[str, float]:
    return json.loads((folder / "metrics.json").read_text())
