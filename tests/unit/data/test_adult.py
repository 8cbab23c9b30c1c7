"""The named Adult loader: official split sizes, labels, inputs and preprocessing fitted on train rows."""
from __future__ import annotations

import numpy as np
import pytest

from privib.data.adult import load_adult
from privib.data.datamodule import PrivibDataModule


def test_official_split_sizes_and_labels(adult_root):
    table = load_adult(root=str(adult_root))
    assert len(table.train) == 30_162
    assert len(table.test) == 15_060
    assert set(table.train["income"]) == {"<=50K", ">50K"}
    assert set(table.test["income"]) == {"<=50K", ">50K"}
    assert not table.train.isna().any().any()


def test_shapes_and_no_sensitive_inputs(adult_datamodule):
    dm = adult_datamodule
    sizes = {k: len(v) for k, v in dm.splits.items()}
    assert sizes["train"] + sizes["val"] == 30_162
    assert sizes["test"] == 15_060
    assert abs(sizes["val"] - 0.2 * 30_162) < 2
    for split in dm.splits.values():
        assert split.x.shape[1] == dm.spec.input_dim
        assert split.s.shape[1] == 2
    names = dm.spec.feature_names
    assert not any(n.startswith(("sex=", "race=")) or n in ("sex", "race") for n in names)
    assert dm.spec.target_classes == ["<=50K", ">50K"]
    assert dm.spec.sensitive_classes["sex"] == ["Female", "Male"]
    assert len(dm.spec.sensitive_classes["race"]) == 5


def test_sensitive_column_kept_when_asked(adult_root):
    dm = PrivibDataModule(root=str(adult_root), sensitive="sex", sensitive_as_input=True)
    dm.setup()
    assert "sex=Male" in dm.spec.feature_names


def test_preprocessing_statistics_come_from_training_rows_only(adult_datamodule):
    dm = adult_datamodule
    train_ages = dm.frames["train"]["age"].astype(float)
    all_ages = np.concatenate([dm.frames[s]["age"].astype(float) for s in ("train", "val", "test")])
    assert dm.preprocessor.means["age"] == pytest.approx(train_ages.mean())
    assert dm.preprocessor.means["age"] != pytest.approx(all_ages.mean(), abs=1e-9)
    standardized = dm.splits["train"].x[:, dm.spec.feature_names.index("age")].numpy()
    assert standardized.mean() == pytest.approx(0.0, abs=1e-5)
    assert standardized.std() == pytest.approx(1.0, abs=1e-4)


def test_validation_split_is_seeded(adult_root):
    first = PrivibDataModule(root=str(adult_root), split_seed=3)
    again = PrivibDataModule(root=str(adult_root), split_seed=3)
    other = PrivibDataModule(root=str(adult_root), split_seed=4)
    for dm in (first, again, other):
        dm.setup()
    assert first.frames["val"].equals(again.frames["val"])
    assert not first.frames["val"].equals(other.frames["val"])
    assert first.frames["test"].equals(other.frames["test"])


def test_numeric_bins_come_from_training_rows_and_a_bad_count_is_refused(adult_root):
    from privib.errors import ConfigError

    dm = PrivibDataModule(root=str(adult_root), numeric_bins=64)
    dm.setup()
    pre = dm.preprocessor
    assert pre.binned == pre.numeric and dm.spec.input_dim == pre.n_features
    # capital-gain has ~120 distinct training amounts in 92% zeros: 64 bins, the zeros in the first one
    gain = dm.frames["train"]["capital-gain"].to_numpy(dtype=float)
    columns = [i for i, n in enumerate(dm.spec.feature_names) if n.startswith("capital-gain in [")]
    assert len(columns) == 64
    block = dm.splits["train"].x[:, columns].numpy()
    np.testing.assert_array_equal(block.sum(1), np.ones(len(gain)))
    assert block[gain == 0].argmax(1).max() == 0 and (block[gain > 0].sum(0) > 0).sum() >= 60
    with pytest.raises(ConfigError, match="data.numeric_bins"):
        PrivibDataModule(root=str(adult_root), numeric_bins=1)
