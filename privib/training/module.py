"""The LightningModule: VIB objective, adversarial heads, per-epoch information-plane logging."""
from __future__ import annotations

import math
from typing import Any, Literal
from collections.abc import Iterator, Sequence

import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from privib.errors import ConfigError
from privib.models.distributions import LN2, kl_standard_normal, reparameterize
from privib.models.gradient_reversal import grad_reverse
from privib.models.vib import build_vib_model
from privib.training.adversary_schedule import check_schedule, ramped_weight, reinitialize, resets_at
from privib.training.options import check_non_negative, check_positive
from privib.training.objectives import (EXTRA_FIGURES, AdversaryCE, adversary_loss, balanced_class_weights,
                                        build_objective, check_objective, objective_figures, objective_step)
from privib.training.steps import optimizer_update, train_batches

AdvMode = Literal["alternating", "grl"]
Release = Literal["mean", "sample", "cells"]


def entropy_bits(prior: Sequence[float]) -> float:
    """Shannon entropy of a discrete distribution, in bits."""
    return float(-sum(p * math.log2(p) for p in prior if p > 0))


class VIBModule(pl.LightningModule):
    """Train a VIB encoder with a task head and one adversary per sensitive attribute.

    Encoder loss: task CE + ``beta`` * KL(q(z|x) || N(0, I)) - ``adv_weight`` * sum of adversary CEs.
    The adversaries minimize their CE, either in the same backward pass through a gradient
    reversal layer (``adv_mode="grl"``) or in ``adv_steps`` separate updates per encoder
    update (``adv_mode="alternating"``). ``deterministic=True`` drops the noise and the KL:
    with ``adv_weight=0`` that is the plain MLP, with ``adv_weight>0`` the adversary-only baseline.

    Args:
        data_spec: the datamodule's ``DataSpec.to_dict()`` (input width, classes, label priors).
        z_dim: width of the representation z.
        encoder_widths: hidden layer widths of the encoder MLP.
        head_widths: hidden layer widths of the task head (empty: linear head).
        adversary_widths: hidden layer widths of each adversary.
        activation: hidden activation (relu, gelu, elu, tanh, silu, leaky_relu).
        deterministic: encoder outputs z = mean, no noise and no KL term.
        beta: weight of the KL rate term (>= 0).
        adv_weight: lambda, weight of the adversarial term in the encoder loss (>= 0).
        adv_mode: ``alternating`` updates or gradient reversal (``grl``).
        adv_steps: adversary updates per encoder update in alternating mode.
        adv_class_balance: weigh each class of a sensitive attribute alike in the adversaries' CE (weights
            1 / (K p_k) from the training priors), for both the adversaries and the encoder's term; off, a
            class counts by its frequency. For multi-class attributes with rare classes, which the audit's
            macro AUC weighs as much as the common ones.
        adv_warmup: epochs over which the encoder's adversary weight ramps up to ``adv_weight`` (0: none), and
        adv_reset_every: re-initialize the adversaries every this many epochs (0: never); both in
            :mod:`privib.training.adversary_schedule`.
        release: the representation handed downstream: the ``mean`` of q(z|x) or one ``sample`` z ~ q(z|x).
            The adversaries and the dependence penalty attack it, the audit's headline leakage measures
            it, and an exported encoder's ``encode`` returns it by default. ``cells``: a quantized encoder
            (:mod:`privib.models.cells`) maps each record to one of ``n_cells`` cells and releases its one-hot
            code, deterministically; the audit then also certifies an upper bound on any attacker's leakage
            (:mod:`privib.evaluation.certificate`). No Gaussian rate there: ``beta`` must be 0, ``z_dim`` is unused.
        n_cells: number of cells of the ``cells`` release (>= 2).
        cell_temperature: softmax temperature of the straight-through gradients of the ``cells`` release.
        cell_noise: ``cells`` only: the task head trains on a cell drawn from softmax(logits) (Gumbel-max,
            straight-through) instead of the argmax cell; the adversaries always attack the released argmax cell.
            On Adult (2 and 4 cells, lambda 5) this raised accuracy by 0.02-0.03 and halved the leakage.
        lr: Adam learning rate of the encoder and task head.
        adv_lr: Adam learning rate of the adversaries.
        weight_decay: Adam weight decay of encoder + task head.
        eval_samples: draws of z averaged for validation predictions (0: use the mean).
        grad_clip: clip the encoder's gradient norm to this value (None: no clipping).
        recon_weight: weight of the ``cvib`` term (Moyer et al. 2018 style), 0 to turn it off: a decoder
            p(x | z, s) conditioned on the sensitive attributes reconstructs the preprocessed features and the
            encoder loss adds ``recon_weight * (NLL(x | z, s) + mean_j KL(q(z|x) || q(z|x_j)))`` over the batch,
            an upper bound on I(z; s) up to a constant (see :mod:`privib.models.decoder`). Needs a stochastic encoder.
        pairwise_kl: keep the pairwise KL in that term (cvib). False weighs the conditional reconstruction NLL
            alone: no compression, the term then asks z to keep what x holds beyond s (for transfer).
        decoder_widths: hidden layer widths of that decoder.
        dep_penalty: a non-adversarial dependence penalty between the released representation and
            each sensitive attribute: ``none``, ``mmd`` (group-vs-pool MMD^2) or ``hsic`` (normalized HSIC),
            both with median-bandwidth RBF kernels, or ``tv`` (group-vs-pool squared total variation of the
            one-hot cells, for ``release cells``: MMD's kernel gradient vanishes on one-hot codes), or
            ``mixture`` (``release sample`` only: the encoder holder on the batch, the squared gap between the
            groups' posteriors of s given the sample through the other rows' Gaussians) (see :mod:`privib.models.dependence`).
        dep_weight: weight of that penalty in the encoder loss.
        select_leakage_target: when set, each validation epoch also fits two fresh attackers on half of
            the validation split's released codes and scores them on the other half (``val/leak_auc``),
            and logs ``val/select`` (task accuracy within the target, minus the AUC outside it; see
            :mod:`privib.training.selection`). Select checkpoints on it with ``checkpoint.monitor
            val/select`` and ``checkpoint.mode max``.
        objective: the encoder loss: ``vib`` (the one above), or a reference method of
            :mod:`privib.training.objectives`: ``fcrl`` (Gupta et al. 2021) or ``laftr`` (LAFTR-DP, Madras et al. 2018).
        nce_weight: ``fcrl`` only: lambda, the weight of its contrastive bound on I(x; z | c) (beta weighs the KL).
        critic_widths: ``fcrl`` only: hidden layer widths of its critic's f_x.
    """

    def __init__(
        self,
        data_spec: dict[str, Any],
        z_dim: int = 16,
        encoder_widths: list[int] = [128, 128],
        head_widths: list[int] = [],
        adversary_widths: list[int] = [64, 64],
        activation: str = "relu",
        deterministic: bool = False,
        beta: float = 1e-3,
        adv_weight: float = 1.0,
        adv_mode: AdvMode = "alternating",
        adv_steps: int = 1,
        adv_class_balance: bool = False,
        adv_warmup: int = 0,
        adv_reset_every: int = 0,
        release: Release = "mean",
        n_cells: int = 8,
        cell_temperature: float = 1.0,
        cell_noise: bool = True,
        lr: float = 1e-3,
        adv_lr: float = 1e-3,
        weight_decay: float = 0.0,
        eval_samples: int = 16,
        grad_clip: float | None = None,
        recon_weight: float = 0.0,
        pairwise_kl: bool = True,
        decoder_widths: list[int] = [128, 128],
        dep_penalty: Literal["none", "mmd", "hsic", "tv", "mixture"] = "none",
        dep_weight: float = 0.0,
        select_leakage_target: float | None = None,
        objective: Literal["vib", "fcrl", "laftr"] = "vib",
        nce_weight: float = 1.0,
        critic_widths: list[int] = [50],
    ) -> None:
        super().__init__()
        check_non_negative(beta=beta, adv_weight=adv_weight, weight_decay=weight_decay)
        check_positive(lr=lr, adv_lr=adv_lr, adv_steps=adv_steps)
        check_schedule(adv_warmup, adv_reset_every)
        if adv_warmup and objective != "vib":
            raise ConfigError(f"model.adv_warmup ramps the VIB objective's adversary weight; model.objective {objective} "
                              "weighs its own terms: set model.adv_warmup 0")
        if adv_mode not in ("alternating", "grl"):
            raise ConfigError(f"model.adv_mode must be 'alternating' or 'grl', got '{adv_mode}'")
        if release not in ("mean", "sample", "cells"):
            raise ConfigError(f"model.release must be 'mean', 'sample' or 'cells', got '{release}'")
        if release == "cells" and (beta or recon_weight):
            raise ConfigError("model.release cells has no Gaussian rate or reconstruction term: set model.beta 0 and "
                              "model.recon_weight 0 (or use --method cells)")
        if dep_penalty not in ("none", "mmd", "hsic", "tv", "mixture"):
            raise ConfigError(f"model.dep_penalty must be none, mmd, hsic, tv or mixture, got '{dep_penalty}'")
        check_non_negative(dep_weight=dep_weight)
        if dep_penalty == "tv" and release != "cells":
            raise ConfigError("model.dep_penalty tv measures one-hot cells: use it with model.release cells (a Gaussian "
                              "z could shrink to evade it), or mmd / hsic")
        if dep_penalty == "mixture" and (release != "sample" or deterministic):
            raise ConfigError("model.dep_penalty mixture reads s from a sample through the encoder's Gaussians: use it "
                              "with model.release sample and model.deterministic false, or mmd / hsic")
        if select_leakage_target is not None and not 0.5 <= select_leakage_target <= 1.0:
            raise ConfigError(f"model.select_leakage_target must be an AUC in [0.5, 1], got {select_leakage_target}")
        if eval_samples < 0:
            raise ConfigError(f"model.eval_samples must be >= 0, got {eval_samples}")
        self.save_hyperparameters()
        check_objective(self.hparams)
        self.automatic_optimization = False
        self.sensitive: list[str] = list(data_spec["sensitive"])
        self.model = build_vib_model(
            data_spec, z_dim=z_dim, encoder_widths=encoder_widths, head_widths=head_widths,
            adversary_widths=adversary_widths, activation=activation, deterministic=deterministic,
            release=release, n_cells=n_cells, cell_temperature=cell_temperature,
        )
        self.decoder = self._make_decoder(data_spec) if recon_weight and objective == "vib" else None
        self.objective_net = build_objective(self.hparams, data_spec)
        self.h_target_bits = entropy_bits(data_spec["target_prior"])
        self.h_sensitive_bits = [entropy_bits(data_spec["sensitive_priors"][a]) for a in self.sensitive]
        for i, a in enumerate(self.sensitive):  # not persistent: derived from data_spec, absent from older checkpoints
            weights = balanced_class_weights(data_spec["sensitive_priors"][a]) if adv_class_balance else None
            self.register_buffer(f"_adv_class_weight_{i}", weights, persistent=False)
        self._sums: dict[str, dict[str, torch.Tensor]] = {}
        self._val_codes: list[tuple[torch.Tensor, torch.Tensor]] = []

    # ----------------------------------------------------------------- objective
    def _represent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode: returns mean, scale, a sample z and the per-row KL in nats (zero when deterministic)."""
        mean, scale = self.model.encoder(x)
        if self.hparams.release == "cells":  # the one-hot cell; a drawn cell for the task head with cell_noise
            z = self.model.encoder.sample(x) if self.training and self.hparams.cell_noise else mean
            return mean, scale, z, torch.zeros(mean.shape[0], device=mean.device)
        if self.hparams.deterministic:
            return mean, scale, mean, torch.zeros(mean.shape[0], device=mean.device)
        return mean, scale, reparameterize(mean, scale), kl_standard_normal(mean, scale)

    def _adversary_input(self, mean: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return z if self.hparams.release == "sample" else mean

    def _adversary_ces(self, z_adv: torch.Tensor, s: torch.Tensor) -> list[AdversaryCE]:
        """One :class:`AdversaryCE` per attribute."""
        out = []
        for i, head in enumerate(self.model.adversaries):
            logits = head(z_adv)
            ce = F.cross_entropy(logits, s[:, i])
            weight = getattr(self, f"_adv_class_weight_{i}")
            loss = ce if weight is None else F.cross_entropy(logits, s[:, i], weight=weight)
            out.append(AdversaryCE(loss, ce, (logits.argmax(-1) == s[:, i]).sum()))
        return out

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        encoder_params = [*self.model.encoder.parameters(), *self.model.task_head.parameters()]
        encoder_params += list(self.decoder.parameters()) if self.decoder is not None else []
        encoder_params += list(self.objective_net.parameters()) if self.objective_net is not None else []
        adversary_params = list(self.model.adversaries.parameters())
        hp = self.hparams
        # foreach: one multi-tensor kernel per update instead of a Python loop over parameters. On CPU torch
        # defaults to the loop; the result is bitwise the same, each step ~25% cheaper (up to 4 steps per batch).
        if hp.adv_mode == "grl":
            return [torch.optim.Adam(
                [{"params": encoder_params, "lr": hp.lr, "weight_decay": hp.weight_decay},
                 {"params": adversary_params, "lr": hp.adv_lr}], foreach=True,
            )]
        return [
            torch.optim.Adam(encoder_params, lr=hp.lr, weight_decay=hp.weight_decay, foreach=True),
            torch.optim.Adam(adversary_params, lr=hp.adv_lr, foreach=True),
        ]

    def training_step(self, dataloader_iter: Iterator[Any]) -> torch.Tensor:
        """Train on the next batches of the epoch (several per call where :func:`~privib.training.steps.train_batches`
        can, to spare Lightning's per-batch loop); returns the last one's loss."""
        return train_batches(self, dataloader_iter, self._train_batch)

    def _train_batch(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The adversaries' updates and the encoder's update on one batch; its figures accumulated."""
        x, y, s = batch
        hp = self.hparams
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        if hp.adv_mode == "alternating":
            self._adversary_updates(x, s, optimizers[1])
        if hp.objective != "vib":
            return objective_step(self, "train", batch, optimizers[0])
        mean, scale, z, kl = self._represent(x)
        logits = self.model.task_head(z)
        task_ce = F.cross_entropy(logits, y)
        kl_mean = kl.mean()
        z_adv = self._adversary_input(mean, z)
        adv_weight = ramped_weight(hp.adv_weight, hp.adv_warmup, self.current_epoch)
        if hp.adv_mode == "grl":
            adv = self._adversary_ces(grad_reverse(z_adv, adv_weight), s)
            loss = task_ce + hp.beta * kl_mean + sum(a.loss for a in adv)
        else:
            adv = self._adversary_ces(z_adv, s)
            loss = task_ce + hp.beta * kl_mean - adv_weight * sum(a.loss for a in adv)
        loss = loss + self._recon_term("train", x, s, z, mean, scale) + self._dependence_term("train", z_adv, s, mean, scale)
        optimizer_update(self, loss, optimizers[0], clip_norm=hp.grad_clip)
        self._accumulate("train", y.shape[0], task_ce, (logits.argmax(-1) == y).sum(), kl_mean, adv, loss)
        return loss.detach()

    def _adversary_updates(self, x: torch.Tensor, s: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """``adv_steps`` updates of the adversaries on a frozen representation of this batch."""
        with torch.no_grad():
            mean, _, z, _ = self._represent(x)
            z_adv = self._adversary_input(mean, z)
        for _ in range(self.hparams.adv_steps):
            optimizer_update(self, adversary_loss(self, z_adv, s), optimizer)

    # ----------------------------------------------------------------- cvib: conditional reconstruction
    def _make_decoder(self, data_spec: dict[str, Any]) -> torch.nn.Module:
        from privib.models.decoder import ConditionalDecoder, feature_groups

        hp = self.hparams
        check_non_negative(recon_weight=hp.recon_weight)
        if hp.deterministic:
            raise ConfigError("model.recon_weight > 0 (cvib, vib_recon) needs a stochastic encoder: set model.deterministic false "
                              "(cvib's KL(q(z|x) || q(z)) is infinite otherwise; a deterministic one with a decoder: --method laftr)")
        self._feature_groups = feature_groups(data_spec["feature_names"])
        return ConditionalDecoder(hp.z_dim, [len(data_spec["sensitive_classes"][a]) for a in self.sensitive],
                                  int(data_spec["input_dim"]), hp.decoder_widths, hp.activation)

    def _recon_term(self, split: str, x: torch.Tensor, s: torch.Tensor, z: torch.Tensor | None, mean: torch.Tensor,
                    scale: torch.Tensor) -> torch.Tensor | float:
        """``recon_weight * (NLL(x | z, s) [+ pairwise KL if pairwise_kl])``, batch means (z: drawn here when None).

        Both parts are also summed for the epoch figures ``<split>/recon_nll`` and ``<split>/pairwise_kl``.
        """
        if self.decoder is None:
            return 0.0
        from privib.models.decoder import pairwise_gaussian_kl, reconstruction_nll

        z = reparameterize(mean, scale) if z is None else z
        nll = reconstruction_nll(self.decoder(z, s), x, self._feature_groups).mean()
        pairwise = pairwise_gaussian_kl(mean, scale).mean()
        sums = self._sums.setdefault(split, {})
        for key, value in (("recon_nll", nll), ("pairwise_kl", pairwise)):
            sums[key] = sums.get(key, 0.0) + value.detach() * x.shape[0]
        return self.hparams.recon_weight * (nll + pairwise if self.hparams.pairwise_kl else nll)

    def _dependence_term(self, split: str, z_adv: torch.Tensor, s: torch.Tensor, mean: torch.Tensor,
                         scale: torch.Tensor) -> torch.Tensor | float:
        """``dep_weight`` times the dependence penalty summed over attributes; also summed as ``<split>/dep``."""
        hp = self.hparams
        if hp.dep_penalty == "none" or hp.dep_weight == 0:
            return 0.0
        from privib.models.dependence import PENALTIES, mixture_penalty

        classes = [len(hp.data_spec["sensitive_classes"][a]) for a in self.sensitive]
        if hp.dep_penalty == "mixture":
            value = sum(mixture_penalty(z_adv, mean, scale, s[:, i], k) for i, k in enumerate(classes))
        else:
            value = sum(PENALTIES[hp.dep_penalty](z_adv, s[:, i], k) for i, k in enumerate(classes))
        sums = self._sums.setdefault(split, {})
        sums["dep"] = sums.get("dep", 0.0) + value.detach() * z_adv.shape[0]
        return hp.dep_weight * value

    # ----------------------------------------------------------------- evaluation
    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._evaluate_batch("val", batch)

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._evaluate_batch("test", batch)

    def _evaluate_batch(self, split: str, batch: tuple[torch.Tensor, ...]) -> None:
        x, y, s = batch
        hp = self.hparams
        if hp.objective != "vib":
            objective_step(self, split, batch)
            return
        mean, scale, _, kl = self._represent(x)
        probs = self.model.predict_proba(x, n_samples=hp.eval_samples)
        task_ce = F.nll_loss(probs.clamp_min(1e-12).log(), y)
        z_adv = mean if hp.release == "mean" or hp.deterministic else reparameterize(mean, scale)
        adv = self._adversary_ces(z_adv, s)
        kl_mean = kl.mean()
        loss = task_ce + hp.beta * kl_mean - hp.adv_weight * sum(a.loss for a in adv)
        loss = loss + self._recon_term(split, x, s, None, mean, scale) + self._dependence_term(split, z_adv, s, mean, scale)
        self._accumulate(split, y.shape[0], task_ce, (probs.argmax(-1) == y).sum(), kl_mean, adv, loss)
        if split == "val" and hp.select_leakage_target is not None:
            self._val_codes.append((z_adv.detach(), s))

    # ----------------------------------------------------------------- logging
    def _accumulate(
        self, split: str, n: int, task_ce: torch.Tensor, task_correct: torch.Tensor, kl: torch.Tensor,
        adv: list[AdversaryCE], loss: torch.Tensor,
    ) -> None:
        """Add this batch's row-weighted sums; logged once per epoch (no per-step logging cost)."""
        values = {"n": float(n), "task_ce": task_ce.detach() * n, "task_correct": task_correct.float(),
                  "kl": kl.detach() * n, "loss": loss.detach() * n}
        for i, a in enumerate(adv):
            values[f"adv_ce/{i}"] = a.ce.detach() * n
            values[f"adv_correct/{i}"] = a.correct.float()
        sums = self._sums.setdefault(split, {})
        for key, value in values.items():
            sums[key] = sums.get(key, 0.0) + value

    def _log_epoch(self, split: str) -> None:
        sums = self._sums.pop(split, None)
        if not sums:
            return
        keys = sorted(sums)
        stacked = torch.stack([torch.as_tensor(sums[k], dtype=torch.float64) for k in keys])
        stacked = self.trainer.strategy.reduce(stacked, reduce_op="sum") if self.trainer.world_size > 1 else stacked
        total = dict(zip(keys, stacked.tolist()))
        n = total["n"]
        task_ce_bits = total["task_ce"] / n / LN2
        metrics = {
            f"{split}/loss": total["loss"] / n,
            f"{split}/task_ce": total["task_ce"] / n,
            f"{split}/task_acc": total["task_correct"] / n,
            f"{split}/kl_bits": total["kl"] / n / LN2,
            f"{split}/info/rate_bits": total["kl"] / n / LN2,
            f"{split}/info/izy_lb_bits": max(0.0, self.h_target_bits - task_ce_bits),
        }
        for i, attribute in enumerate(self.sensitive):
            ce = total[f"adv_ce/{i}"] / n
            metrics[f"{split}/adv/{attribute}/ce"] = ce
            metrics[f"{split}/adv/{attribute}/acc"] = total[f"adv_correct/{i}"] / n
            metrics[f"{split}/info/izs_lb_bits/{attribute}"] = max(0.0, self.h_sensitive_bits[i] - ce / LN2)
        metrics.update({f"{split}/{k}": total[k] / n for k in EXTRA_FIGURES if k in total})
        if split == "val" and self._val_codes:
            metrics.update(self._holdout_selection(metrics["val/task_acc"]))
        # The progress bar shows the task figures; the objective (``loss``) subtracts the adversary term and goes negative.
        shown = {k: metrics.pop(k) for k in (f"{split}/task_acc", f"{split}/task_ce")}
        distributed = self.trainer.world_size > 1
        # Logged once per epoch, already averaged: batch_size only tells Lightning (which cannot infer it in the
        # dataloader_iter flavour) how to weigh that one value.
        self.log_dict(shown, prog_bar=True, sync_dist=distributed, batch_size=1)
        self.log_dict(metrics, sync_dist=distributed, batch_size=1)

    def _holdout_selection(self, task_acc: float) -> dict[str, float]:
        """``val/leak_auc`` of fresh attackers on the released validation codes, and ``val/select``."""
        from privib.training.selection import holdout_leakage_auc, selection_score

        z = torch.cat([codes for codes, _ in self._val_codes]).cpu().numpy()
        s = torch.cat([labels for _, labels in self._val_codes]).cpu().numpy()
        self._val_codes = []
        leak = holdout_leakage_auc(z, s, seed=self.current_epoch)
        return {"val/leak_auc": leak, "val/select": selection_score(task_acc, leak, self.hparams.select_leakage_target)}

    def epoch_metric_keys(self) -> set[str]:
        """Every key :meth:`_log_epoch` logs for the train and val splits: what ``checkpoint.monitor`` may name."""
        hp = self.hparams
        names = ["loss", "task_ce", "task_acc", "kl_bits", "info/rate_bits", "info/izy_lb_bits"]
        for attribute in self.sensitive:
            names += [f"adv/{attribute}/ce", f"adv/{attribute}/acc", f"info/izs_lb_bits/{attribute}"]
        names += ["recon_nll", "pairwise_kl"] if self.decoder is not None else []
        names += ["dep"] if hp.dep_penalty != "none" and hp.dep_weight != 0 else []
        names += objective_figures(hp)
        keys = {f"{split}/{name}" for split in ("train", "val") for name in names}
        return keys | ({"val/leak_auc", "val/select"} if hp.select_leakage_target is not None else set())

    def on_train_epoch_start(self) -> None:
        if resets_at(self.hparams.adv_reset_every, self.current_epoch):
            optimizers = self.optimizers()
            optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
            reinitialize(self.model.adversaries, [getattr(o, "optimizer", o) for o in optimizers])

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

