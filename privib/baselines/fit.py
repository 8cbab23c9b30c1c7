"""Fit the release baseline a :class:`~privib.baselines.options.BaselineOptions` names (one entry per kind)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from privib.baselines.options import BaselineOptions
from privib.baselines.release import SPLITS, BaselineData, BaselineRelease
from privib.models.release import describe_baseline

__all__ = ["Architecture", "fit_baseline", "raw_release"]


@dataclass(frozen=True)
class Architecture:
    """The plain MLP of the noise baseline: the run's own encoder shape and optimizer settings."""

    z_dim: int = 8
    widths: Sequence[int] = (128, 128)
    activation: str = "relu"
    lr: float = 1e-3
    batch_size: int = 256


def raw_release(data: BaselineData) -> BaselineRelease:
    """The preprocessed inputs themselves (the sensitive columns are not among them unless the data config says so)."""
    codes = {split: np.asarray(data.x[split], dtype=np.float32) for split in SPLITS}
    return BaselineRelease(codes=codes)


def fit_baseline(options: BaselineOptions, data: BaselineData, seed: int = 0,
                 architecture: Architecture | None = None) -> BaselineRelease:
    """Fit ``options.kind`` on the training split of ``data`` and return its release of every split."""
    options.check()
    architecture = architecture or Architecture()
    release = _fit(options, data, seed, architecture)
    release.description = describe_baseline(options.settings(), architecture.z_dim)
    return release


def _fit(options: BaselineOptions, data: BaselineData, seed: int, a: Architecture) -> BaselineRelease:
    kind = options.kind
    if kind == "predict":
        from privib.baselines.predict import predict_release

        return predict_release(data, options.classifier, options.output, seed)
    if kind == "fair_predict":
        from privib.baselines.predict import fair_predict_release

        return fair_predict_release(data, options.eps, options.classifier, options.iterations(), seed,
                                    dp_bound=options.dp_bound)
    if kind == "noise":
        from privib.baselines.noise import noise_release

        return noise_release(data, options.sigma, a.z_dim, a.widths, a.activation, a.lr, a.batch_size, options.epochs, seed)
    if kind == "lfr":
        from privib.baselines.lfr import lfr_release

        return lfr_release(data, options.n_prototypes, options.reconstruct_weight, options.fairness_weight,
                           options.iterations(), seed)
    return raw_release(data)
