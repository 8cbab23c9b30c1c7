"""Exclusive folder locks and process liveness: one writer per run folder, honest stale checks.

A lock is ``fcntl.flock`` on a ``.lock`` file inside the folder: the kernel releases it when the
holding process dies (also on SIGKILL), so a lock can never go stale, and a second process that
asks for it learns at once who holds it (the file records the holder's pid and command).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from privib.errors import ConfigError

LOCK_FILE = ".lock"


def process_alive(pid: Any) -> bool:
    """True when process ``pid`` exists, also when it belongs to another user (``PermissionError``)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FolderLock:
    """An exclusive, non-blocking lock on ``folder`` for the whole of a ``with`` block.

    ``what`` names the job in the holder record (``training``, ``evaluating``, ``exporting``), so a
    refused second job can say what the folder is busy with. Entering raises ConfigError when
    another process holds the lock; the same process may nest locks on one folder (the inner one
    is a no-op), so a library call made under a command's lock does not deadlock.
    """

    _held: dict[Path, int] = {}

    def __init__(self, folder: str | os.PathLike[str], what: str) -> None:
        self.folder = Path(folder).resolve()
        self.what = what
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.folder / LOCK_FILE

    def __enter__(self) -> FolderLock:
        import fcntl

        if self.folder in self._held:
            self._held[self.folder] += 1
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot lock {self.folder} ({exc.strerror}): the folder must be writable") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ConfigError(
                f"{self.folder} is in use by another privib process ({holder}): wait for it to finish, or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "what": self.what, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode())
        self._fd = fd
        self._held[self.folder] = 1
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        count = self._held.get(self.folder, 0)
        if count > 1:
            self._held[self.folder] = count - 1
            return
        self._held.pop(self.folder, None)
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def _read_holder(fd: int) -> str:
    """``pid N, training since T`` from a lock file, or a generic phrase when it cannot be read."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        record = json.loads(os.read(fd, 4096).decode() or "{}")
        return f"pid {int(record['pid'])}, {str(record['what'])[:40]} since {str(record['since'])[:40]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is unknown"
