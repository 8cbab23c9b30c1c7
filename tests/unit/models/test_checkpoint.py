"""Checkpoints are loaded as plain weights only: pickled objects and foreign checkpoints are refused in one line."""
from __future__ import annotations

import pytest
import torch

from helpers.payloads import Payload
from privib.errors import ConfigError
from privib.models.checkpoint import load_weights_only, verify_weights_only
from privib.training.checkpoint import AtomicCheckpointIO


def test_a_pickle_payload_is_refused_even_when_the_environment_forces_unsafe_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "marker"
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "x": Payload(str(marker))}, path)
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
