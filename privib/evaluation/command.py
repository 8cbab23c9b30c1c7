"""``privib evaluate RUN_FOLDER``: re-run the evaluation stages and the report on a trained run.

It reads only the run folder (config.yaml, checkpoints/, history.json) plus the data its
config names. ``--evaluation.*`` options override the run's evaluation section (e.g. a
stronger attacker list); the section actually used is written back to config.yaml, so
config.yaml always describes metrics.json. Metrics are replaced in one atomic write
(figures of the previous evaluation that this one no longer produces are dropped);
status.json is left as it is.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from privib.errors import ConfigError

DEFAULT_STAGES = "test,evaluate,report"


def _parser(defaults: dict[str, Any] | None) -> Any:
    from jsonargparse import ArgumentParser

    from privib.pipeline.options import EvaluationOptions

    parser = ArgumentParser(
        prog="privib evaluate",
        exit_on_error=False,
        description="Re-run the evaluation stages (task, leakage, robustness, information plane) and the report on a "
        "trained run folder; --evaluation.* options override the run's evaluation section.",
    )
    parser.add_argument("run", type=str, help="A run folder printed by `privib run` (holds config.yaml and checkpoints/).")
    parser.add_argument("--stages", type=str, default=DEFAULT_STAGES,
                        help="Comma-separated stages to run, in order (e.g. report alone redraws the report).")
    parser.add_argument("--threads", type=int | None, default=None, help="Torch CPU threads (default: the run's).")
    parser.add_class_arguments(EvaluationOptions, "evaluation")
    if defaults:
        parser.set_defaults({f"evaluation.{k}": v for k, v in defaults.items()})
    return parser


def _parse(parser: Any, argv: list[str]) -> Any:
    from argparse import ArgumentError

    from privib.pipeline.config import one_line

    try:
        return parser.parse_args(argv)
    except (ArgumentError, ValueError, OSError) as exc:
        raise ConfigError(one_line(str(exc)).replace("privib run --help", "privib evaluate --help")) from exc


def find_wandb_run_id(run_dir: Path) -> str | None:
    """The id of the latest W&B run stored under ``run_dir/wandb`` (``[offline-]run-<time>-<id>``), if any."""
    wandb_dir = run_dir / "wandb"
    if not wandb_dir.is_dir():
        return None
    runs = sorted((p for p in wandb_dir.iterdir() if p.is_dir() and p.name.startswith(("run-", "offline-run-"))),
                  key=lambda p: p.name.split("run-", 1)[1])
    return runs[-1].name.rsplit("-", 1)[-1] if runs else None


def resume_wandb_logger(folder: Any, config: dict[str, Any]) -> Any | None:
    """A W&B logger that resumes the run's own W&B run (same id), or None when W&B is off or the run has none."""
    from privib.pipeline.options import WandbOptions
    from privib.pipeline.tracking import make_wandb_logger

    run_id = folder.status().get("wandb_id") or find_wandb_run_id(folder.path)
    if run_id is None or not config.get("wandb"):
        return None
    logger, _ = make_wandb_logger(WandbOptions(**config["wandb"]), folder.path, config, run_id)
    return logger


def evaluate_command(argv: list[str]) -> int:
    """``privib evaluate RUN_FOLDER [--stages ...] [--evaluation.* ...]``."""
    from privib.locks import FolderLock
    from privib.pipeline.runs import RunFolder

    first = _parse(_parser(None), argv)  # finds the run folder (and answers --help)
    folder = RunFolder.open(first.run)
    with FolderLock(folder.path, "evaluating"):  # never beside a training run, or another evaluate
        return _evaluate_locked(folder, argv)


def _evaluate_locked(folder: Any, argv: list[str]) -> int:
    """The body of :func:`evaluate_command`, run while the run folder is locked."""
    import torch

    from privib.evaluation.stage import EVALUATION_PREFIXES, check_evaluation_config
    from privib.io import read_json, write_json_atomic
    from privib.pipeline.config import command_line_modules
    from privib.pipeline.context import RunContext
    from privib.pipeline.stages import get_stage

    config = folder.read_config()
    args = _parse(_parser(config.get("evaluation")), argv)
    if not any((folder.checkpoints / name).is_file() for name in ("best.ckpt", "last.ckpt")):
        raise ConfigError(f"run folder {folder.path} has no checkpoint (checkpoints/best.ckpt or last.ckpt): "
                          "it never finished an epoch; train it again with `privib run`")
    evaluation = args.evaluation.as_dict()
    changed = evaluation != config.get("evaluation")
    config["evaluation"] = evaluation
    trusted = command_line_modules(argv)
    check_evaluation_config(config, trusted)
    names = [name.strip() for name in str(args.stages).strip("[]").split(",") if name.strip()]
    if not names:
        raise ConfigError(f"--stages names no stage: pass e.g. --stages {DEFAULT_STAGES}")
    if "fit" in names:
        raise ConfigError("privib evaluate re-runs evaluation stages on a trained encoder; `fit` needs `privib run`")
    stages = [(name, get_stage(name)) for name in names]
    threads = args.threads if args.threads is not None else int(config.get("threads") or 1)
    if threads < 1:
        raise ConfigError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)

    logger = resume_wandb_logger(folder, config)
    context = RunContext(folder=folder, config=config, logger=logger, trusted_modules=trusted)
    new: dict[str, Any] = {}
    timings: dict[str, float] = {}
    flushed = False

    def flush() -> None:
        old = folder.metrics()
        if "evaluate" in names:
            old = {k: v for k, v in old.items() if not k.startswith(EVALUATION_PREFIXES)}
        write_json_atomic(folder.metrics_path, {**old, **new})
        timings_path = folder.path / "timings.json"
        old_timings = read_json(timings_path) if timings_path.is_file() else {}
        write_json_atomic(timings_path, {**old_timings, **timings})
        if changed:
            folder.write_config(config)
        if logger is not None:
            logger.experiment.summary.update(new)

    try:
        for name, run_stage in stages:
            if name == "report" and not flushed:
                flush()
                flushed = True
            started = time.perf_counter()
            result = run_stage(context)
            timings[f"stage/{name}_s"] = time.perf_counter() - started
            timings.update({k: v for k, v in result.items() if k.startswith("time/")})
            new.update({k: v for k, v in result.items() if not k.startswith("time/")})
        flush()
    finally:
        if logger is not None:
            import wandb

            if wandb.run is not None:
                wandb.finish()
    _print_summary(folder.metrics())
    print(folder.path / "report.md" if (folder.path / "report.md").is_file() else folder.path, flush=True)
    return 0


def _print_summary(metrics: dict[str, Any]) -> None:
    from privib.evaluation.report import attributes_of

    parts = []
    if "task/test/acc" in metrics:
        parts.append(f"task/test/acc {metrics['task/test/acc']:.4f}")
    for a in attributes_of(metrics):
        text = f"leakage/{a}/auc_max {metrics[f'leakage/{a}/auc_max']:.4f}"
        if f"leakage/{a}/auc_max_lo" in metrics:
            text += f" [{metrics[f'leakage/{a}/auc_max_lo']:.4f}, {metrics[f'leakage/{a}/auc_max_hi']:.4f}]"
        if f"leakage/{a}/raw_auc_max" in metrics:
            text += f" (raw {metrics[f'leakage/{a}/raw_auc_max']:.4f})"
        parts.append(text)
    if parts:
        print("; ".join(parts), flush=True)
