"""VIBModule with ``release cells``: one-hot codes everywhere, straight-through gradients, Gumbel draws for the head."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from helpers.specs import synthetic_spec
from privib.data.loader import IndexBatchLoader
from privib.errors import ConfigError
from privib.models.cells import CellEncoder
from privib.training.module import VIBModule

SPEC = synthetic_spec({"s": [0.5, 0.5]})


def _tensors(n: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(0))
    return x, (x[:, 0] > 0).long(), (x[:, 1] > 0).long()[:, None]


class _Data(pl.LightningDataModule):
    def train_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(_tensors(), 32, shuffle=True)

    def val_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(_tensors(), 128)


def _cells(**kwargs) -> VIBModule:
    torch.manual_seed(0)
    settings = {"encoder_widths": [16], "adversary_widths": [8], "release": "cells", "n_cells": 3, "beta": 0.0,
                "deterministic": True, **kwargs}
    return VIBModule(SPEC, **settings)


def test_a_cells_module_trains_on_one_hot_codes():
    module = _cells(adv_weight=1.0, cell_noise=True)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(module, datamodule=_Data())
    logged = trainer.callback_metrics
    assert float(logged["train/kl_bits"]) == 0.0 and "val/adv/s/ce" in logged
    assert isinstance(module.model.encoder, CellEncoder) and module.model.adversaries[0].net[0].in_features == 3
    x = _tensors()[0]
    module.eval()
    first, second = module.model.encoder(x)[0], module.model.encoder(x)[0]
    assert torch.equal(first, second) and (first.sum(dim=1) == 1).all()


def test_the_head_trains_on_drawn_cells_and_the_adversaries_on_the_released_one():
    module = _cells(cell_noise=True)
    x = _tensors()[0]
    module.train()
    mean, scale, z, kl = module._represent(x)
    assert (scale == 0).all() and (kl == 0).all() and (z.sum(dim=1) == 1).all()
    assert not torch.equal(z, mean)  # near-uniform logits at initialization: draws differ from the argmax
    assert torch.equal(module._adversary_input(mean, z), mean)
    assert torch.equal(mean.detach(), module.model.encoder.code(x))
    module.eval()
    mean, _, z, _ = module._represent(x)
    assert torch.equal(z, mean)
    assert torch.equal(_cells(cell_noise=False).train()._represent(x)[2], _cells(cell_noise=False)._represent(x)[0])


def test_the_adversary_reaches_the_encoder_through_the_hard_cells():
    module = _cells(adv_weight=5.0)
    x, _, s = _tensors()
    mean, _, _, _ = module._represent(x)
    adversary_ce = sum(a.loss for a in module._adversary_ces(module._adversary_input(mean, mean), s))
    adversary_ce.backward()
    grads = [p.grad for p in module.model.encoder.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_the_tv_penalty_is_the_batch_tv_of_the_released_cells_and_reaches_the_encoder():
    module = _cells(adv_weight=0.0, dep_penalty="tv", dep_weight=3.0)
    x, _, s = _tensors()
    mean, scale, _, _ = module._represent(x)
    term = module._dependence_term("train", module._adversary_input(mean, mean), s, mean, scale)
    code = module.model.encoder.code(x)
    f0, f1 = code[s[:, 0] == 0].mean(dim=0), code[s[:, 0] == 1].mean(dim=0)
    p0 = float((s[:, 0] == 0).float().mean())
    assert float(term.detach()) == pytest.approx(3.0 * p0 * (1 - p0) * (0.5 * float((f0 - f1).abs().sum())) ** 2, rel=1e-5)
    term.backward()
    assert sum(float(p.grad.abs().sum()) for p in module.model.encoder.parameters()) > 0


@pytest.mark.parametrize("bad, message", [({"beta": 0.1}, "model.beta 0"), ({"recon_weight": 1.0}, "recon_weight 0"),
                                          ({"n_cells": 1}, "n_cells"), ({"release": "cell"}, "'cells'"),
                                          ({"release": "sample", "deterministic": False, "dep_penalty": "tv"}, "dep_penalty tv")])
def test_cells_settings_are_checked(bad, message):
    with pytest.raises(ConfigError, match=message):
        _cells(**bad)
