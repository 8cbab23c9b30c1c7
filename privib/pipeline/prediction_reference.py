"""The prediction reference of a run's verdict: what releasing a plain classifier's 1-bit prediction would give.

On the trained task no representation can beat the best prediction at the same leakage, so a run's
report says where it stands against one: a logistic regression on the run's own inputs (the ``predict``
baseline, :mod:`privib.baselines.predict`), its test accuracy, and the same attacker battery on its
1-bit release (``reference/predict/acc``, ``reference/predict/<attr>/auc_max``). Like the raw reference
it depends only on the data, the battery and the seed, so it is computed once and read from the
evaluation cache (:mod:`privib.evaluation.cache`) afterwards.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PREFIX", "prediction_reference"]

PREFIX = "reference/predict"


def prediction_reference(datamodule: Any, attackers: list[dict[str, Any]], n_boot: int, seed: int,
                         trusted: tuple[str, ...] = ()) -> dict[str, float]:
    """``reference/predict/acc`` and, per sensitive attribute, the battery's ``auc_max`` on the 1-bit release."""
    from privib.baselines.predict import predict_release
    from privib.evaluation import cache
    from privib.evaluation.attackers import resolve_estimators
    from privib.evaluation.leakage import attack
    from privib.pipeline.stages.release import baseline_data

    data = baseline_data(datamodule)
    if data.n_classes != 2:
        return {}  # a 1-bit prediction is a binary task's release
    attributes = list(datamodule.spec.sensitive)
    settings = {"attributes": attributes, "attackers": attackers, "n_boot": n_boot, "seed": seed, "classifier": "lr"}
    arrays = {f"{part}_{split}": getattr(data, part)[split] for part in ("x", "y", "s") for split in ("train", "test")}
    key = cache.cache_key("prediction_reference", arrays, settings)
    cached = cache.read_cached("prediction_reference", key)
    if cached is not None:
        return cached
    released = predict_release(data, "lr", "bit", seed)
    bits = {split: released.codes[split] for split in ("train", "test")}
    out = {f"{PREFIX}/acc": float(np.mean(bits["test"][:, 0] == data.y["test"]))}
    estimators = resolve_estimators(attackers, seed, trusted)
    for i, attribute in enumerate(attributes):
        result = attack(bits["train"], data.s["train"][:, i], bits["test"], data.s["test"][:, i], estimators,
                        random_state=seed, n_boot=n_boot)
        out[f"{PREFIX}/{attribute}/auc_max"] = result.metrics["auc_max"]
    cache.write_cached("prediction_reference", key, out, {**settings, "rows": [len(data.y["train"]), len(data.y["test"])]})
    return out
