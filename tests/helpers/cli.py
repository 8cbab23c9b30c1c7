"""The ``privib`` command line in a fresh process, as a user runs it.

:func:`run_privib` runs each command in a process of its own. By default that process is forked from a warm
parent that has already imported torch, Lightning and privib (privib's own :class:`privib.sweep.warm.WarmLauncher`,
the one ``privib sweep`` forks its points from), which saves about six CPU seconds a command; ``fresh=True``
starts a new interpreter instead, for what a fork cannot show (a new interpreter's hash seed, start-up).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WARNINGS = {"PYTHONWARNINGS": "ignore"}
# The warm parent's own environment: the test session's as it was when the tests were collected, not that of
# whichever test (with its monkeypatched variables) happens to start it; each command gets its own in full.
_SESSION_ENV = dict(os.environ)
_launcher = None


def _warm_launcher():
    """One warm parent per test process, started on first use."""
    global _launcher
    from privib.sweep.warm import WarmLauncher

    if _launcher is None or not _launcher.alive:
        _launcher = WarmLauncher({**_SESSION_ENV, **WARNINGS})
        atexit.register(_launcher.close)
    return _launcher


def _run_warm(commands: list[list[str]], cwd: Path, env: dict[str, str], timeout: float) -> list[subprocess.CompletedProcess]:
    """Run ``commands`` at the same time, each in its own forked child; their results in order."""
    with tempfile.TemporaryDirectory(prefix="privib-cli-") as scratch:
        files = [(Path(scratch) / f"{i}.out", Path(scratch) / f"{i}.err") for i in range(len(commands))]
        children = [_warm_launcher().start(args, out, env, cwd=cwd, stderr=err) for args, (out, err) in zip(commands, files)]
        deadline = time.monotonic() + timeout
        try:
            codes = [child.wait(timeout=max(0.0, deadline - time.monotonic())) for child in children]
        except subprocess.TimeoutExpired:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
            raise
        return [subprocess.CompletedProcess([sys.executable, "-m", "privib.cli", *args], code,
                                            out.read_text(errors="replace"), err.read_text(errors="replace"))
                for args, code, (out, err) in zip(commands, codes, files)]


def run_privib(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
               fresh: bool = False) -> subprocess.CompletedProcess:
    """Run the ``privib`` CLI in a process of its own, as a user would (see the module docstring for ``fresh``)."""
    full_env = {**os.environ, **WARNINGS, **(env or {})}
    if not fresh:
        return _run_warm([[str(a) for a in args]], Path(cwd), full_env, timeout)[0]
    return subprocess.run(
        [sys.executable, "-m", "privib.cli", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_privib_together(commands: list[list[str]], cwd: Path, env: dict[str, str] | None = None,
                        timeout: float = 900) -> list[subprocess.CompletedProcess]:
    """Run several ``privib`` command lines at the same time, each in a process of its own (forked warm)."""
    full_env = {**os.environ, **WARNINGS, **(env or {})}
    return _run_warm([[str(a) for a in args] for args in commands], Path(cwd), full_env, timeout)
