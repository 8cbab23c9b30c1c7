"""UCI Adult (Census Income), official split, rows with missing values dropped."""
from __future__ import annotations

import os

import pandas as pd

from privib.data.base import TabularData
from privib.data.sources import RemoteFile, resolve_files

_BASE_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult"
TRAIN_FILE = RemoteFile("adult.data", f"{_BASE_URL}/adult.data", "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d")
TEST_FILE = RemoteFile("adult.test", f"{_BASE_URL}/adult.test", "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05")

COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]
NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex", "native-country"]
TARGET = "income"
SENSITIVE_CHOICES = ("sex", "race")


def read_adult_file(path: os.PathLike[str] | str, skiprows: int = 0) -> pd.DataFrame:
    """Read one raw Adult file through Hugging Face ``datasets`` (missing values are ``?``)."""
    import datasets

    datasets.disable_progress_bars()
    table = datasets.load_dataset(
        "csv",
        data_files={"split": os.fspath(path)},
        column_names=COLUMNS,
        skipinitialspace=True,
        skiprows=skiprows,
        na_values=["?"],
        keep_default_na=False,
        split="split",
    )
    return table.to_pandas()


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.dropna().reset_index(drop=True)
    frame[TARGET] = frame[TARGET].str.rstrip(".")
    return frame


def load_adult(root: str | None = None, sensitive: list[str] | None = None) -> TabularData:
    """Official train/test split: 30,162 / 15,060 rows; target ``income`` (positive ``>50K``)."""
    train_path, test_path = resolve_files("adult", (TRAIN_FILE, TEST_FILE), root)
    train = _clean(read_adult_file(train_path))
    test = _clean(read_adult_file(test_path, skiprows=1))
    return TabularData(
        name="adult",
        train=train,
        test=test,
        target=TARGET,
        sensitive=list(sensitive or ["sex"]),
        categorical=list(CATEGORICAL),
        numeric=list(NUMERIC),
        positive_label=">50K",
    )
