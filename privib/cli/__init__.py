"""The ``privib`` command line: one entry point, one subcommand per job, and nothing else.

Every subcommand is a module of this package with a ``main(argv) -> int``, parsing with the one
parser style of :mod:`privib.parsing`. Bad input ends with one ``privib: error: ...`` line on
stderr and exit code 2; a traceback is shown only with ``--debug``. Heavy libraries load only
in the subcommand that needs them, so ``privib --help`` stays fast. Only this package attaches
log handlers. ``python -m privib.cli`` runs it too. :mod:`privib.cli.warm` is no command: it is the
process from which ``privib sweep`` forks its points (:mod:`privib.sweep.warm`).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import warnings
import importlib
from typing import Any
from collections.abc import Callable

from privib.errors import PrivibError, Terminated, printable

Command = Callable[[list[str]], int]


# name -> (module of privib.cli with a ``main``, one-line help); a module is imported only when its command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "train an encoder and run the pipeline's stages (default: configs/adult.yaml)"),
    "datasets": ("datasets", "list the registered datasets"),
    "inspect": ("inspect", "show a table's inferred schema, class balances and majority baselines, before training"),
    "export": ("export", "export a run's encoder (safetensors, ONNX, torch.export) with preprocess.json and a model card"),
    "encode": ("encode", "encode a CSV / Parquet file with an exported encoder, in batches"),
    "evaluate": ("evaluate", "re-run the evaluation stages and the report on a trained run folder"),
    "sweep": ("sweep", "run a grid of runs (methods x values x seeds) in parallel, resumable, then compare; or write W&B sweeps"),
    "compare": ("compare", "compare runs: mean ± std table over seeds, Pareto plot of accuracy vs leakage, locally or from W&B"),
}


def _load_command(module: str) -> Command:
    return importlib.import_module(f"privib.cli.{module}").main


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
    for pattern in (".*litlogger.*", ".*LeafSpec.*", ".*does not have many workers.*", ".*is an invalid version.*",
                    ".*log_every_n_steps.*", ".*anonymous setting.*"):
        warnings.filterwarnings("ignore", message=pattern)
    os.environ.setdefault("WANDB_SILENT", "true")
    # Lightning's info lines (GPU/TPU available, "`Trainer.fit` stopped") say nothing about the run: privib's
    # stage lines do. Its warnings still show.
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
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
