"""The run configuration: a jsonargparse parser in LightningCLI's layout, and its instantiation.

Sections: ``seed_everything``, ``name``, ``runs_dir``, ``pipeline``, ``data`` (the
datamodule's arguments), ``model`` (the LightningModule's), ``trainer`` (Lightning's
Trainer), ``checkpoint``, ``wandb``, ``evaluation`` and ``baseline`` (a release baseline's, read by the
``release`` stage). Every option is also a dotted flag.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from privib.errors import ConfigError
from privib.io import read_yaml_mapping
from privib.parsing import new_parser, parse_with_cached_help, take_option
from privib.paths import DEFAULT_CONFIG, DEFAULT_PIPELINE, METHODS_DIR, list_shipped, resolve_project_file

# Set by privib itself: the logger and callbacks from the wandb/checkpoint sections, the run folder as root,
# and no automatic hyper-parameter logging (the full config is pushed to W&B instead).
TRAINER_SKIP = {"logger", "callbacks", "plugins", "default_root_dir", "enable_checkpointing", "profiler", "enable_autolog_hparams"}


def build_run_parser(prog: str = "privib run") -> Any:
    """The parser of ``privib run``: every section, every option, each with its help."""
    import pytorch_lightning as pl
    from jsonargparse import ActionConfigFile

    from privib.baselines.options import BaselineOptions
    from privib.data.datamodule import PrivibDataModule
    from privib.evaluation.options import EvaluationOptions
    from privib.runs.wandb import WandbOptions
    from privib.training.module import VIBModule
    from privib.training.options import CheckpointOptions

    parser = new_parser(prog, "Train a privacy-preserving encoder and run the pipeline's stages; prints the run folder last.")
    parser.add_argument("--config", action=ActionConfigFile, help=f"YAML config (default: {DEFAULT_CONFIG}).")
    parser.add_argument("--seed_everything", type=int, default=0, help="Seed of every random generator.")
    parser.add_argument("--name", type=str, default="adult", help="Run name, the first part of the run folder's name.")
    parser.add_argument("--runs_dir", type=str, default="runs", help="Folder in which run folders are created.")
    parser.add_argument(
        "--resume", type=str, default=None,
        help="Continue the run in this run folder from its last checkpoint, with its saved config (no other options).",
    )
    parser.add_argument(
        "--method", type=str | None, default=None,
        help=f"Method preset, a config file from {METHODS_DIR}/ layered after --config and before the other flags: "
        f"{', '.join(list_methods()) or 'none found'}. In a config file, 'method' is only a label.",
    )
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
    parser.add_class_arguments(EvaluationOptions, "evaluation")
    parser.add_class_arguments(BaselineOptions, "baseline")
    # The model summary table would go to stdout, which belongs to the summary line and the run folder.
    parser.set_defaults({"trainer.enable_model_summary": False})
    return parser


def with_default_config(argv: list[str]) -> list[str]:
    """Prepend ``--config configs/adult.yaml`` unless the user named a config."""
    if any(arg == "--config" or arg.startswith("--config=") for arg in argv):
        return argv
    default = resolve_project_file(DEFAULT_CONFIG)
    if not default.is_file():  # a broken install: never train silently on the bare class defaults
        raise ConfigError(f"the default config {DEFAULT_CONFIG} is not installed: reinstall privib, or pass --config FILE")
    return ["--config", str(default), *argv]


def parse_run_config(argv: list[str]) -> tuple[Any, dict[str, Any]]:
    """Parse ``privib run`` arguments; returns the parser and the resolved config as plain dict."""
    argv = _resolve_config_paths(apply_method_preset(with_default_config(argv)))
    for path in _config_paths(argv):
        check_yaml_file(path)
    check_flag_values(argv)
    parser, namespace = parse_with_cached_help("run", build_run_parser, argv, [Path(p) for p in _config_paths(argv)])
    config = namespace.clone()
    config.pop("config", None)
    config.pop("resume", None)
    return parser, config.as_dict()


def split_resume(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take ``--resume FOLDER`` out of ``argv``."""
    return take_option(argv, "--resume", "a run folder: privib run --resume runs/<run>")


def list_methods() -> list[str]:
    """Names of the method presets: the shipped ``configs/methods/*.yaml`` (and those in the working directory)."""
    return list_shipped(METHODS_DIR)


def method_preset_path(name: str) -> Path:
    """The preset file of method ``name``, or a ConfigError listing the presets."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise ConfigError(f"unknown method '{name}': use one of {', '.join(list_methods())}")
    path = resolve_project_file(f"{METHODS_DIR}/{name}.yaml")
    if not path.is_file():
        raise ConfigError(f"unknown method '{name}': use one of {', '.join(list_methods())}")
    return path


def apply_method_preset(argv: list[str]) -> list[str]:
    """Layer method presets: under each config file that names one, and ``--method NAME`` over every config file.

    A config file with ``method: NAME`` gets the preset ``configs/methods/NAME.yaml`` layered just
    before it, so the shipped configs refer to the one place that defines a method's settings and
    their own keys still win. With ``--method NAME``: the ``--config`` files, then the preset, then
    every other flag. The flag itself stays, so the resolved config records ``method: NAME``.
    """
    argv = _layer_config_presets(argv)
    names = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--method"]
    names += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--method=")]
    if argv and argv[-1] == "--method":
        raise ConfigError(f"--method needs a name: use one of {', '.join(list_methods())}")
    if not names:
        return argv
    if len(set(names)) > 1:
        raise ConfigError(f"--method given more than once ({', '.join(names)}): pass one method")
    preset = method_preset_path(names[0])
    configs: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--config" and i + 1 < len(argv):
            configs += argv[i : i + 2]
            i += 2
            continue
        (configs if argv[i].startswith("--config=") else rest).append(argv[i])
        i += 1
    return [*configs, "--config", str(preset), *rest]


def _layer_config_presets(argv: list[str]) -> list[str]:
    """``--config FILE`` preceded by ``--config PRESET`` when FILE says ``method: NAME`` (and is not that preset)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--config" and i + 1 < len(argv):
            path = resolve_project_file(argv[i + 1])
            named = load_yaml_mapping(path).get("method") if path.is_file() else None
            if isinstance(named, str) and named:
                preset = method_preset_path(named)
                if preset.resolve() != path.resolve():
                    out += ["--config", str(preset)]
            out += argv[i : i + 2]
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _resolve_config_paths(argv: list[str]) -> list[str]:
    """Let ``--config configs/x.yaml`` find the shipped file from any working directory."""
    resolved = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            resolved[i + 1] = str(resolve_project_file(argv[i + 1]))
        elif arg.startswith("--config="):
            resolved[i] = "--config=" + str(resolve_project_file(arg.split("=", 1)[1]))
    return resolved


def _config_paths(argv: list[str]) -> list[str]:
    paths = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--config"]
    return paths + [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config=")]


def load_yaml_mapping(path: str | Path, what: str = "config file", fix: str = "pass --config with an existing YAML file") -> dict[str, Any]:
    """:func:`privib.io.read_yaml_mapping` of ``path`` as given, else of the shipped file of that name."""
    return read_yaml_mapping(resolve_project_file(path), what, fix, shown=path)


def command_line_modules(argv: list[str]) -> tuple[str, ...]:
    """Modules of the ``class_path`` values the user typed in flags (never those inside ``--config`` files).

    These are the only modules beyond sklearn and privib that attacker and probe specs may
    import: a config file or a run folder can come from anyone, the command line from the user.
    """
    from privib.evaluation.attackers import class_paths
    from privib.io import parse_yaml

    modules: list[str] = []
    skip_next = False
    for arg in argv:
        if skip_next or arg in ("--config", "--pipeline"):
            skip_next = not skip_next
            continue
        if "class_path" not in arg or arg.startswith(("--config=", "--pipeline=")):
            continue
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        try:
            parsed = parse_yaml(value)
        except Exception:  # not YAML: the parser reports it with the flag's name
            continue
        modules += [path.rpartition(".")[0] for path in class_paths(parsed) if "." in path]
    return tuple(dict.fromkeys(modules))


def check_flag_values(argv: list[str]) -> None:
    """Refuse a flag value that is a YAML alias bomb, before jsonargparse expands it."""
    from privib.io import YamlLimitError, parse_yaml

    for i, arg in enumerate(argv):
        flag, value = (arg.split("=", 1) if arg.startswith("--") and "=" in arg
                       else (argv[i - 1] if i and argv[i - 1].startswith("--") else "a value", arg))
        if "*" not in value or "&" not in value:
            continue
        try:
            parse_yaml(value)
        except YamlLimitError as exc:
            raise ConfigError(f"{flag} {exc}: pass plain values") from exc
        except Exception:  # not YAML: the parser reports it with the flag's name
            continue


def check_yaml_file(path: str) -> None:
    """Raise a ConfigError naming ``path`` when it is missing or not a YAML mapping."""
    load_yaml_mapping(path)


def load_pipeline_stages(path: str) -> list[str]:
    """Stage names listed by a pipeline spec YAML."""
    spec = load_yaml_mapping(path, "pipeline spec", "pass --pipeline with an existing YAML file")
    stages = spec.get("stages") if isinstance(spec, dict) else None
    if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
        raise ConfigError(f"pipeline spec {path} must hold a non-empty list 'stages' of stage names")
    return stages
