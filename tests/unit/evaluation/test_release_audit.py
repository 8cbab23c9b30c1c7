"""The array audit of released codes, shared by the encoder audit and the release baselines."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from fairlearn.metrics import demographic_parity_difference
from sklearn.linear_model import LogisticRegression

from privib.evaluation.options import EvaluationOptions
from privib.evaluation.release_audit import Release, audit_release

LOGREG = {"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"max_iter": 500}}
OPTIONS = EvaluationOptions(attackers=[LOGREG], probes=[LOGREG], raw_reference=False, robustness={}, n_boot=30,
                            k_releases=[2], downstream=None)


def _data(seed: int = 0) -> SimpleNamespace:
    """Two codes columns: z0 carries s, z1 carries y; y's majority class is 1 at ~70%."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in (("train", 2000), ("val", 500), ("test", 1500)):
        s = rng.integers(0, 2, n)
        y = (rng.random(n) < 0.7).astype(np.int64)
        z = np.stack([s + 0.8 * rng.standard_normal(n), y + 0.5 * rng.standard_normal(n)], axis=1).astype(np.float32)
        splits[split] = SimpleNamespace(x=torch.from_numpy(z), y=torch.from_numpy(y), s=torch.from_numpy(s[:, None]), t=None)
    spec = SimpleNamespace(sensitive=["s"], target_classes=["0", "1"])
    return SimpleNamespace(spec=spec, splits=splits, transfer_tasks=[])


def test_without_a_head_the_best_probe_reads_the_task_and_the_battery_the_attribute() -> None:
    d = _data()
    z = {k: v.x.numpy() for k, v in d.splits.items()}
    out = audit_release(d, Release(z["train"], z["test"]), OPTIONS, seed=0)
    y_test, s_test = d.splits["test"].y.numpy(), d.splits["test"].s.numpy()[:, 0]
    probe = LogisticRegression(max_iter=500, random_state=0).fit(z["train"], d.splits["train"].y.numpy())
    pred = probe.predict(z["test"])
    assert out["task/test/acc"] == pytest.approx(np.mean(pred == y_test)) == pytest.approx(out["task/probe/acc_max"])
    assert out["fairness/s/dp_gap"] == pytest.approx(demographic_parity_difference(y_test, pred, sensitive_features=s_test))
    assert out["task/test/majority"] == pytest.approx(np.mean(y_test == 1))
    assert "task/val/acc" not in out and 0.7 < out["leakage/s/auc_max"] < 0.9
    assert out["leakage/s/auc_max_lo"] < out["leakage/s/auc_max"] < out["leakage/s/auc_max_hi"]
    # a deterministic release: the k-release keys copy the headline; nothing is attacked as "other"
    assert out["leakage/s/k2/auc_max"] == out["leakage/s/auc_max"]
    assert not any(k.startswith(("leakage/s/mean/", "leakage/s/sample/", "robustness/")) for k in out)


def test_a_head_gives_the_task_figures_and_the_other_representation_its_keys() -> None:
    d = _data()
    z = {k: v.x.numpy() for k, v in d.splits.items()}
    head = {split: np.stack([1 - (z[split][:, 1] > 0.5), z[split][:, 1] > 0.5], axis=1).astype(np.float32)
            for split in ("val", "test")}
    noisy = {k: v + 3.0 * np.random.default_rng(1).standard_normal(v.shape).astype(np.float32) for k, v in z.items()}
    out = audit_release(d, Release(noisy["train"], noisy["test"], head=head, other=("mean", (z["train"], z["test"]))),
                        OPTIONS, seed=0)
    for split in ("val", "test"):
        expected = np.mean((z[split][:, 1] > 0.5) == d.splits[split].y.numpy())
        assert out[f"task/{split}/acc"] == pytest.approx(expected)
    assert out["leakage/s/mean/auc_max"] > out["leakage/s/auc_max"] + 0.1  # the noise-free codes leak more
