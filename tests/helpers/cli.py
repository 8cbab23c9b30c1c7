"""The ``privib`` command line in a fresh process, as a user runs it.

:func:`run_privib` runs each command in a process of its own. By default that process is forked from a warm
parent that has already imported torch, Lightning and privib (:mod:`helpers.cli_server`), which saves about
six CPU seconds a command; ``fresh=True`` starts a new interpreter instead, for what a fork cannot show
(a distributed launch that re-executes the command line, an installed wheel, interpreter start-up).
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WARNINGS = {"PYTHONWARNINGS": "ignore"}
# The warm parent's own environment: the test session's as it was when the tests were collected, not that of
# whichever test (with its monkeypatched variables) happens to start it; each command gets its own in full.
_SESSION_ENV = dict(os.environ)


class _WarmParent:
    """One :mod:`helpers.cli_server` process per test process, started on first use."""

    def __init__(self) -> None:
        env = {**_SESSION_ENV, **WARNINGS}
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_server.py"))], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, commands: list[list[str]], cwd: Path, env: dict[str, str], timeout: float) -> list[subprocess.CompletedProcess]:
        """Run ``commands`` at the same time, each in its own forked child; their results in order."""
        with tempfile.TemporaryDirectory(prefix="privib-cli-") as scratch:
            files = [(Path(scratch) / f"{i}.out", Path(scratch) / f"{i}.err") for i in range(len(commands))]
            requests = [{"args": args, "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err)}
                        for args, (out, err) in zip(commands, files)]
            self.process.stdin.write(json.dumps(requests) + "\n")
            self.process.stdin.flush()
            pids = json.loads(self._line(timeout=600))["pids"]
            try:
                codes = json.loads(self._line(timeout=timeout))["codes"]
            except subprocess.TimeoutExpired:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self._line(timeout=60)
                raise
            return [subprocess.CompletedProcess([sys.executable, "-m", "privib.cli", *args], code,
                                                out.read_text(errors="replace"), err.read_text(errors="replace"))
                    for args, code, (out, err) in zip(commands, codes, files)]

    def _line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise subprocess.TimeoutExpired("privib (warm fork)", timeout)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm privib parent exited with code {self.process.wait()}")
        return line

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


_parent: _WarmParent | None = None


def _warm_parent() -> _WarmParent:
    global _parent
    if _parent is None or _parent.process.poll() is not None:
        _parent = _WarmParent()
        atexit.register(_parent.close)
    return _parent


def run_privib(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
               fresh: bool = False) -> subprocess.CompletedProcess:
    """Run the ``privib`` CLI in a process of its own, as a user would (see the module docstring for ``fresh``)."""
    full_env = {**os.environ, **WARNINGS, **(env or {})}
    if not fresh:
        return _warm_parent().run([[str(a) for a in args]], Path(cwd), full_env, timeout)[0]
    return subprocess.run(
        [sys.executable, "-m", "privib.cli", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_privib_together(commands: list[list[str]], cwd: Path, env: dict[str, str] | None = None,
                        timeout: float = 900) -> list[subprocess.CompletedProcess]:
    """Run several ``privib`` command lines at the same time, each in a process of its own (forked warm)."""
    full_env = {**os.environ, **WARNINGS, **(env or {})}
    return _warm_parent().run([[str(a) for a in args] for args in commands], Path(cwd), full_env, timeout)
