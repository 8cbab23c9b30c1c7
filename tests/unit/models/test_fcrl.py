"""FCRL's pieces: the joint group code, the conditional InfoNCE bound, its critic and the objective's terms."""
from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from privib.errors import ConfigError
from privib.models.fcrl import ContrastiveCritic, FCRLObjective, conditional_nce, group_index


def _loop_reference(critic: ContrastiveCritic, x: torch.Tensor, z: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """The bound row by row and group by group, with the critic's softplus scores written out."""
    out = torch.zeros(x.shape[0], dtype=torch.float64)
    fx, fz = critic.f_x(x).double(), critic.f_z(z).double()
    for i in range(x.shape[0]):
        w = critic.w[groups[i]].double()
        positive = F.softplus(fx[i] @ w @ fz[i])
        negatives = [F.softplus(fx[i] @ w @ fz[j]) for j in range(x.shape[0]) if groups[j] == groups[i]]
        out[i] = torch.log(positive) - torch.log(torch.stack(negatives).mean())
    return out


def test_group_index_is_the_joint_code():
    s = torch.tensor([[0, 0], [0, 2], [1, 0], [1, 2]])
    assert group_index(s, [2, 3]).tolist() == [0, 2, 3, 5]
    assert group_index(s[:, :1], [2]).tolist() == [0, 0, 1, 1]


def test_conditional_nce_on_a_hand_example():
    # Two groups: rows 0, 1 in group 0; row 2 alone in group 1 (its bound is 0: the positive is its only negative).
    log_scores = torch.log(torch.tensor([[4.0, 1.0, 100.0], [2.0, 2.0, 100.0], [5.0, 5.0, 3.0]]))
    groups = torch.tensor([0, 0, 1])
    nce = conditional_nce(log_scores, groups)
    assert nce.tolist() == pytest.approx([math.log(4 / 2.5), math.log(2 / 2), 0.0], abs=1e-6)


def test_critic_matches_the_loop_and_stays_below_log_group_size():
    torch.manual_seed(0)
    critic = ContrastiveCritic(input_dim=5, z_dim=3, n_groups=2, widths=[7])
    x, z = torch.randn(40, 5), torch.randn(40, 3) * 3
    groups = (torch.arange(40) % 4 == 0).long()  # 10 rows in group 1, 30 in group 0
    with torch.no_grad():
        nce = critic(x, z, groups)
        reference = _loop_reference(critic, x, z, groups)
    assert nce.double().numpy() == pytest.approx(reference.numpy(), abs=1e-4)
    sizes = torch.where(groups == 1, 10.0, 30.0)
    assert (nce <= sizes.log() + 1e-5).all()
    assert nce.mean() <= math.log(40)


def test_critic_is_finite_where_softplus_underflows():
    critic = ContrastiveCritic(input_dim=2, z_dim=2, n_groups=1, widths=[])
    with torch.no_grad():
        critic.w.fill_(50.0)
    x = torch.tensor([[30.0, 30.0], [-30.0, -30.0]])
    z = torch.tensor([[30.0, 30.0], [-30.0, -30.0]])
    nce = critic(x, z, torch.zeros(2, dtype=torch.long))
    nce.sum().backward()
    assert torch.isfinite(nce).all() and all(torch.isfinite(p.grad).all() for p in critic.parameters())


def _trained_bound(informative: bool, steps: int = 300) -> tuple[float, float]:
    """Train a critic on fresh batches (so it cannot memorize pairs); its bound on a new batch and that batch's ceiling."""
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(0)
    critic = ContrastiveCritic(input_dim=4, z_dim=4, n_groups=2, widths=[32])
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-2)

    def draw() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.randn(64, 4, generator=g)
        z = x + 0.1 * torch.randn(64, 4, generator=g) if informative else torch.randn(64, 4, generator=g)
        return x, z, (x[:, 0] > 0).long()

    for _ in range(steps):
        loss = -critic(*draw()).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, z, groups = draw()
    with torch.no_grad():
        sizes = torch.bincount(groups).double()
        return float(critic(x, z, groups).mean()), float((sizes / 64 * sizes.log()).sum())


def test_bound_rises_when_z_carries_x_and_not_when_z_is_noise():
    torch.set_num_threads(1)
    informative, ceiling = _trained_bound(True)
    noise, _ = _trained_bound(False)
    assert 1.0 < informative <= ceiling  # measured 1.66 nats, ceiling mean_i log n_{c_i} = 3.4
    assert abs(noise) < 0.1  # independent z: nothing to find (measured 0.003)


def test_objective_terms():
    torch.manual_seed(0)
    objective = FCRLObjective(input_dim=5, z_dim=3, n_target_classes=2, n_sensitive_classes=[2, 3],
                              predictor_widths=[8], critic_widths=[8])
    assert objective.critic.w.shape == (6, 3, 3)  # one W_c per joint group
    x, z, y = torch.randn(16, 5), torch.randn(16, 3), torch.randint(0, 2, (16,))
    s = torch.stack([torch.randint(0, 2, (16,)), torch.randint(0, 3, (16,))], 1)
    terms = objective(x, z, y, s)
    logits = objective.predictor(z, s)
    assert float(terms.task_ce) == pytest.approx(float(F.cross_entropy(logits, y)))
    assert int(terms.task_correct) == int((logits.argmax(-1) == y).sum())
    assert float(terms.nce) == pytest.approx(float(objective.critic(x, z, group_index(s, [2, 3])).mean()))
    # The predictor reads c: the same z with the other sex gives other logits.
    assert not torch.allclose(objective.predictor(z, s), objective.predictor(z, torch.stack([1 - s[:, 0], s[:, 1]], 1)))


def test_critic_needs_a_group():
    with pytest.raises(ConfigError, match="at least one sensitive group"):
        ContrastiveCritic(3, 2, 0)
