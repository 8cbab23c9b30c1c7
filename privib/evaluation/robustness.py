"""Perturbations of preprocessed test inputs, and the summary of an accuracy-vs-level curve.

The input is the preprocessed feature matrix: standardized numeric columns plus one
one-hot block per categorical feature. Its layout (:class:`~privib.evaluation.feature_layout.FeatureLayout`) tells the
perturbations which columns are which, so that random perturbations keep one-hots valid
and gradient attacks move numeric features only.

Families (``FAMILIES``) and the meaning of their level:

- ``noise``: Gaussian noise of standard deviation ``level`` added to numeric features.
- ``corruption``: each categorical value is, with probability ``level``, replaced by a
  draw from the training marginal of that feature (which may return the same value).
- ``masking``: each feature (a numeric column or a whole categorical group) is, with
  probability ``level``, replaced by its training mean / most frequent category.
- ``fgsm`` / ``pgd``: L-infinity attacks of radius ``level`` on numeric features against
  the task head; categorical one-hots are held fixed (not projected). The loss is the task
  cross-entropy averaged over K samples of the encoder noise (expectation over
  transformation), so a stochastic encoder cannot hide a weak attack by randomizing its
  gradients.

Bins of numeric columns (``data.numeric_bins``) follow their column: every family that moves a
numeric value re-derives its bins (:meth:`FeatureLayout.rebin`; a gradient attack after each step),
so the encoder sees what the preprocessor would have written for the perturbed values, and a
gradient attack differentiates through a smooth surrogate of them (:mod:`privib.evaluation.binned_inputs`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from privib.errors import ConfigError
from privib.evaluation.binned_inputs import rebinned, with_bin_gradients
from privib.evaluation.feature_layout import FeatureLayout, LayoutLike, layout_from_train

__all__ = [
    "FAMILIES",
    "RATE_FAMILIES",
    "FeatureLayout",
    "layout_from_train",
    "validate_levels",
    "gaussian_noise",
    "categorical_corruption",
    "masking",
    "fgsm",
    "pgd",
    "perturb",
    "encode",
    "predict_task",
    "mean_drift",
    "normalized_area",
]

FAMILIES: tuple[str, ...] = ("noise", "corruption", "masking", "fgsm", "pgd")
RATE_FAMILIES: tuple[str, ...] = ("corruption", "masking")

Encoder = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
Head = Callable[[torch.Tensor], torch.Tensor]


def validate_levels(family: str, levels: Sequence[float]) -> list[float]:
    """Check a grid of levels for a family; return it as floats.

    Rates (``corruption``, ``masking``) must lie in [0, 1]; noise std and attack radii
    (``noise``, ``fgsm``, ``pgd``) must be finite and >= 0. Raises ConfigError otherwise.
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown robustness family '{family}'; choose from {list(FAMILIES)}")
    if isinstance(levels, (str, bytes)) or not isinstance(levels, (Sequence, np.ndarray)):
        raise ConfigError(f"robustness levels for '{family}' must be a list of numbers, got {levels!r}")
    out = []
    for lv in levels:
        try:
            v = float(lv)
        except (TypeError, ValueError):
            raise ConfigError(f"robustness level {lv!r} for '{family}' is not a number") from None
        _check_level(family, v)
        out.append(v)
    if not out:
        raise ConfigError(f"robustness levels for '{family}' are empty; give at least one level")
    return out


def gaussian_noise(
    x: ArrayLike, level: float, layout: LayoutLike, random_state: int | np.random.Generator | None = 0
) -> NDArray:
    """Add N(0, level^2) noise to the numeric columns; categorical columns are unchanged."""
    _check_level("noise", level)
    lay, out, rng = FeatureLayout.from_dict(layout), _copy(x, layout), np.random.default_rng(random_state)
    if lay.numeric_idx and level > 0:
        out[:, lay.numeric_idx] += rng.normal(0.0, level, size=(out.shape[0], len(lay.numeric_idx)))
    return lay.rebin(out)


def categorical_corruption(
    x: ArrayLike, level: float, layout: LayoutLike, random_state: int | np.random.Generator | None = 0
) -> NDArray:
    """With probability ``level`` per row and categorical feature, redraw it from the training marginal."""
    _check_level("corruption", level)
    lay, out, rng = FeatureLayout.from_dict(layout), _copy(x, layout), np.random.default_rng(random_state)
    n = out.shape[0]
    for g, m in zip(lay.categorical_groups, lay.train_marginals):
        hit = rng.random(n) < level
        k = int(hit.sum())
        if k == 0:
            continue
        draws = rng.choice(len(g), size=k, p=m)
        block = np.zeros((k, len(g)))
        block[np.arange(k), draws] = 1.0
        out[np.ix_(np.flatnonzero(hit), g)] = block
    return out


def masking(
    x: ArrayLike, level: float, layout: LayoutLike, random_state: int | np.random.Generator | None = 0
) -> NDArray:
    """With probability ``level`` per row and feature, set it to its training mean / most frequent category."""
    _check_level("masking", level)
    lay, out, rng = FeatureLayout.from_dict(layout), _copy(x, layout), np.random.default_rng(random_state)
    n = out.shape[0]
    if lay.numeric_idx:
        hit = rng.random((n, len(lay.numeric_idx))) < level
        num = out[:, lay.numeric_idx]
        out[:, lay.numeric_idx] = np.where(hit, lay.numeric_means[None, :], num)
        lay.rebin(out)
    for g, m in zip(lay.categorical_groups, lay.train_marginals):
        hit = np.flatnonzero(rng.random(n) < level)
        if hit.size:
            mode = np.zeros(len(g))
            mode[int(np.argmax(m))] = 1.0
            out[np.ix_(hit, g)] = mode
    return out


def fgsm(
    x: torch.Tensor,
    y: torch.Tensor,
    encoder: Encoder,
    task_head: Head,
    eps: float,
    layout: LayoutLike,
    k_samples: int = 8,
    random_state: int = 0,
    batch_size: int = 4096,
) -> torch.Tensor:
    """One signed-gradient step of size ``eps`` on numeric features (L-infinity FGSM).

    The gradient is that of the task cross-entropy averaged over ``k_samples`` draws of
    z = mean + scale * noise. Modules run in eval mode (their modes are restored after).
    """
    _check_level("fgsm", eps)
    return _gradient_attack(
        x, y, encoder, task_head, eps, layout, 1, eps, False, k_samples, random_state, batch_size
    )


def pgd(
    x: torch.Tensor,
    y: torch.Tensor,
    encoder: Encoder,
    task_head: Head,
    eps: float,
    layout: LayoutLike,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    k_samples: int = 8,
    random_state: int = 0,
    batch_size: int = 4096,
) -> torch.Tensor:
    """Projected gradient ascent in the L-infinity ball of radius ``eps`` on numeric features.

    ``steps`` signed-gradient steps of ``step_size`` (default 2.5 * eps / steps), each
    followed by projection onto the ball, from a uniform random start inside it when
    ``random_start``. Each step uses fresh ``k_samples`` noise draws (expectation over
    transformation). Categorical columns are never changed.
    """
    _check_level("pgd", eps)
    if steps < 1:
        raise ConfigError(f"pgd steps must be >= 1, got {steps}")
    size = 2.5 * eps / steps if step_size is None else float(step_size)
    if not math.isfinite(size) or size < 0:
        raise ConfigError(f"pgd step_size must be finite and >= 0, got {step_size}")
    return _gradient_attack(
        x, y, encoder, task_head, eps, layout, steps, size, random_start, k_samples, random_state, batch_size
    )


def perturb(
    family: str,
    x: ArrayLike | torch.Tensor,
    level: float,
    layout: LayoutLike,
    *,
    y: ArrayLike | torch.Tensor | None = None,
    encoder: Encoder | None = None,
    task_head: Head | None = None,
    random_state: int = 0,
    **attack_kwargs: Any,
) -> NDArray:
    """Apply one family at one level to a numpy or torch matrix; return a float32 numpy array.

    Gradient families need ``y``, ``encoder`` and ``task_head``; extra keyword arguments
    (``k_samples``, ``steps``, ...) go to :func:`fgsm` / :func:`pgd`.
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown robustness family '{family}'; choose from {list(FAMILIES)}")
    if family in ("fgsm", "pgd"):
        if y is None or encoder is None or task_head is None:
            raise ValueError(f"{family} needs y, encoder and task_head")
        xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
        yt = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).long()
        fn = fgsm if family == "fgsm" else pgd
        adv = fn(xt, yt, encoder, task_head, level, layout, random_state=random_state, **attack_kwargs)
        return adv.detach().cpu().numpy().astype(np.float32)
    xn = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    fn_np = {"noise": gaussian_noise, "corruption": categorical_corruption, "masking": masking}[family]
    return fn_np(xn, level, layout, random_state).astype(np.float32)


@torch.no_grad()
def encode(encoder: Encoder, x: ArrayLike | torch.Tensor, batch_size: int = 8192) -> tuple[NDArray, NDArray]:
    """(mean, scale) of q(z|x) as numpy arrays, in eval mode, batched."""
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
    means, scales = [], []
    with _eval_mode(encoder):
        for i in range(0, xt.shape[0], batch_size):
            m, s = encoder(xt[i : i + batch_size])
            means.append(m.cpu().numpy())
            scales.append(torch.as_tensor(s).expand_as(m).cpu().numpy())
    return np.concatenate(means), np.concatenate(scales)


@torch.no_grad()
def predict_task(
    encoder: Encoder, task_head: Head, x: ArrayLike | torch.Tensor, batch_size: int = 8192
) -> NDArray:
    """Task predictions (argmax of the head) from the mean of q(z|x), in eval mode."""
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
    preds = []
    with _eval_mode(encoder, task_head):
        for i in range(0, xt.shape[0], batch_size):
            mean, _ = encoder(xt[i : i + batch_size])
            logits = task_head(mean)
            preds.append(_logits_to_pred(logits).cpu().numpy())
    return np.concatenate(preds)


def mean_drift(z_clean: ArrayLike, z_perturbed: ArrayLike) -> float:
    """Mean Euclidean distance between clean and perturbed representations of the same rows."""
    a, b = np.asarray(z_clean, dtype=float), np.asarray(z_perturbed, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"z_clean {a.shape} and z_perturbed {b.shape} differ in shape")
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return float(np.mean(np.linalg.norm(a - b, axis=1)))


def normalized_area(levels: Sequence[float], accs: Sequence[float]) -> float:
    """Normalized area under the accuracy-vs-level curve.

    Defined as the trapezoid-rule area under the curve of ``accs`` against ``levels``
    (sorted by level) divided by (max level - min level): the mean accuracy over the
    level range, in the units of accuracy (1.0 = unaffected at every level). With a
    single distinct level it is the mean accuracy at that level.
    """
    lv, ac = np.asarray(levels, dtype=float).ravel(), np.asarray(accs, dtype=float).ravel()
    if lv.shape != ac.shape or lv.size == 0:
        raise ValueError(f"need equally many levels and accuracies (got {lv.size} and {ac.size})")
    order = np.argsort(lv, kind="mergesort")
    lv, ac = lv[order], ac[order]
    width = lv[-1] - lv[0]
    if width == 0:
        return float(np.mean(ac))
    area = float(np.sum((lv[1:] - lv[:-1]) * (ac[1:] + ac[:-1]) / 2.0))
    return area / float(width)


# --- internals ----------------------------------------------------------------------


def _check_level(family: str, level: float) -> None:
    v = float(level)
    if family in RATE_FAMILIES:
        if not (0.0 <= v <= 1.0):
            raise ConfigError(f"robustness level {level} for '{family}' is a rate and must be in [0, 1]")
    elif not (math.isfinite(v) and v >= 0.0):
        raise ConfigError(f"robustness level {level} for '{family}' must be a finite number >= 0")


def _copy(x: ArrayLike, layout: LayoutLike) -> NDArray:
    out = np.array(x, dtype=float, copy=True)
    lay = FeatureLayout.from_dict(layout)
    if out.ndim != 2 or out.shape[1] < lay.n_columns:
        raise ValueError(f"x of shape {out.shape} does not fit a layout of {lay.n_columns} columns")
    return out


@contextmanager
def _eval_mode(*modules: Any) -> Iterator[None]:
    """Put nn.Modules in eval mode and restore every submodule's previous mode afterwards."""
    saved = [(m, m.training) for mod in modules if isinstance(mod, nn.Module) for m in mod.modules()]
    for mod in modules:
        if isinstance(mod, nn.Module):
            mod.eval()
    try:
        yield
    finally:
        for m, was in saved:
            m.training = was


def _logits_to_pred(logits: torch.Tensor) -> torch.Tensor:
    if logits.ndim == 1 or logits.shape[-1] == 1:
        return (logits.reshape(-1) > 0).long()
    return logits.argmax(dim=-1)


def _task_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy (sum keeps per-row gradients independent of batch size)."""
    if logits.ndim == 1 or logits.shape[-1] == 1:
        return nn.functional.binary_cross_entropy_with_logits(logits.reshape(-1), y.float(), reduction="sum")
    return nn.functional.cross_entropy(logits, y.long(), reduction="sum")


def _eot_gradient(
    x: torch.Tensor, y: torch.Tensor, encoder: Encoder, task_head: Head, k: int, gen: torch.Generator,
    layout: FeatureLayout,
) -> torch.Tensor:
    """Gradient w.r.t. x of the task loss averaged over k samples of the encoder noise (through the bins' surrogate)."""
    x = x.detach().requires_grad_(True)
    mean, scale = encoder(with_bin_gradients(x, layout))
    noise = torch.randn((k, *mean.shape), generator=gen, dtype=mean.dtype, device="cpu").to(mean.device)
    z = mean.unsqueeze(0) + scale.unsqueeze(0) * noise  # (k, n, d)
    logits = task_head(z.reshape(-1, mean.shape[-1]))
    loss = _task_loss(logits, y.repeat(k)) / k
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def _gradient_attack(
    x: torch.Tensor,
    y: torch.Tensor,
    encoder: Encoder,
    task_head: Head,
    eps: float,
    layout: LayoutLike,
    steps: int,
    step_size: float,
    random_start: bool,
    k_samples: int,
    random_state: int,
    batch_size: int,
) -> torch.Tensor:
    lay = FeatureLayout.from_dict(layout)
    if x.ndim != 2 or x.shape[1] < lay.n_columns or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"x {tuple(x.shape)} / y {tuple(y.shape)} do not fit a layout of {lay.n_columns} columns"
        )
    if k_samples < 1:
        raise ConfigError(f"k_samples must be >= 1, got {k_samples}")
    x = x.detach()
    if eps == 0 or not lay.numeric_idx:
        return x.clone()
    gen = torch.Generator().manual_seed(int(random_state))
    num = torch.as_tensor(lay.numeric_idx, dtype=torch.long, device=x.device)
    mask = torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
    mask[num] = 1.0
    out = []
    with _eval_mode(encoder, task_head), torch.enable_grad():
        for i in range(0, x.shape[0], batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            adv = xb.clone()
            if random_start:
                start = (torch.rand(xb.shape, generator=gen, dtype=xb.dtype) * 2 - 1).to(xb.device) * eps
                adv = rebinned(xb + start * mask, lay)
            for _ in range(steps):
                grad = _eot_gradient(adv, yb, encoder, task_head, k_samples, gen, lay)
                adv = adv + step_size * grad.sign() * mask
                adv = rebinned(xb + torch.clamp(adv - xb, -eps, eps) * mask, lay)  # project; categorical kept
            out.append(adv.detach())
    return torch.cat(out)
