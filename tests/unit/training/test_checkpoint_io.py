"""Checkpoints are written atomically and loaded as plain weights only."""
from __future__ import annotations

import errno
import os
import subprocess

import pytest
import torch

from privib.errors import ConfigError
from privib.training.checkpoint import AtomicCheckpointIO, load_weights_only, verify_weights_only


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (subprocess.call, (["touch", self.marker],))


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


def test_a_pickle_payload_is_refused_even_when_the_environment_forces_unsafe_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "marker"
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "x": _Payload(str(marker))}, path)
    for load in (load_weights_only, verify_weights_only, AtomicCheckpointIO().load_checkpoint):
        with pytest.raises(ConfigError, match="last.ckpt holds pickled objects") as info:
            load(path)
        assert "\n" not in str(info.value)
    assert not marker.exists()


def test_a_checkpoint_that_is_not_privibs_is_refused_in_one_line(tmp_path):
    path = tmp_path / "x.ckpt"
    torch.save({"weights": torch.ones(2)}, path)
    with pytest.raises(ConfigError, match="not a privib checkpoint"):
        verify_weights_only(path)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ConfigError, match="unreadable or truncated"):
        load_weights_only(path)
