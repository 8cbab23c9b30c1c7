"""The cell encoder: exact one-hot releases, straight-through gradients, Gumbel draws, and its place in the model."""
from __future__ import annotations

import pytest
import torch

from privib.errors import ConfigError
from privib.models.cells import CellEncoder, gumbel_straight_through, straight_through
from privib.models.networks import GaussianMLPEncoder
from privib.models.vib import build_vib_model

SPEC = {
    "input_dim": 6, "target_classes": ["0", "1"], "sensitive": ["s", "r"],
    "sensitive_classes": {"s": ["a", "b"], "r": ["p", "q", "u"]},
}


def test_release_is_exactly_one_hot_and_deterministic():
    torch.manual_seed(0)
    encoder = CellEncoder(6, n_cells=5, widths=(16,)).eval()
    x = torch.randn(200, 6)
    code, scale = encoder(x)
    assert code.shape == scale.shape == (200, 5) and (scale == 0).all()
    assert set(code.unique().tolist()) == {0.0, 1.0} and (code.sum(dim=1) == 1).all()
    assert torch.equal(code.argmax(dim=1), encoder.cells(x)) and torch.equal(code, encoder(x)[0])
    with torch.no_grad():
        assert torch.equal(encoder(x)[0], code) and torch.equal(encoder.code(x), code)
    assert encoder.z_dim == 5 and encoder.deterministic and encoder.min_scale == 0.0


def test_straight_through_gradient_is_the_softmax_gradient():
    logits = torch.randn(7, 4, requires_grad=True)
    weights = torch.randn(7, 4)
    (straight_through(logits, temperature=0.5) * weights).sum().backward()
    reference = logits.detach().clone().requires_grad_(True)
    ((reference / 0.5).softmax(dim=-1) * weights).sum().backward()
    assert torch.allclose(logits.grad, reference.grad, atol=1e-6)


def test_gumbel_draws_follow_the_softmax_of_the_logits():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1]])).expand(40000, 3)
    draws = gumbel_straight_through(logits, generator=torch.Generator().manual_seed(0))
    assert (draws.sum(dim=1) == 1).all()
    assert torch.allclose(draws.mean(dim=0), torch.tensor([0.6, 0.3, 0.1]), atol=0.01)


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="n_cells must be an integer >= 2"):
        CellEncoder(6, n_cells=1)
    with pytest.raises(ConfigError, match="n_cells"):
        CellEncoder(6, n_cells=True)
    with pytest.raises(ConfigError, match="cell_temperature"):
        CellEncoder(6, n_cells=4, temperature=0.0)


def test_the_model_builds_a_cell_encoder_only_for_the_cells_release():
    model = build_vib_model(SPEC, z_dim=8, encoder_widths=[16], adversary_widths=[8], release="cells", n_cells=3)
    assert isinstance(model.encoder, CellEncoder) and model.encoder.n_cells == 3
    assert model.task_head.net[0].in_features == 3 and all(a.net[0].in_features == 3 for a in model.adversaries)
    probs = model.predict_proba(torch.randn(10, 6), n_samples=16)
    assert probs.shape == (10, 2) and torch.allclose(probs.sum(dim=1), torch.ones(10))
    gaussian = build_vib_model(SPEC, z_dim=8, encoder_widths=[16], release="sample", n_cells=3)
    assert isinstance(gaussian.encoder, GaussianMLPEncoder) and gaussian.task_head.net[0].in_features == 8
