"""Start a sweep's points as forks of one warm process instead of new interpreters.

A new ``python -m privib.cli run`` spends about six CPU seconds importing torch, Lightning and
jsonargparse before it reads its config: a sixth of a default run, paid again by every point.
:class:`WarmLauncher` starts one helper process per sweep (``python -m privib.cli.warm``, in the CLI's
layer because it runs the command line) with the
points' environment, so the BLAS and OpenMP thread counts read at import apply. It imports those
libraries once and then, per point, forks a child that becomes the point's ``privib run``: a new
session (its own process group, like ``start_new_session``), stdin from /dev/null, stdout and stderr
appended to the point's log, the point's environment and working folder, ``privib.cli.main`` with its
exit code, atexit handlers run. A DDP point re-executes ``python -m privib.cli.__main__`` as a new
interpreter would. :meth:`WarmLauncher.start` returns a handle with the ``pid``, ``poll``, ``wait`` and
``returncode`` of a :class:`subprocess.Popen`, so the runner stops and reaps both alike. The test suite
starts its ``privib`` command lines through the same launcher (``tests/helpers/cli.py``).

The helper imports no module that reads the environment at import time beyond those (``datasets`` and
``wandb`` are imported by each child, after it took its environment), starts no thread of its own, ignores SIGINT
and SIGTERM (the sweep stops the points through their process groups) and exits once its stdin is closed
and its children are reaped. ``PRIVIB_SWEEP_WARM=0`` starts every point as a new interpreter instead.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["WARM_ENV", "WarmLauncher", "WarmProcess", "warm_enabled"]

WARM_ENV = "PRIVIB_SWEEP_WARM"
_START_TIMEOUT_S = 300.0


def warm_enabled(env: dict[str, str]) -> bool:
    """Points fork from a warm process unless ``PRIVIB_SWEEP_WARM`` is 0 (or the system has no ``fork``)."""
    return hasattr(os, "fork") and env.get(WARM_ENV, "1").strip() not in ("0", "false", "no")


class WarmProcess:
    """One point's forked child, seen from the sweep: what the runner uses of :class:`subprocess.Popen`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._done = threading.Event()

    def _exited(self, code: int) -> None:
        self.returncode = code
        self._done.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(f"privib run (pid {self.pid})", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode


class WarmLauncher:
    """The warm helper process of one sweep; :meth:`start` forks a point from it, :meth:`close` ends it."""

    def __init__(self, env: dict[str, str]) -> None:
        self._helper = subprocess.Popen([sys.executable, "-m", "privib.cli.warm"], env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self._lock = threading.Lock()
        self._started: dict[int, tuple[threading.Event, list[int]]] = {}
        self._children: dict[int, WarmProcess] = {}
        self._exits: dict[int, int] = {}  # exits reported before their start reply was handled
        self._next = 0
        self._reader = threading.Thread(target=self._read, name="privib-sweep-warm", daemon=True)
        self._reader.start()

    def start(self, args: list[str], log: Path, env: dict[str, str], cwd: Path | None = None,
              stderr: Path | None = None) -> WarmProcess:
        """Fork ``privib <args>`` with its stdout appended to ``log`` (and its stderr, unless ``stderr`` names
        another file); raises RuntimeError if the helper is gone."""
        with self._lock:
            self._next += 1
            token, started = self._next, (threading.Event(), [])
            self._started[token] = started
        request = {"id": token, "args": list(args), "stdout": str(log), "stderr": str(stderr or log), "env": env,
                   "cwd": str(cwd or Path.cwd())}
        try:
            self._helper.stdin.write(json.dumps(request) + "\n")
            self._helper.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise RuntimeError(f"the warm sweep helper is gone (exit code {self._helper.poll()})") from exc
        if not started[0].wait(_START_TIMEOUT_S) or not started[1]:
            raise RuntimeError(f"the warm sweep helper did not start a point (exit code {self._helper.poll()})")
        process = WarmProcess(started[1][0])
        with self._lock:
            self._children[process.pid] = process
            if process.pid in self._exits:
                process._exited(self._exits.pop(process.pid))
        return process

    @property
    def alive(self) -> bool:
        """Whether the helper still runs (it ends when its input is closed, or if it crashed)."""
        return self._helper.poll() is None

    def close(self) -> None:
        """Close the helper's input; it exits once its children are reaped."""
        try:
            self._helper.stdin.close()
        except OSError:
            pass
        self._helper.wait()
        self._reader.join(timeout=10)

    def _read(self) -> None:
        for line in self._helper.stdout:
            message = json.loads(line)
            with self._lock:
                if "id" in message:
                    event, pid = self._started.pop(message["id"])
                    pid.append(int(message["pid"]))
                    event.set()
                else:
                    pid, code = int(message["exit"]), int(message["code"])
                    if pid in self._children:
                        self._children.pop(pid)._exited(code)
                    else:
                        self._exits[pid] = code
        with self._lock:  # the helper is gone: nothing more will be reported
            for event, _ in self._started.values():
                event.set()
            for process in self._children.values():
                process._exited(-signal.SIGKILL)
