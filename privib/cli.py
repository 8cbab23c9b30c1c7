"""The ``privib`` command line: one entry point, one subcommand per job.

Bad input ends with one ``privib: error: ...`` line on stderr and exit code 2; a
traceback is shown only with ``--debug``. Heavy libraries load only in the subcommand
that needs them, so ``privib --help`` stays fast.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import warnings
import importlib
from typing import Any, Callable

from privib.errors import PrivibError, Terminated, printable

Command = Callable[[list[str]], int]


def run_command(argv: list[str]) -> int:
    """``privib run``: parse the config, run the pipeline, print the run folder last.

    ``--resume RUN_FOLDER`` continues a killed or failed run from its last checkpoint with
    the config saved in that folder.
    """
    from privib.errors import ConfigError
    from privib.pipeline.config import command_line_modules, parse_run_config, split_resume

    resume, rest = split_resume(argv)
    if resume is not None:
        if rest:
            raise ConfigError(f"--resume continues a run with its saved config.yaml: drop the other options {rest}")
        from privib.pipeline.runner import resume_run

        folder = resume_run(resume)
    else:
        _, config = parse_run_config(argv)  # `--help` prints and exits here, before torch is imported
        from privib.pipeline.runner import run_pipeline

        folder = run_pipeline(config, trusted=command_line_modules(argv))
    if folder is not None:
        print(folder, flush=True)
    return 0


def datasets_command(argv: list[str]) -> int:
    """``privib datasets``: one line per registered dataset."""
    parser = argparse.ArgumentParser(prog="privib datasets", description="List the registered datasets.")
    parser.parse_args(argv)
    from privib.data.registry import list_datasets

    for entry in list_datasets():
        choices = ", ".join(entry.sensitive_choices) or "any column"
        print(f"{entry.name:12s} {entry.description} (sensitive: {choices})")
    return 0


# name -> ("module:function", one-line help); the module is imported only when its command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("privib.cli:run_command", "train an encoder and run the pipeline's stages (default: configs/adult.yaml)"),
    "datasets": ("privib.cli:datasets_command", "list the registered datasets"),
    "inspect": ("privib.data.inspect:inspect_command", "show a table's inferred schema, class balances and majority baselines, before training"),
    "export": ("privib.export.commands:export_command", "export a run's encoder (safetensors, ONNX, torch.export) with preprocess.json and a model card"),
    "encode": ("privib.export.commands:encode_command", "encode a CSV / Parquet file with an exported encoder, in batches"),
    "evaluate": ("privib.evaluation.command:evaluate_command", "re-run the evaluation stages and the report on a trained run folder"),
    "sweep": ("privib.pipeline.sweep:sweep_command", "run a grid of runs (methods x values x seeds) in parallel, resumable, then compare; or write W&B sweeps"),
    "compare": ("privib.pipeline.compare:compare_command", "compare runs: mean ± std table over seeds, Pareto plot of accuracy vs leakage, locally or from W&B"),
}


def _load_command(target: str) -> Command:
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:10s} {help_}" for name, (_, help_) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="privib",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="privib: privacy-preserving representation learning (VIB encoders audited by fresh attackers).",
        epilog=f"commands:\n{lines}\n\n`privib COMMAND --help` explains each command's options.\n"
        "--debug (anywhere) shows full tracebacks.",
        usage="privib [--debug] COMMAND [OPTIONS]",
    )


class _CurrentStderrHandler(logging.StreamHandler):
    """Write to whatever ``sys.stderr`` is at the time of each record (tests swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def _quiet_libraries() -> None:
    """Silence third-party chatter that says nothing about the user's run; show privib's warnings."""
    handler = _CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("privib: %(levelname)s: %(message)s"))
    privib_log = logging.getLogger("privib")
    if not privib_log.handlers:
        privib_log.addHandler(handler)
        privib_log.setLevel(logging.INFO)
        privib_log.propagate = False
    for pattern in (".*litlogger.*", ".*LeafSpec.*", ".*does not have many workers.*", ".*is an invalid version.*"):
        warnings.filterwarnings("ignore", message=pattern)
    os.environ.setdefault("WANDB_SILENT", "true")
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
        lambda record: "litlogger" not in record.getMessage() and "LitLogger" not in record.getMessage()
    )


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def _terminate_on_signals() -> dict[int, Any]:
    """SIGTERM and SIGHUP unwind the command like Ctrl-C does, so every stage records its end.

    Without this, SIGTERM kills the process where it stands (a run's status stays ``running``)
    or, inside training, Lightning turns it into an exit with code 0. Installed before any
    training starts, so Lightning keeps it instead of registering its own. Returns the previous
    handlers, which :func:`main` puts back.
    """
    import signal

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _raise_terminated) for signum in (signal.SIGTERM, signal.SIGHUP)}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``privib`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    if not args or args[0] in ("-h", "--help"):
        _top_parser().print_help()
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"privib: error: unknown command '{name}': use one of {', '.join(COMMANDS)} (privib --help)", file=sys.stderr)
        return 2
    _quiet_libraries()
    previous = _terminate_on_signals()
    try:
        return _load_command(COMMANDS[name][0])(rest)
    except PrivibError as exc:
        if debug:
            raise
        print(f"privib: error: {printable(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("privib: interrupted (SIGINT)", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"privib: terminated ({exc.signal_name})", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if debug:
            raise
        print(f"privib: internal error: {type(exc).__name__}: {printable(exc)} (re-run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        import signal

        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
