"""``data.name tabular`` on tables the tests write: formats, column roles, splits, missing values, encode parity."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from privib.data.preprocessing import MISSING_TOKEN, TabularPreprocessor
from helpers.tables import datamodule, people, write


@pytest.fixture(scope="module")
def people_csv(tmp_path_factory):
    return write(people(), tmp_path_factory.mktemp("people") / "people.csv")


@pytest.fixture(scope="module")
def dm(people_csv):
    return datamodule(path=str(people_csv), target="outcome", sensitive="gender,region,age", id_column="person")


def test_strings_numbers_and_missing_values_with_defaults(dm):
    notes = dm.table.notes
    schema = {c["name"]: c for c in notes["schema"]["columns"]}
    assert schema["hours"]["kind"] == "numeric" and schema["hours"]["missing"] == 20
    assert schema["city"]["kind"] == "categorical" and schema["city"]["how"].startswith("inferred")
    assert schema["kids"]["kind"] == "categorical" and "whole-number levels" in schema["kids"]["how"]
    assert schema["person"]["role"] == "id" and schema["outcome"]["role"] == "target"
    # Defaults: numeric imputed, categorical missing is its own category; no rows lost.
    assert notes["missing"]["numeric"] == "impute" and notes["missing"]["categorical"] == "category"
    assert sum(len(s) for s in dm.splits.values()) == 400
    assert f"city={MISSING_TOKEN}" in dm.spec.feature_names
    assert dm.spec.feature_names[0] == "hours"
    assert not any(n.split("=")[0] in ("gender", "region", "age", "person", "outcome") for n in dm.spec.feature_names)
    assert json.loads(json.dumps(notes)) == notes  # plain JSON, ready for the run folder


def test_target_classes_positive_last_and_label_priors(dm):
    assert dm.spec.target_classes == ["no", "yes"] and dm.table.positive_label == "yes"
    assert sum(dm.spec.target_prior) == pytest.approx(1.0)


def test_binary_multiclass_and_binned_numeric_sensitive(dm):
    sens = dm.table.notes["sensitive"]
    assert sens["gender"]["kind"] == "binary" and dm.spec.sensitive_classes["gender"] == ["F", "M"]
    assert sens["region"]["kind"] == "multi-class" and len(dm.spec.sensitive_classes["region"]) == 4
    assert sens["age"]["kind"] == "binned" and len(sens["age"]["bins"]["edges"]) == 3
    age_classes = dm.spec.sensitive_classes["age"]
    assert age_classes[0].startswith("< ") and age_classes[-1].startswith(">= ")  # ordered low to high
    codes = dm.splits["train"].s[:, 2].numpy()
    assert np.bincount(codes, minlength=4).min() > 0.15 * len(codes)  # quantile bins are balanced
    assert dm.spec.sensitive == ["gender", "region", "age"] and dm.splits["test"].s.shape[1] == 3


def test_seeded_test_split_stratified_by_target_and_sensitive(people_csv, dm):
    split = dm.table.notes["split"]
    assert split["train_rows"] == 320 and split["test_rows"] == 80 and "stratified" in split["test"]
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 256, "val": 64, "test": 80}
    same = datamodule(path=str(people_csv), target="outcome", sensitive="gender,region,age", id_column="person")
    other = datamodule(path=str(people_csv), target="outcome", sensitive="gender,region,age", id_column="person", split_seed=1)
    assert same.frames["test"]["person"].tolist() == dm.frames["test"]["person"].tolist()
    assert other.frames["test"]["person"].tolist() != dm.frames["test"]["person"].tolist()
    # Stratified: each gender's share of the test split is close to its share overall.
    test_share = dm.frames["test"]["gender"].eq("F").mean()
    all_share = pd.concat(dm.frames.values())["gender"].eq("F").mean()
    assert abs(test_share - all_share) < 0.03


def test_preprocessing_fitted_on_training_rows_only(dm):
    train_hours = pd.to_numeric(dm.frames["train"]["hours"])
    assert dm.preprocessor.means["hours"] == pytest.approx(train_hours.mean())
    column = dm.splits["train"].x[:, 0].numpy()
    assert column.mean() == pytest.approx(0.0, abs=1e-5)


def test_encode_path_reads_a_new_csv_with_plain_pandas(people_csv, dm):
    # What `privib encode` does: preprocess.json + a table read by pandas (ints, floats, NaN) -> same features.
    restored = TabularPreprocessor.from_dict(json.loads(json.dumps(dm.preprocessor.to_dict())))
    raw = pd.read_csv(people_csv).set_index("person")
    ids = dm.frames["test"]["person"]
    np.testing.assert_array_equal(restored.transform(raw.loc[ids]), dm.splits["test"].x.numpy())


@pytest.mark.parametrize("name", ["t.parquet", "t.jsonl", "t.tsv", "t.csv.gz", "t_semicolon.csv"])
def test_every_file_format_gives_the_same_table(tmp_path, name):
    frame = people(200, seed=3).drop(columns=["hours"])
    path = tmp_path / name
    if name == "t_semicolon.csv":
        frame.to_csv(path, sep=";", index=False)
    else:
        write(frame, path)
    got = datamodule(path=str(path), target="outcome", sensitive="gender", id_column="person")
    reference = datamodule(path=str(write(frame, tmp_path / "ref.csv")), target="outcome", sensitive="gender",
                           id_column="person")
    assert got.spec.feature_names == reference.spec.feature_names
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(got.splits[split].x.numpy(), reference.splits[split].x.numpy())


def test_given_test_file_listed_roles_drop_recode_and_positive(tmp_path):
    frame = people(500, seed=4)
    frame["outcome"] = frame["outcome"].map({"yes": "Y", "no": "N"})
    train, test = frame.iloc[:400].copy(), frame.iloc[400:].copy()
    test["outcome"] = test["outcome"] + "."  # the test file spells labels differently
    dm = datamodule(
        path=str(write(train, tmp_path / "train.csv")), test=str(write(test, tmp_path / "test.csv")),
        target="outcome", sensitive="region", categorical="age", numeric=["kids"], drop="city", id_column="person",
        recode={"outcome": {"Y.": "Y", "N.": "N"}}, positive="N",
    )
    assert len(dm.splits["test"]) == 100 and len(dm.splits["train"]) + len(dm.splits["val"]) == 400
    assert dm.table.notes["split"]["test"].endswith("test.csv")
    assert dm.spec.target_classes == ["Y", "N"]  # the positive class last
    names = dm.spec.feature_names
    assert "kids" in names and any(n.startswith("age=") for n in names) and not any(n.startswith("city") for n in names)
    assert dm.table.notes["schema"]["dropped"] == {"city": "listed in data.drop"}


def test_infer_false_uses_listed_columns_only(people_csv):
    dm = datamodule(path=str(people_csv), target="outcome", sensitive="gender", numeric="hours", infer=False)
    assert dm.spec.feature_names == ["hours"]


def test_missing_policies_drop_and_error(tmp_path, people_csv):
    dropped = datamodule(path=str(people_csv), target="outcome", sensitive="gender", missing_numeric="drop",
                         missing_categorical="drop")
    assert sum(len(s) for s in dropped.splits.values()) == 400 - dropped.table.notes["missing"]["rows_dropped"]["train"][
        "missing inputs (policy drop)"]
    assert not any(MISSING_TOKEN in n for n in dropped.spec.feature_names)
    frame = people(300, seed=5)
    frame.loc[:9, "gender"] = None  # missing sensitive values: those rows are dropped and counted
    frame.loc[10:14, "outcome"] = "?"
    dm = datamodule(path=str(write(frame, tmp_path / "p.csv")), target="outcome", sensitive="gender", na_values="?")
    assert dm.table.notes["missing"]["rows_dropped"]["train"] == {"missing outcome": 5, "missing gender": 10}
    assert sum(len(s) for s in dm.splits.values()) == 285


def test_sensitive_as_input_keeps_numeric_sensitive_raw(people_csv):
    dm = datamodule(path=str(people_csv), target="outcome", sensitive="age", sensitive_as_input=True)
    assert "age" in dm.spec.feature_names and dm.table.notes["sensitive"]["age"]["kind"] == "binned"


def test_headerless_csv_with_column_names(tmp_path):
    frame = people(200, seed=6)
    path = tmp_path / "noheader.data"
    frame.to_csv(path, index=False, header=False)
    dm = datamodule(path=str(path), column_names=list(frame.columns), target="outcome", sensitive="gender")
    assert sum(len(s) for s in dm.splits.values()) == 200


def test_first_row_of_numbers_warns_that_the_header_may_be_missing(tmp_path):
    frame = pd.DataFrame({"a": np.arange(100) % 7 * 1.5, "y": ["p", "q"] * 50, "s": ["u"] * 50 + ["v"] * 50})
    path = tmp_path / "nohead.csv"
    frame.to_csv(path, index=False, header=False)
    dm = datamodule(path=str(path), target=path.read_text().splitlines()[0].split(",")[1],
                    sensitive=path.read_text().splitlines()[0].split(",")[2])
    assert any("header" in w for w in dm.table.notes["warnings"])


def test_hugging_face_folder_save_to_disk_and_config_name(tmp_path):
    import datasets

    frame = people(300, seed=7).drop(columns=["hours", "city"])
    folder = tmp_path / "hf"
    (folder / "data").mkdir(parents=True)
    frame.iloc[:240].to_csv(folder / "data" / "train.csv", index=False)
    frame.iloc[240:].to_csv(folder / "data" / "test.csv", index=False)
    dm = datamodule(path=str(folder), target="outcome", sensitive="region")
    assert len(dm.splits["test"]) == 60 and dm.table.notes["split"]["test"] == "split 'test'"

    saved = datasets.DatasetDict({
        "train": datasets.Dataset.from_pandas(frame.iloc[:240], preserve_index=False),
        "holdout": datasets.Dataset.from_pandas(frame.iloc[240:], preserve_index=False),
    }).cast_column("outcome", datasets.ClassLabel(names=["no", "yes"]))
    saved.save_to_disk(str(tmp_path / "saved"))
    dm = datamodule(path=str(tmp_path / "saved"), test="holdout", target="outcome", sensitive="region")
    assert dm.spec.target_classes == ["no", "yes"] and len(dm.splits["test"]) == 60  # ClassLabel ids -> names

    configs = tmp_path / "configs"
    for name in ("small", "large"):
        (configs / name).mkdir(parents=True)
        frame.iloc[: 150 if name == "small" else 300].to_csv(configs / name / "train.csv", index=False)
    (configs / "README.md").write_text(
        "---\nconfigs:\n- config_name: small\n  data_files: small/train.csv\n"
        "- config_name: large\n  data_files: large/train.csv\n---\n"
    )
    dm = datamodule(path=str(configs), config_name="large", target="outcome", sensitive="region")
    assert sum(len(s) for s in dm.splits.values()) == 300


def test_adult_name_is_unchanged_and_refuses_generic_options(adult_root):
    from privib.data.datamodule import PrivibDataModule
    from privib.errors import ConfigError

    dm = PrivibDataModule(name="adult", root=str(adult_root))
    dm.setup()
    assert len(dm.splits["train"]) + len(dm.splits["val"]) == 30_162 and len(dm.splits["test"]) == 15_060
    assert dm.preprocessor.to_dict()["missing"] == "error" and dm.table.notes["schema"]["columns"]
    with pytest.raises(ConfigError, match="data.target is an option of generic tables"):
        PrivibDataModule(name="adult", root=str(adult_root), target="income").setup()


def test_yaml_booleans_match_the_tables_spelling(people_csv):
    # YAML reads `positive: no` and `{yes: Y}` as booleans; privib maps them back to the column's words.
    dm = datamodule(path=str(people_csv), target="outcome", sensitive="gender", positive=False)
    assert dm.table.positive_label == "no" and dm.spec.target_classes == ["yes", "no"]
    dm = datamodule(path=str(people_csv), target="outcome", sensitive="gender", recode={"outcome": {True: "Y", False: "N"}})
    assert dm.spec.target_classes == ["N", "Y"]


def test_a_sensitive_column_that_is_the_target_is_warned_about(tmp_path):
    frame = people()
    frame["copy_of_outcome"] = frame["outcome"].map({"yes": "a", "no": "b"})
    path = write(frame, tmp_path / "people.csv")
    dm = datamodule(path=str(path), target="outcome", sensitive=["copy_of_outcome", "gender"], drop=["person"])
    assert len(dm.warnings) == 1 and "'copy_of_outcome' is determined by the target 'outcome'" in dm.warnings[0]
    honest = datamodule(path=str(path), target="outcome", sensitive=["gender"], drop=["person", "copy_of_outcome"])
    assert honest.warnings == []
