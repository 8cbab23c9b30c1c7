"""The threat-model section of the model card: whom a release protects against, and what a noise key does.

It reads the run's flat metrics (``leakage/<attr>/...``, see :mod:`privib.runs.keys`) and says, with
the run's own figures where it has them, what one release of a sample leaks to the battery and to the
encoder holder, how fast that grows when a record is released k times with fresh noise, and what
keying the noise to the record (:mod:`privib.export.noise`) protects and what it does not.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from privib.runs import keys

__all__ = ["threat_model_lines"]


def _f(value: Any) -> str:
    return "n/a" if not isinstance(value, (int, float)) or math.isnan(value) else f"{value:.3f}"


def threat_model_lines(metrics: Mapping[str, Any], release: str, deterministic: bool) -> list[str]:
    """Markdown lines of the model card's ``Threat model`` section."""
    lines = ["## Threat model", ""]
    if release != "sample" or deterministic:
        what = "one-hot cell" if release == "cells" else "mean of q(z|x)"
        return lines + [
            f"- The released code is the {what}: the same on every release of a record, so releasing it again "
            "reveals nothing new, and whoever holds the encoder and a record computes its code exactly.",
            "- Leakage above is that of an attacker who sees released codes of records whose sensitive attribute they "
            "know (the battery is fitted on them); the encoder holder with auxiliary records is that attacker.",
            "",
        ]
    lines += [
        "- **One release, ordinary attacker**: sees one sampled code per record and knows the sensitive attribute of "
        "other records' codes; the battery above is that attacker.",
    ]
    for a in keys.attributes(metrics):
        holder = metrics.get(keys.leakage(a, "encoder_holder/auc"))
        if holder is not None:
            lines.append(
                f"- **The encoder holder** (`{a}`): holds this export and auxiliary records with their `{a}` (the "
                f"training split here), computes their q(z|x) exactly and scores a released code by the posterior "
                f"under the mixture of those Gaussians: AUC {_f(holder)}, part of the headline maximum "
                f"({_f(metrics.get(keys.leakage(a)))}).")
        ks = keys.k_releases(metrics, a)
        if ks:
            figures = ", ".join(f"{k} releases: {_f(metrics.get(keys.leakage(a, f'k{k}/auc_max')))}" for k in ks)
            lines.append(
                f"- **Repeated releases** (`{a}`): a record released several times with fresh noise gives the attacker "
                f"the average of its codes, which tends to the mean of q(z|x) (AUC "
                f"{_f(metrics.get(keys.leakage(a, 'auc_max', 'mean')))}); best attacker AUC on the average of {figures}.")
    lines += [
        "- **Noise keyed to the record** stops repeated releases from averaging: `encode(records, key=SECRET)` (or "
        "`privib encode --noise_key FILE`) derives each record's noise from HMAC-SHA256 of the key and the "
        "record's features (or an id column), so a record released again, in any table, order, batch or "
        "backend, gets the same code; a different key gives independent noise. `privib encode` refuses to "
        "sample without a key unless `--fresh_noise` is given.",
        "- What the key protects: releases of a record under one key are one code, so there is nothing to average; "
        "without the key nobody, the encoder holder included, can predict a released code's noise.",
        "- What it does not protect: whoever holds the encoder and a raw record already has the record and its "
        "q(z|x); if they also hold the key they can recompute its released code and find its row among the "
        "released ones. With an id column, the key and a released id give that row's noise, which strips the "
        "sample's protection from that row. Keep the key from the encoder's holders and out of this folder (privib never "
        "writes it); use one key per encoder.",
        "",
    ]
    return lines
