"""LAFTR-DP's new loss: the group-normalized L1 of the adversary, and the objective's terms."""
from __future__ import annotations

import pytest
import torch

from privib.models.decoder import reconstruction_nll
from privib.models.laftr import GroupNormalizedL1, LAFTRObjective, group_normalized_l1

NAMES = ["age", "hours", "job=a", "job=b"]


def test_group_normalized_l1_on_a_hand_example():
    # Binary attribute, h = P(a = 1): group 0 has rows h = 0.2, 0.4, 0.0 (errors 0.2, 0.4, 0.0, mean 0.2);
    # group 1 has one row h = 0.7 (error 0.3). Each group counts once: 0.2 + 0.3 = 0.5, L_Adv^DP = 0.5.
    h = torch.tensor([0.2, 0.4, 0.7, 0.0])
    s = torch.tensor([0, 0, 1, 0])
    probs = torch.stack([1 - h, h], 1)
    assert float(group_normalized_l1(probs, s)) == pytest.approx(0.5)
    # The closed form of the paper, sum_a mean_{i in D_a} |h_i - a|:
    closed = sum(float((h[s == a] - a).abs().mean()) for a in (0, 1))
    assert float(group_normalized_l1(probs, s)) == pytest.approx(closed)


def test_group_normalized_l1_ignores_group_sizes_and_extends_to_more_classes():
    # The majority guess (h = 0 for everyone) scores 1 however unbalanced the groups: it cannot beat chance.
    s = torch.tensor([0] * 9 + [1])
    assert float(group_normalized_l1(torch.tensor([[1.0, 0.0]] * 10), s)) == pytest.approx(1.0)
    assert float(group_normalized_l1(torch.tensor([[0.5, 0.5]] * 10), s)) == pytest.approx(1.0)
    # Three classes: the uniform guess scores classes - 1 = 2, a perfect adversary 0; absent groups add nothing.
    s3 = torch.tensor([0, 1, 2, 2])
    assert float(group_normalized_l1(torch.full((4, 3), 1 / 3), s3)) == pytest.approx(2.0)
    assert float(group_normalized_l1(torch.eye(3)[s3], s3)) == pytest.approx(0.0)
    assert float(group_normalized_l1(torch.full((2, 3), 1 / 3), torch.tensor([0, 0]))) == pytest.approx(2 / 3)


def test_module_applies_softmax_and_its_gradient_lowers_the_adversary_error():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-1.0, 1.0]], requires_grad=True)
    s = torch.tensor([0, 1, 1])
    loss = GroupNormalizedL1()(logits, s)
    assert float(loss) == pytest.approx(float(group_normalized_l1(logits.softmax(-1), s)))
    loss.backward()
    stepped = logits - 0.1 * logits.grad
    assert float(GroupNormalizedL1()(stepped, s)) < float(loss)


def test_objective_terms_with_and_without_the_decoder():
    torch.manual_seed(0)
    x = torch.cat([torch.randn(6, 2), torch.eye(2)[torch.tensor([0, 1, 1, 0, 1, 0])]], 1)
    z, s = torch.randn(6, 3), torch.tensor([[0], [1], [1], [0], [0], [1]])
    adversary_logits = [torch.randn(6, 2)]
    objective = LAFTRObjective(3, [2], NAMES, decoder_widths=[8])
    terms = objective(x, z, s, adversary_logits)
    assert float(terms.recon_nll) == pytest.approx(
        float(reconstruction_nll(objective.decoder(z, s), x, objective.groups).mean()))
    assert len(terms.adv_l1) == 1
    assert float(terms.adv_l1[0]) == pytest.approx(float(group_normalized_l1(adversary_logits[0].softmax(-1), s[:, 0])))
    bare = LAFTRObjective(3, [2], NAMES, with_decoder=False)
    assert bare.decoder is None and float(bare(x, z, s, adversary_logits).recon_nll) == 0.0
