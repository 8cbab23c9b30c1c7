"""The cvib method in the LightningModule: the conditional decoder trains with the encoder, its terms are logged."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from privib.errors import ConfigError

NAMES = ["age", "hours", "job=a", "job=b", "job=c", "sex_like=x", "sex_like=y"]
SPEC = {"input_dim": 7, "feature_names": NAMES, "target": "y", "target_classes": ["0", "1"], "target_prior": [0.5, 0.5],
        "sensitive": ["s"], "sensitive_classes": {"s": ["a", "b"]}, "sensitive_priors": {"s": [0.5, 0.5]}}


class _Data(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        n = 128
        job = torch.randint(0, 3, (n,), generator=g)
        s = torch.randint(0, 2, (n,), generator=g)
        x = torch.cat([torch.randn(n, 2, generator=g), F.one_hot(job, 3).float(), F.one_hot(s, 2).float()], 1)
        self.tensors = (x, (x[:, 0] > 0).long(), s[:, None])

    def train_dataloader(self):
        from privib.data.loader import IndexBatchLoader

        return IndexBatchLoader(self.tensors, 32, shuffle=True)

    def val_dataloader(self):
        from privib.data.loader import IndexBatchLoader

        return IndexBatchLoader(self.tensors, 64)


def test_module_trains_the_decoder_with_the_encoder_and_logs_both_terms():
    from privib.training.module import VIBModule

    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], decoder_widths=[16], adv_weight=0.0,
                       recon_weight=1.0)
    before = [p.clone() for p in module.decoder.parameters()]
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(module, datamodule=_Data())
    encoder_opt = trainer.optimizers[0]
    in_encoder_opt = {id(p) for group in encoder_opt.param_groups for p in group["params"]}
    assert all(id(p) in in_encoder_opt for p in module.decoder.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, module.decoder.parameters()))
    logged = trainer.callback_metrics
    assert {"train/recon_nll", "train/pairwise_kl", "val/recon_nll", "val/pairwise_kl"} <= set(logged)
    assert float(logged["val/recon_nll"]) > 0 and float(logged["val/pairwise_kl"]) >= 0
    # Without recon_weight there is no decoder and no such figure.
    plain = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8])
    assert plain.decoder is None


def test_recon_weight_needs_a_stochastic_encoder():
    from privib.training.module import VIBModule

    with pytest.raises(ConfigError, match="needs a stochastic encoder"):
        VIBModule(SPEC, deterministic=True, recon_weight=1.0)
    with pytest.raises(ConfigError, match="model.recon_weight must be"):
        VIBModule(SPEC, recon_weight=-1.0)
