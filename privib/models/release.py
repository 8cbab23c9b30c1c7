"""What a run releases, in words: one place for every text that names ``model.release``.

The model card, the report, the compare caption and the docs' claims render these from the run's
own ``release`` (the export's metadata or the run's config), so no text carries a hand-written copy
of the default: a user who reads "mean" where the run released one sample would switch to the
representation that leaks.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RELEASES", "BASELINE", "describe_release", "describe_baseline", "describe_run_release", "run_release"]

RELEASES: dict[str, str] = {
    "mean": "the mean of q(z|x) (deterministic per record)",
    "sample": "one sample z ~ q(z|x) (fresh noise on every call unless the noise is keyed)",
    "cells": "the one-hot cell (deterministic per record)",
}
BASELINE = "baseline"  # what run_release names a release-baseline run (``baseline.kind`` set: no encoder)
_CLASSIFIERS = {"lr": "logistic regression", "gbm": "gradient boosting"}


def describe_release(release: str, markdown: bool = False) -> str:
    """The released representation ``release`` in words; ``markdown`` escapes ``|`` for table cells."""
    words = RELEASES.get(release, f"'{release}'")
    return words.replace("|", "\\|") if markdown else words


def run_release(config: Mapping[str, Any] | None) -> str:
    """What a run releases: ``baseline`` for a release baseline (``baseline.kind`` set), else ``model.release``."""
    config = config or {}
    section = config.get("baseline")
    if isinstance(section, Mapping) and section.get("kind") is not None:
        return BASELINE
    return str((config.get("model") or {}).get("release", "mean"))


def describe_baseline(section: Mapping[str, Any], z_dim: int | None = None) -> str:
    """A release baseline's release in words, from its ``baseline`` settings (``z_dim``: the noise baseline's width)."""
    kind = section.get("kind")
    classifier = _CLASSIFIERS.get(str(section.get("classifier", "lr")), str(section.get("classifier")))
    if kind == "predict":
        what = "predicted class" if section.get("output", "bit") == "bit" else "predicted probability"
        return f"the {what} of {classifier} fitted on the task (release baseline predict)"
    if kind == "fair_predict":
        return (f"the 1-bit prediction of fairlearn's ExponentiatedGradient ({classifier}) under DemographicParity, "
                f"eps {float(section.get('eps', 0.01)):g} (release baseline fair_predict)")
    if kind == "noise":
        width = f"{z_dim}-dim " if z_dim else ""
        return (f"the plain MLP's {width}code, standardized, plus N(0, {float(section.get('sigma', 1.0)):g}^2) noise per "
                "dimension, one draw per release (release baseline noise: the Gaussian mechanism)")
    if kind == "lfr":
        return (f"soft memberships in {section.get('n_prototypes', 8)} prototypes of fairlearn's "
                "PrototypeRepresentationLearner (release baseline lfr)")
    if kind == "raw":
        return "the preprocessed input features (release baseline raw)"
    return f"release baseline '{kind}'"


def describe_run_release(config: Mapping[str, Any] | None, markdown: bool = False) -> str:
    """What a run's config says it releases, in words: a baseline's release or :func:`describe_release`."""
    config = config or {}
    if run_release(config) == BASELINE:
        words = describe_baseline(config["baseline"], (config.get("model") or {}).get("z_dim"))
        return words.replace("|", "\\|") if markdown else words
    return describe_release(run_release(config), markdown)
