"""Checkpoints as Lightning writes them: atomically, so a full disk never costs the previous one."""
from __future__ import annotations

import errno
import os

import pytest
import torch

from privib.training.checkpoint import AtomicCheckpointIO


def test_a_full_disk_mid_write_keeps_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "best.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "hyper_parameters": {}}, path)
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfWritten:
        def __init__(self, handle) -> None:
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.handle.close()

        def write(self, data) -> int:
            self.handle.write(bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWritten(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(1000)}, "hyper_parameters": {}}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt"]
    assert torch.equal(io.load_checkpoint(path)["state_dict"]["w"], torch.ones(3))


def test_background_writes_land_in_order_and_a_failed_one_is_raised_by_wait(tmp_path, monkeypatch):
    from privib.training.checkpoint import OrderedWriter

    writer = OrderedWriter()
    io = AtomicCheckpointIO(writer)
    path = tmp_path / "last.ckpt"
    for value in (1.0, 2.0, 3.0):  # the last save wins: the writes keep their order
        io.save_checkpoint({"state_dict": {"w": torch.full((3,), value)}, "hyper_parameters": {}}, path)
    io.teardown()
    assert torch.equal(io.load_checkpoint(path)["state_dict"]["w"], torch.full((3,), 3.0))
    before = path.read_bytes()

    def full_disk(*args) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("privib.training.checkpoint.write_bytes_atomic", full_disk)
    io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "hyper_parameters": {}}, path)  # serialized now, written later
    with pytest.raises(OSError, match="No space left"):
        writer.wait()
    assert path.read_bytes() == before
    writer.close()
