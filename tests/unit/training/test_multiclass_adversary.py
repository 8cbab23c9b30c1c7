"""Adversaries of a multi-class attribute (Adult's race, Health's age groups) remove it as well as binary ones do."""
from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from helpers.specs import synthetic_spec
from privib.data.loader import IndexBatchLoader
from privib.training.module import VIBModule
from privib.training.objectives import balanced_class_weights

N_TRAIN, N_TEST = 1024, 1024
SPEC = synthetic_spec({"s": [0.5, 0.5], "r": [0.25, 0.25, 0.25, 0.25]})


def _tensors(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The task reads f0; a binary attribute is the sign of f1, a four-class one the quartile of f2."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=generator)
    quartile = torch.bucketize(x[:, 2].contiguous(), torch.tensor([-0.674, 0.0, 0.674]))
    return x, (x[:, 0] > 0).long(), torch.stack([(x[:, 1] > 0).long(), quartile], 1)


class _Data(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.tensors = _tensors(N_TRAIN, 0)

    def train_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 64, shuffle=True)

    def val_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 512)


def test_balanced_class_weights_count_every_class_alike():
    torch.testing.assert_close(balanced_class_weights([0.75, 0.25, 0.0]), torch.tensor([2 / 3, 2.0, 0.0]))


def test_a_class_balanced_adversary_weighs_rows_by_inverse_prior_and_keeps_the_plain_ce_for_the_logs():
    spec = {**SPEC, "sensitive_priors": {"s": [0.5, 0.5], "r": [0.7, 0.1, 0.1, 0.1]}}
    torch.manual_seed(0)
    module = VIBModule(spec, z_dim=4, encoder_widths=[8], adversary_widths=[8], adv_class_balance=True)
    z, s = torch.randn(400, 4), torch.stack([torch.randint(0, 2, (400,)), torch.randint(0, 4, (400,))], 1)
    terms = module._adversary_ces(z, s)
    logits = module.model.adversaries[1](z)
    per_row = torch.nn.functional.cross_entropy(logits, s[:, 1], reduction="none")
    weights = torch.tensor([1 / 2.8, 2.5, 2.5, 2.5])[s[:, 1]]
    torch.testing.assert_close(terms[1].loss, (weights * per_row).sum() / weights.sum())
    torch.testing.assert_close(terms[1].ce, per_row.mean())
    assert abs(float(terms[1].loss - terms[1].ce)) > 1e-3  # the rare classes weigh more than their share of rows
    torch.testing.assert_close(terms[0].loss, terms[0].ce)  # balanced priors: the two coincide
    plain = VIBModule(spec, z_dim=4, encoder_widths=[8], adversary_widths=[8])
    plain.load_state_dict(module.state_dict())  # the class weights are not in the state: old checkpoints still load
    assert all(a.loss is a.ce for a in plain._adversary_ces(z, s))


def _attacker_auc(z_train: np.ndarray, a_train: np.ndarray, z_test: np.ndarray, a_test: np.ndarray) -> float:
    """Best of a linear and a boosted fresh attacker; macro one-vs-rest AUC for more than two classes."""
    best = 0.0
    for attacker in (LogisticRegression(max_iter=2000), HistGradientBoostingClassifier(max_iter=100, random_state=0)):
        proba = attacker.fit(z_train, a_train).predict_proba(z_test)
        auc = roc_auc_score(a_test, proba[:, 1]) if proba.shape[1] == 2 else roc_auc_score(
            a_test, proba, multi_class="ovr", average="macro")
        best = max(best, float(auc))
    return best


def _train_and_attack(adv_weight: float) -> dict[str, float]:
    """The reconstruction of x from (z, s) keeps f1 and f2 in z; the adversaries, when weighted, take the attributes out."""
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=6, encoder_widths=[32, 32], adversary_widths=[32], decoder_widths=[32], beta=0.001,
                       recon_weight=1.0, pairwise_kl=False, adv_weight=adv_weight, adv_steps=3, lr=3e-3, adv_lr=3e-3)
    trainer = pl.Trainer(max_epochs=40, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(module, datamodule=_Data())
    x_train, _, s_train = _tensors(N_TRAIN, 0)
    x_test, y_test, s_test = _tensors(N_TEST, 1)
    module.eval()
    with torch.no_grad():
        z_train, z_test = module.model.encoder(x_train)[0].numpy(), module.model.encoder(x_test)[0].numpy()
        accuracy = float((module.model.task_head(torch.from_numpy(z_test)).argmax(1) == y_test).float().mean())
    figures = {name: _attacker_auc(z_train, s_train[:, i].numpy(), z_test, s_test[:, i].numpy())
               for i, name in enumerate(SPEC["sensitive"])}
    return {"task_acc": accuracy, **figures}


@pytest.mark.slow
def test_the_four_class_adversary_removes_its_attribute_as_the_binary_one_does():
    open_code, private_code = _train_and_attack(0.0), _train_and_attack(4.0)
    assert open_code["s"] > 0.9 and open_code["r"] > 0.9, open_code  # both planted attributes are in z to begin with
    assert private_code["task_acc"] > 0.9, private_code
    assert private_code["s"] < 0.65 and private_code["r"] < 0.65, private_code
    removed = {name: (open_code[name] - private_code[name]) / (open_code[name] - 0.5) for name in ("s", "r")}
    assert removed["r"] > 0.8 and removed["r"] >= removed["s"] - 0.15, removed  # share of the AUC above chance removed
