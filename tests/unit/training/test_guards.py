"""Training guards: non-finite stop, adversary health warnings, random-state checkpointing."""
from __future__ import annotations

import io
import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from privib.errors import TrainingDiverged
from privib.training.guards import AdversaryMonitor, NonFiniteGuard, RandomStateCheckpoint, gradients_finite


def _trainer(metrics: dict[str, float], epoch: int = 0) -> SimpleNamespace:
    return SimpleNamespace(callback_metrics={k: torch.tensor(v) for k, v in metrics.items()}, current_epoch=epoch,
                           global_step=7, checkpoint_callbacks=[])


def test_non_finite_gradient_stops_before_the_step():
    parameter = torch.nn.Parameter(torch.ones(3))
    parameter.grad = torch.tensor([1.0, float("nan"), 0.0])
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    module = SimpleNamespace(hparams={"lr": 0.1, "beta": 0.01, "adv_weight": 2.0})
    with pytest.raises(TrainingDiverged, match="epoch 4, step 7") as info:
        NonFiniteGuard().on_before_optimizer_step(_trainer({}, epoch=3), module, optimizer)
    assert info.value.details == {"epoch": 4, "step": 7}  # epochs are 1-based everywhere
    assert "model.lr (now 0.1)" in str(info.value)
    parameter.grad = torch.zeros(3)
    NonFiniteGuard().on_before_optimizer_step(_trainer({}), module, optimizer)


def test_non_finite_loss_stops():
    module = SimpleNamespace(hparams={})
    with pytest.raises(TrainingDiverged):
        NonFiniteGuard().on_train_batch_end(_trainer({}), module, torch.tensor(float("inf")), None, 0)
    NonFiniteGuard().on_train_batch_end(_trainer({}), module, torch.tensor(0.5), None, 0)


def test_adversary_monitor_warns_after_patience_epochs_only():
    module = SimpleNamespace(sensitive=["sex"], h_sensitive_bits=[1.0])
    chance = math.log(2)
    monitor = AdversaryMonitor(patience=3)
    for epoch, ce in enumerate([chance, 2 * chance, 2 * chance, chance, 2 * chance, 2 * chance, 2 * chance]):
        monitor.on_train_epoch_end(_trainer({"train/adv/sex/ce": ce}, epoch), module)
    assert len(monitor.warnings) == 1 and "diverged" in monitor.warnings[0] and "epoch 7" in monitor.warnings[0]  # 1-based
    restored = AdversaryMonitor(patience=3)
    restored.load_state_dict(monitor.state_dict())
    assert restored.warnings == monitor.warnings


def test_random_states_round_trip_through_a_weights_only_checkpoint():
    callback = RandomStateCheckpoint()
    torch.manual_seed(11), np.random.seed(11), random.seed(11)
    buffer = io.BytesIO()
    torch.save({"callbacks": callback.state_dict()}, buffer)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    buffer.seek(0)
    callback.load_state_dict(torch.load(buffer, weights_only=True)["callbacks"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    torch.testing.assert_close(again[0], expected[0])
    np.testing.assert_array_equal(again[1], expected[1])
    assert again[2] == expected[2]


def test_the_fused_check_finds_nan_and_inf_and_is_not_fooled_by_huge_finite_gradients():
    parameters = [torch.nn.Parameter(torch.ones(4, 3)), torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))]
    optimizer = torch.optim.SGD(parameters, lr=0.1)
    assert gradients_finite(optimizer)  # no gradients yet
    parameters[0].grad, parameters[1].grad = torch.full((4, 3), 3e38), torch.full((3,), -3e38)  # a sum would overflow
    assert gradients_finite(optimizer)
    for bad in (float("nan"), float("inf"), float("-inf")):
        parameters[1].grad = torch.tensor([0.0, bad, 1.0])
        assert not gradients_finite(optimizer)
    assert parameters[1].grad[2] == 1.0  # the gradients themselves are left as they were


def test_the_fallback_check_agrees_where_torch_has_no_fused_check(monkeypatch):
    def unavailable(*args, **kwargs):
        raise NotImplementedError("no fused check for these gradients")

    monkeypatch.setattr(torch, "_amp_foreach_non_finite_check_and_unscale_", unavailable)
    parameters = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2, dtype=torch.float64))]
    optimizer = torch.optim.SGD(parameters, lr=0.1)
    parameters[0].grad = torch.full((3,), 3e38)
    parameters[1].grad = torch.tensor([1e300, -1e300], dtype=torch.float64)  # finite in float64, not in float32
    assert gradients_finite(optimizer)
    for bad in (float("nan"), float("inf")):
        parameters[1].grad = torch.tensor([bad, 0.0], dtype=torch.float64)
        assert not gradients_finite(optimizer)


def test_the_fused_check_takes_float64_gradients_without_overflow():
    parameters = [torch.nn.Parameter(torch.ones(2, dtype=torch.float64))]
    optimizer = torch.optim.SGD(parameters, lr=0.1)
    parameters[0].grad = torch.tensor([1e300, -1e300], dtype=torch.float64)
    assert gradients_finite(optimizer)
    parameters[0].grad = torch.tensor([1e300, float("-inf")], dtype=torch.float64)
    assert not gradients_finite(optimizer)
    assert parameters[0].grad[0] == 1e300  # multiplied by exactly 1.0
