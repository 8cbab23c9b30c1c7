"""The reference objectives of :class:`~privib.training.module.VIBModule` (``model.objective``): FCRL and LAFTR-DP.

``vib`` (the default) is the module's own loss. The others keep its schedule (``adv_steps`` adversary
updates on a frozen code, then one encoder update) and its figures, and replace the encoder loss:

- ``fcrl`` (:mod:`privib.models.fcrl`): ``CE(y | z, c) + beta * KL - nce_weight * NCE(x; z | c)``. The
  adversaries only watch (their CE gives the information-plane bound on I(z; s)); the task head p(y | z)
  trains on the detached code, so it is a probe of what a downstream user without c gets and does not
  change the encoder.
- ``laftr`` (:mod:`privib.models.laftr`): ``CE(y | z) + recon_weight * NLL(x | z, s) - adv_weight * sum_a
  L1_a``, with L1_a the group-normalized L1 error of adversary a, which the adversary updates minimize.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from privib.errors import ConfigError
from privib.models.fcrl import FCRLObjective
from privib.models.laftr import LAFTRObjective, group_normalized_l1
from privib.training.steps import optimizer_update

if TYPE_CHECKING:
    from privib.training.module import VIBModule

__all__ = ["EXTRA_FIGURES", "OBJECTIVES", "AdversaryCE", "adversary_loss", "balanced_class_weights", "build_objective",
           "check_objective", "objective_figures", "objective_step"]

OBJECTIVES = ("vib", "fcrl", "laftr")
# Per-row epoch figures beyond the core ones, ``<split>/<name>``: cvib's, the dependence penalty's, FCRL's
# NCE bound and conditional task CE (nats), LAFTR's group-normalized adversary L1 (summed over attributes).
EXTRA_FIGURES = ("recon_nll", "pairwise_kl", "dep", "nce", "cond_task_ce", "adv_l1")


class AdversaryCE(NamedTuple):
    """One adversary on one batch: the CE its updates minimize (class-weighted with ``adv_class_balance``), the
    plain mean CE in nats (what is logged and bounds I(z; s)) and the number of correct predictions."""

    loss: torch.Tensor
    ce: torch.Tensor
    correct: torch.Tensor


def balanced_class_weights(prior: Sequence[float]) -> torch.Tensor:
    """Per-class CE weights 1 / (K p_k), K the classes present, that count every class alike (an absent one weighs 0)."""
    p = torch.tensor(prior, dtype=torch.float32)
    return torch.where(p > 0, 1.0 / (int((p > 0).sum()) * p.clamp_min(1e-12)), torch.zeros_like(p))


def check_objective(hp: Any) -> None:
    """A ConfigError naming the setting that does not fit ``hp.objective`` (the module's hyper-parameters)."""
    objective = hp.objective
    if objective not in OBJECTIVES:
        raise ConfigError(f"model.objective must be one of {', '.join(OBJECTIVES)}, got '{objective}'")
    if not hp.nce_weight >= 0 or hp.nce_weight == float("inf"):
        raise ConfigError(f"model.nce_weight must be a finite number >= 0, got {hp.nce_weight}")
    if objective == "vib":
        return
    how = f"(or use --method {objective})"
    if hp.adv_mode != "alternating":
        raise ConfigError(f"model.objective {objective} trains its adversaries in separate updates: set model.adv_mode "
                          f"alternating {how}")
    if hp.release == "cells" or hp.dep_penalty != "none":
        raise ConfigError(f"model.objective {objective} has no cell release or dependence penalty: set model.release "
                          f"mean or sample and model.dep_penalty none {how}")
    if objective == "laftr" and hp.adv_class_balance:
        raise ConfigError("model.objective laftr's group-normalized L1 already weighs each group alike: set "
                          f"model.adv_class_balance false {how}")
    if objective == "fcrl":
        if hp.deterministic:
            raise ConfigError(f"model.objective fcrl bounds I(x; z) by the KL of a stochastic encoder: set "
                              f"model.deterministic false {how}")
        if hp.adv_weight or hp.recon_weight:
            raise ConfigError(f"model.objective fcrl has no adversarial or reconstruction term (its privacy weight is "
                              f"model.nce_weight): set model.adv_weight 0 and model.recon_weight 0 {how}")
    elif not hp.deterministic or hp.beta or hp.release != "mean":
        raise ConfigError(f"model.objective laftr has a deterministic encoder: set model.deterministic true, "
                          f"model.beta 0 and model.release mean {how}")


def build_objective(hp: Any, data_spec: dict[str, Any]) -> nn.Module | None:
    """The objective's own modules (trained with the encoder), or None for ``vib``."""
    n_sensitive = [len(data_spec["sensitive_classes"][a]) for a in data_spec["sensitive"]]
    if hp.objective == "fcrl":
        return FCRLObjective(int(data_spec["input_dim"]), hp.z_dim, len(data_spec["target_classes"]), n_sensitive,
                             hp.head_widths, hp.critic_widths, hp.activation)
    if hp.objective == "laftr":
        return LAFTRObjective(hp.z_dim, n_sensitive, data_spec["feature_names"], hp.decoder_widths, hp.activation,
                              with_decoder=bool(hp.recon_weight))
    return None


def objective_figures(hp: Any) -> list[str]:
    """The :data:`EXTRA_FIGURES` the objective logs."""
    if hp.objective == "fcrl":
        return ["nce", "cond_task_ce"]
    if hp.objective == "laftr":
        return ["adv_l1"] + (["recon_nll"] if hp.recon_weight else [])
    return []


def adversary_loss(module: VIBModule, z_adv: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """What the adversary updates minimize: the summed CEs, or for ``laftr`` the summed group-normalized L1s."""
    if module.hparams.objective != "laftr":
        return sum(a.loss for a in module._adversary_ces(z_adv, s))
    return sum(group_normalized_l1(head(z_adv).softmax(-1), s[:, i]) for i, head in enumerate(module.model.adversaries))


def objective_step(module: VIBModule, split: str, batch: tuple[torch.Tensor, ...],
                   optimizer: Any | None = None) -> torch.Tensor:
    """The encoder loss of a ``fcrl`` or ``laftr`` batch, its figures accumulated; with ``optimizer``, one update.

    Without one (validation, test) the task figures are those of the trained head as for ``vib``: averaged over
    ``eval_samples`` draws of z.
    """
    x, y, s = batch
    hp = module.hparams
    mean, _, z, kl = module._represent(x)
    kl_mean = kl.mean()
    if hp.objective == "fcrl":
        terms = module.objective_net(x, z, y, s)
        loss = terms.task_ce + hp.beta * kl_mean - hp.nce_weight * terms.nce
        logits = module.model.task_head(z.detach())  # the probe: p(y | z) without c, no gradient into the encoder
        with torch.no_grad():
            adv = module._adversary_ces(module._adversary_input(mean, z), s)
        sums = {"nce": terms.nce, "cond_task_ce": terms.task_ce}
    else:
        logits = module.model.task_head(z)
        adversary_logits = [head(z) for head in module.model.adversaries]
        terms = module.objective_net(x, z, s, adversary_logits)
        loss = F.cross_entropy(logits, y) + hp.recon_weight * terms.recon_nll - hp.adv_weight * sum(terms.adv_l1)
        adv = []
        for i, a in enumerate(adversary_logits):  # LAFTR's adversaries minimize the L1, so their CE is only logged
            ce = F.cross_entropy(a, s[:, i])
            adv.append(AdversaryCE(ce, ce, (a.argmax(-1) == s[:, i]).sum()))
        sums = {"adv_l1": sum(terms.adv_l1), **({"recon_nll": terms.recon_nll} if hp.recon_weight else {})}
    if optimizer is not None:
        task_ce, correct = F.cross_entropy(logits, y), (logits.argmax(-1) == y).sum()
        optimizer_update(module, loss + task_ce if hp.objective == "fcrl" else loss, optimizer, clip_norm=hp.grad_clip)
    else:
        probs = module.model.predict_proba(x, n_samples=hp.eval_samples)
        task_ce, correct = F.nll_loss(probs.clamp_min(1e-12).log(), y), (probs.argmax(-1) == y).sum()
    accumulated = module._sums.setdefault(split, {})
    for key, value in sums.items():
        accumulated[key] = accumulated.get(key, 0.0) + value.detach() * x.shape[0]
    module._accumulate(split, y.shape[0], task_ce, correct, kl_mean, adv, loss)
    if split == "val" and hp.select_leakage_target is not None:
        module._val_codes.append((module._adversary_input(mean, z).detach(), s))
    return loss.detach()
