"""Checkpoints as Lightning writes and reads them: atomically written, loaded as plain weights only.

Reading a trained model back for evaluation or export needs no Lightning:
:func:`privib.models.checkpoint.load_trained_model`.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from privib.io import write_bytes_atomic
from privib.models.checkpoint import load_weights_only


class OrderedWriter:
    """Durable file writes (temp file, fsync, rename) on one background thread, in submission order.

    At the default config an epoch ends with three such writes (history.json, best.ckpt, last.ckpt) of
    ~25 ms each on this machine, mostly waiting for the disk: a tenth of an epoch's training. Submitted
    here, they overlap the next epoch. The caller serializes what it writes before submitting, so the
    file holds the state at that moment. A failed write is raised by the next :meth:`submit` or by
    :meth:`wait`; the file it was replacing stays whole.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="privib-writer")
        self._pending: list[Future[Any]] = []

    def submit(self, write: Callable[..., Any], *args: Any) -> None:
        """Run ``write(*args)`` after every write submitted before it."""
        self._raise_failed()
        self._pending.append(self._executor.submit(write, *args))

    def wait(self) -> None:
        """Block until every submitted write is on disk; raise the first error of one that failed."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        """Wait for the pending writes, then stop the thread."""
        try:
            self.wait()
        finally:
            self._executor.shutdown(wait=True)

    def _raise_failed(self) -> None:
        done = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        for future in done:
            future.result()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, but each file is written to a temp file, fsynced and renamed.

    Lightning writes a checkpoint in place, so a full disk or a kill mid-write leaves a
    truncated ``best.ckpt`` where the previous good one was; here the previous file stays
    whole until the new one is complete. Loads use ``weights_only=True`` (also on resume).
    With a ``writer`` the checkpoint is serialized here and written by the :class:`OrderedWriter`
    (after the writes submitted before it); ``teardown`` (the end of a fit) waits for it.
    """

    def __init__(self, writer: OrderedWriter | None = None) -> None:
        super().__init__()
        self.writer = writer

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        if self.writer is None:
            write_bytes_atomic(path, buffer.getvalue())
        else:
            self.writer.submit(write_bytes_atomic, path, buffer.getvalue())

    def remove_checkpoint(self, path: Any) -> None:
        if self.writer is None:
            Path(path).unlink(missing_ok=True)
        else:
            self.writer.submit(Path(path).unlink, True)

    def wait(self) -> None:
        """Block until every checkpoint saved so far is on disk (no-op without a writer)."""
        if self.writer is not None:
            self.writer.wait()

    def teardown(self) -> None:
        self.wait()

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        self.wait()
        return load_weights_only(path)
