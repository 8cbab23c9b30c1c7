"""VIBModule with ``dep_penalty mixture``: checked settings, and fewer bits of s for the encoder holder."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from sklearn.metrics import roc_auc_score

from helpers.specs import synthetic_spec
from privib.data.loader import IndexBatchLoader
from privib.errors import ConfigError
from privib.evaluation.encoder_attack import MixturePosteriorAttacker
from privib.training.module import VIBModule

SPEC = synthetic_spec({"s": [0.5, 0.5]}, input_dim=4)


def _table(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """s planted in column 1, which the task also reads: a code that serves the task leaks s."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 4, generator=g)
    x[:, 1] += 1.5 * (2 * s - 1)
    return x, (x[:, 0] + 0.3 * x[:, 1] > 0).long(), s[:, None]


class _Data(pl.LightningDataModule):
    def train_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(_table(1024, 0), 128, shuffle=True)

    def val_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(_table(512, 1), 512)


def _module(**settings: object) -> VIBModule:
    torch.manual_seed(0)
    return VIBModule(SPEC, **{"z_dim": 4, "encoder_widths": [32], "adversary_widths": [16], "beta": 0.01,
                              "adv_weight": 0.0, "release": "sample", **settings})


def _holder_auc(module: VIBModule) -> float:
    """The encoder holder's AUC on fresh records: Gaussians of 1024 auxiliary rows, one sample of 1024 others."""
    x, _, s = _table(2048, 2)
    module.eval()
    with torch.no_grad():
        mean, scale = module.model.encoder(x)
        z = mean + scale * torch.randn(mean.shape, generator=torch.Generator().manual_seed(5))
    attacker = MixturePosteriorAttacker().fit(torch.cat([mean, scale], 1)[:1024].numpy(), s[:1024, 0].numpy())
    return float(roc_auc_score(s[1024:, 0].numpy(), attacker.predict_proba(z[1024:].numpy())[:, 1]))


def test_the_mixture_penalty_hides_s_from_the_encoder_holder():
    aucs = {}
    for weight in (0.0, 10.0):
        module = _module(dep_penalty="mixture", dep_weight=weight)
        trainer = pl.Trainer(max_epochs=10, logger=False, enable_progress_bar=False, enable_model_summary=False,
                             num_sanity_val_steps=0, accelerator="cpu", enable_checkpointing=False)
        trainer.fit(module, datamodule=_Data())
        aucs[weight] = _holder_auc(module)
        assert ("val/dep" in trainer.callback_metrics) == bool(weight)
    assert aucs[0.0] > 0.75  # the code keeps column 1, and the holder reads s from it
    assert aucs[10.0] < 0.65 and aucs[0.0] - aucs[10.0] > 0.15


def test_the_mixture_penalty_reaches_the_encoder_through_the_sample():
    module = _module(dep_penalty="mixture", dep_weight=3.0)
    x, _, s = _table(256, 0)
    mean, scale, z, _ = module._represent(x)
    term = module._dependence_term("train", module._adversary_input(mean, z), s, mean, scale)
    assert float(term.detach()) > 0
    term.backward()
    assert sum(float(p.grad.abs().sum()) for p in module.model.encoder.parameters()) > 0


@pytest.mark.parametrize("bad", [{"release": "mean"}, {"deterministic": True, "beta": 0.0}])
def test_the_mixture_penalty_needs_a_sampled_release(bad):
    with pytest.raises(ConfigError, match="dep_penalty mixture reads s from a sample"):
        _module(dep_penalty="mixture", dep_weight=1.0, **bad)
