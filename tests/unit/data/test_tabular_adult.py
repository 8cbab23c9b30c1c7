"""UCI Adult read through the generic path (explicit column names) equals the named ``adult`` loader.

Reads ``$PRIVIB_DATA_DIR/adult/adult.data`` and ``adult.test`` as a user would: headerless CSV,
``?`` meaning missing, rows with missing inputs dropped, the test file's ``>50K.`` labels recoded.
"""
from __future__ import annotations

import numpy as np
import pytest

from privib.data.adult import COLUMNS

ADULT_AS_A_USER_TABLE = {
    "column_names": COLUMNS,
    "target": "income",
    "sensitive": "sex,race",
    "na_values": "?",
    "missing_categorical": "drop",
    "recode": {"income": {">50K.": ">50K", "<=50K.": "<=50K"}},
    "positive": ">50K",
}


def _adult_file(root, name: str) -> str:
    for candidate in (root / "adult" / name, root / name):
        if candidate.is_file():
            return str(candidate)
    pytest.skip(f"{name} not found under {root}")


@pytest.fixture(scope="module")
def generic_adult(adult_root):
    from privib.data.datamodule import PrivibDataModule

    dm = PrivibDataModule(
        name="tabular", path=_adult_file(adult_root, "adult.data"), test=_adult_file(adult_root, "adult.test"),
        **ADULT_AS_A_USER_TABLE,
    )
    dm.setup()
    return dm


def test_row_counts_match_the_named_loader(generic_adult):
    split = generic_adult.table.notes["split"]
    assert split["train_rows"] == 30_162 and split["test_rows"] == 15_060


def test_feature_matrix_and_labels_match_the_named_loader(generic_adult, adult_datamodule):
    named, generic = adult_datamodule, generic_adult
    assert generic.spec.feature_names == named.spec.feature_names
    assert generic.spec.target_classes == named.spec.target_classes
    assert generic.spec.sensitive_classes == named.spec.sensitive_classes
    for split in ("train", "val", "test"):
        a, b = named.splits[split], generic.splits[split]
        np.testing.assert_array_equal(a.x.numpy(), b.x.numpy())
        np.testing.assert_array_equal(a.y.numpy(), b.y.numpy())
        np.testing.assert_array_equal(a.s.numpy(), b.s.numpy())


def test_inferred_roles_are_adults_declared_ones(generic_adult):
    from privib.data.adult import CATEGORICAL, NUMERIC

    schema = generic_adult.table.notes["schema"]
    assert schema["numeric"] == NUMERIC
    assert schema["categorical"] == [c for c in CATEGORICAL if c not in ("sex", "race")]
    dropped = generic_adult.table.notes["missing"]["rows_dropped"]
    assert dropped["train"]["missing inputs (policy drop)"] == 32_561 - 30_162
