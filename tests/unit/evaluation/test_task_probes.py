"""Downstream task probes on frozen representations: the keys and the accuracy they report."""
from __future__ import annotations

import numpy as np

from privib.evaluation.task_probes import probe


def test_task_probes_keys_and_accuracy() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(size=(1600, 3))
    y = (z[:, 0] - z[:, 1] > 0).astype(int)
    out = probe(z[:800], y[:800], z[800:], y[800:])
    assert set(out) == {"logreg/acc", "mlp/acc", "hgb/acc", "acc_max"}
    assert out["acc_max"] == max(out["logreg/acc"], out["mlp/acc"], out["hgb/acc"])
    assert out["logreg/acc"] > 0.95
    custom = probe(z[:800], y[:800], z[800:], y[800:],
                   probes=[{"name": "lr", "class_path": "sklearn.linear_model.LogisticRegression"}])
    assert set(custom) == {"lr/acc", "acc_max"}
