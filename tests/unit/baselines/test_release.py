"""Every baseline releases codes of the right shape and type for every split, and the files round-trip."""
from __future__ import annotations

import numpy as np
import pytest

from privib.baselines import BaselineData, BaselineOptions, fit_baseline, read_release, write_release
from privib.baselines.fit import Architecture
from privib.baselines.release import SPLITS
from privib.errors import ConfigError

from .conftest import ROWS

SMALL = Architecture(z_dim=4, widths=(16,))
CASES = {
    "predict lr bit": (BaselineOptions(kind="predict"), 1),
    "predict gbm score": (BaselineOptions(kind="predict", classifier="gbm", output="score"), 1),
    "fair_predict": (BaselineOptions(kind="fair_predict", eps=0.02, max_iter=10), 1),
    "noise": (BaselineOptions(kind="noise", sigma=0.5, epochs=2), 4),
    "lfr": (BaselineOptions(kind="lfr", n_prototypes=3, max_iter=30), 3),
    "raw": (BaselineOptions(kind="raw"), 6),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_baseline_releases_float32_codes_of_every_split(case, independent) -> None:
    options, width = CASES[case]
    release = fit_baseline(options, independent, seed=0, architecture=SMALL)
    assert release.width == width and release.description
    for split in SPLITS:
        code = release.codes[split]
        assert code.dtype == np.float32 and code.shape == (ROWS[split], width) and np.isfinite(code).all()
    code = release.codes["test"]
    if case in ("predict lr bit", "fair_predict"):
        assert set(np.unique(code)) == {0.0, 1.0}
    elif case == "predict gbm score":
        assert 0.0 <= code.min() < 0.1 and 0.9 < code.max() <= 1.0 and len(np.unique(code)) > 100
    elif case == "lfr":
        np.testing.assert_allclose(code.sum(axis=1), 1.0, atol=1e-5)  # soft memberships
    elif case == "raw":
        np.testing.assert_array_equal(code, independent.x["test"])
    if case == "raw":
        assert release.head is None
    else:
        assert set(release.head) == {"val", "test"}
        for split, proba in release.head.items():
            assert proba.shape == (ROWS[split], 2)
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (release.gaussian is not None) == (case == "noise")


def test_a_bit_release_is_its_own_head(independent) -> None:
    release = fit_baseline(BaselineOptions(kind="predict"), independent)
    np.testing.assert_array_equal(release.head["test"].argmax(axis=1), release.codes["test"][:, 0])


def test_multiclass_predictions_are_one_hot_and_fair_predict_refuses_them(independent) -> None:
    y = {s: np.digitize(independent.x[s][:, 1] + independent.x[s][:, 2], [-0.7, 0.7]) for s in SPLITS}
    data = BaselineData(x=independent.x, y=y, s=independent.s, n_classes=3)
    release = fit_baseline(BaselineOptions(kind="predict"), data)
    assert release.codes["test"].shape == (ROWS["test"], 3)
    np.testing.assert_array_equal(release.codes["test"].sum(axis=1), 1.0)
    assert np.mean(release.codes["test"].argmax(axis=1) == y["test"]) > 0.8
    for kind in ("fair_predict", "lfr"):
        with pytest.raises(ConfigError, match=f"baseline.kind {kind} needs a binary target"):
            fit_baseline(BaselineOptions(kind=kind), data)


def test_baselines_are_seeded(independent) -> None:
    for options in (BaselineOptions(kind="noise", epochs=2), BaselineOptions(kind="fair_predict", max_iter=10)):
        first, second = (fit_baseline(options, independent, seed=3, architecture=SMALL) for _ in range(2))
        np.testing.assert_array_equal(first.codes["test"], second.codes["test"])


def test_the_release_files_round_trip(tmp_path, independent) -> None:
    options = BaselineOptions(kind="noise", sigma=0.5, epochs=2)
    release = fit_baseline(options, independent, architecture=SMALL)
    write_release(tmp_path / "release", release, options.settings())
    back = read_release(tmp_path / "release")
    for split in SPLITS:
        np.testing.assert_array_equal(back.codes[split], release.codes[split])
        np.testing.assert_array_equal(back.gaussian[split][1], release.gaussian[split][1])
    np.testing.assert_array_equal(back.head["test"], release.head["test"])
    assert back.description == release.description and back.info == release.info
    with pytest.raises(ConfigError, match="no readable release"):
        read_release(tmp_path / "nothing")
