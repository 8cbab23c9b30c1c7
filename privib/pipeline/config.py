"""The run configuration: a jsonargparse parser in LightningCLI's layout, and its instantiation.

Sections: ``seed_everything``, ``name``, ``runs_dir``, ``pipeline``, ``data`` (the
datamodule's arguments), ``model`` (the LightningModule's), ``trainer`` (Lightning's
Trainer), ``checkpoint`` and ``wandb``. Every option is also a dotted flag.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from privib.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = "configs/adult.yaml"
DEFAULT_PIPELINE = "pipelines/standard.yaml"
TRAINER_SKIP = {"logger", "callbacks", "plugins", "default_root_dir", "enable_checkpointing", "profiler"}


def resolve_project_file(path: str | os.PathLike[str]) -> Path:
    """Find ``path`` as given (relative to the working directory), else inside the privib checkout."""
    candidate = Path(path).expanduser()
    if candidate.is_file() or candidate.is_absolute():
        return candidate
    shipped = PROJECT_ROOT / candidate
    return shipped if shipped.is_file() else candidate


def build_run_parser(prog: str = "privib run") -> Any:
    """The parser of ``privib run``: every section, every option, each with its help."""
    from jsonargparse import ActionConfigFile, ArgumentParser
    import pytorch_lightning as pl

    from privib.data.datamodule import PrivibDataModule
    from privib.pipeline.options import CheckpointOptions, WandbOptions
    from privib.training.module import VIBModule

    parser = ArgumentParser(
        prog=prog,
        exit_on_error=False,
        description="Train a privacy-preserving encoder and run the pipeline's stages; prints the run folder last.",
    )
    parser.add_argument("--config", action=ActionConfigFile, help=f"YAML config (default: {DEFAULT_CONFIG}).")
    parser.add_argument("--seed_everything", type=int, default=0, help="Seed of every random generator.")
    parser.add_argument("--name", type=str, default="adult", help="Run name, the first part of the run folder's name.")
    parser.add_argument("--runs_dir", type=str, default="runs", help="Folder in which run folders are created.")
    parser.add_argument("--pipeline", type=str, default=DEFAULT_PIPELINE, help="Pipeline spec listing the stages to run.")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="Torch CPU threads per run. 1 by default: privib's small MLPs gain little from more, and two threads "
        "on a machine whose other core is busy ran 13x slower here.",
    )
    parser.add_class_arguments(PrivibDataModule, "data")
    parser.add_class_arguments(VIBModule, "model", skip={"data_spec"})
    parser.add_class_arguments(pl.Trainer, "trainer", skip=TRAINER_SKIP)
    parser.add_class_arguments(CheckpointOptions, "checkpoint")
    parser.add_class_arguments(WandbOptions, "wandb")
    return parser


def with_default_config(argv: list[str]) -> list[str]:
    """Prepend ``--config configs/adult.yaml`` unless the user named a config."""
    if any(arg == "--config" or arg.startswith("--config=") for arg in argv):
        return argv
    default = resolve_project_file(DEFAULT_CONFIG)
    return ["--config", str(default), *argv] if default.is_file() else argv


def parse_run_config(argv: list[str]) -> tuple[Any, dict[str, Any]]:
    """Parse ``privib run`` arguments; returns the parser and the resolved config as plain dict."""
    from argparse import ArgumentError

    parser = build_run_parser()
    try:
        namespace = parser.parse_args(with_default_config(argv))
    except ArgumentError as exc:
        raise ConfigError(one_line(str(exc))) from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(one_line(str(exc))) from exc
    config = namespace.clone()
    config.pop("config", None)
    return parser, config.as_dict()


def one_line(message: str) -> str:
    """Collapse a multi-line parser message into one line, with a hint for unknown keys."""
    text = re.sub(r"\s+", " ", message).strip()
    if "unrecognized arguments" in text or "does not accept nested key" in text or "No action for key" in text:
        text += " (run `privib run --help` for every option)"
    return text


def load_pipeline_stages(path: str) -> list[str]:
    """Stage names listed by a pipeline spec YAML."""
    import yaml

    spec_path = resolve_project_file(path)
    try:
        spec = yaml.safe_load(spec_path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"pipeline spec {path} not found: pass --pipeline with an existing YAML file") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"pipeline spec {path} is not valid YAML: {one_line(str(exc))}") from exc
    stages = spec.get("stages") if isinstance(spec, dict) else None
    if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
        raise ConfigError(f"pipeline spec {path} must hold a non-empty list 'stages' of stage names")
    return stages
