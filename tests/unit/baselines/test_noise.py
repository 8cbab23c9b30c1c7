"""The Gaussian mechanism: wider noise leaks less (and serves the task less)."""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from privib.baselines.noise import noise_release


def _attack(release, data) -> float:
    attacker = HistGradientBoostingClassifier(random_state=0).fit(release.codes["train"], data.s["train"][:, 0])
    return float(roc_auc_score(data.s["test"][:, 0], attacker.predict_proba(release.codes["test"])[:, 1]))


def test_wider_noise_leaks_less(leaky) -> None:
    releases = {sigma: noise_release(leaky, sigma, z_dim=4, widths=(32,), epochs=5, seed=0) for sigma in (0.0, 1.0, 4.0)}
    aucs = {sigma: _attack(r, leaky) for sigma, r in releases.items()}
    accs = {sigma: float(np.mean(r.head["test"].argmax(axis=1) == leaky.y["test"])) for sigma, r in releases.items()}
    assert aucs[0.0] > 0.9 and aucs[0.0] > aucs[1.0] + 0.05 > aucs[4.0] + 0.1 and aucs[4.0] > 0.5, aucs
    assert accs[0.0] > 0.9 and accs[0.0] > accs[1.0] > accs[4.0] > 0.5, accs


def test_the_code_is_standardized_and_its_gaussian_known(leaky) -> None:
    release = noise_release(leaky, 2.0, z_dim=4, widths=(32,), epochs=2, seed=0)
    mean, scale = release.gaussian["train"]
    np.testing.assert_allclose(mean.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(mean.std(axis=0), 1.0, atol=1e-3)
    assert np.all(scale == 2.0)
    assert abs(float((release.codes["train"] - mean).std()) - 2.0) < 0.05
    assert noise_release(leaky, 0.0, z_dim=4, widths=(32,), epochs=2).gaussian is None
