"""Any table as a privib dataset: ``data.name tabular`` with ``data.path``, ``data.target``, ``data.sensitive``.

Reads a CSV / TSV / Parquet / JSON-lines file or a Hugging Face dataset (see
:mod:`privib.data.readers`), gives every column a role (listed in the config or inferred,
and reported), applies the missing-value policies, bins numeric sensitive columns into
quantiles, and takes the test split from a file, a named split, or a seeded split
stratified by target and sensitive attributes. Everything decided is stored in
``TabularData.notes`` (plain JSON) and logged.

Missing values, by default: rows whose target or a sensitive value is missing are dropped;
numeric inputs are imputed with the training mean (``missing_numeric: impute``);
categorical inputs get their own ``<missing>`` category (``missing_categorical: category``).
"""
from __future__ import annotations

from typing import Any


from privib.data.base import TabularData
from privib.data.tabular_build import TableBuilder
from privib.data.preprocessing import CATEGORICAL_MISSING_POLICIES, NUMERIC_MISSING_POLICIES
from privib.data.readers import (
    ReadTable, file_not_found, locate, looks_like_a_file, pick_split, read_file, read_hf, to_frame,
)
from privib.data.schema import (
    as_names,
)
from privib.errors import ConfigError

DEFAULT_MISSING_NUMERIC = "impute"
DEFAULT_MISSING_CATEGORICAL = "category"



def load_tabular(
    root: str | None = None,
    sensitive: list[str] | None = None,
    *,
    path: str | None = None,
    target: str | None = None,
    test: str | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    config_name: str | None = None,
    train_split: str | None = None,
    categorical: list[str] | str | None = None,
    numeric: list[str] | str | None = None,
    drop: list[str] | str | None = None,
    id_column: str | None = None,
    infer: bool = True,
    max_categories: int = 100,
    positive: str | bool | int | float | None = None,
    sensitive_bins: int = 4,
    missing_numeric: str | None = None,
    missing_categorical: str | None = None,
    na_values: list[str | int | float] | str | None = None,
    recode: dict[str, dict[Any, Any]] | None = None,
    column_names: list[str] | str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> TabularData:
    """Load a user's table; every argument is the ``data.*`` option of the same name (see the datamodule)."""
    options = TableOptions.check(
        path=path, target=target, sensitive=sensitive, test=test, test_fraction=test_fraction, categorical=categorical,
        numeric=numeric, drop=drop, id_column=id_column, max_categories=max_categories, sensitive_bins=sensitive_bins,
        missing_numeric=missing_numeric, missing_categorical=missing_categorical, na_values=na_values, recode=recode,
        column_names=column_names,
    )
    train_read, test_read, source = _read_sources(
        options.path, root, test, config_name, train_split, options.column_names, delimiter, encoding
    )
    return TableBuilder(options, source, split_seed=split_seed, infer=infer, positive=positive).build(train_read, test_read)


class TableOptions:
    """The checked, normalized options (config mistakes fail here, before any file is read)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    @classmethod
    def check(cls, **raw: Any) -> TableOptions:
        if not raw["path"]:
            raise ConfigError(
                "data.path is required for data.name tabular: pass --data.path FILE (CSV, TSV, Parquet, JSON lines) "
                "or a Hugging Face dataset name"
            )
        if not 0.0 < raw["test_fraction"] < 0.9:
            raise ConfigError(f"data.test_fraction must be in (0, 0.9), got {raw['test_fraction']}")
        if raw["sensitive_bins"] < 2:
            raise ConfigError(f"data.sensitive_bins must be at least 2, got {raw['sensitive_bins']}")
        if raw["max_categories"] < 2:
            raise ConfigError(f"data.max_categories must be at least 2, got {raw['max_categories']}")
        missing_numeric = raw["missing_numeric"] or DEFAULT_MISSING_NUMERIC
        missing_categorical = raw["missing_categorical"] or DEFAULT_MISSING_CATEGORICAL
        if missing_numeric not in NUMERIC_MISSING_POLICIES:
            raise ConfigError(f"data.missing_numeric '{missing_numeric}' is not one of {', '.join(NUMERIC_MISSING_POLICIES)}")
        if missing_categorical not in CATEGORICAL_MISSING_POLICIES:
            raise ConfigError(
                f"data.missing_categorical '{missing_categorical}' is not one of {', '.join(CATEGORICAL_MISSING_POLICIES)}"
            )
        target = raw["target"].strip() if raw["target"] else None
        sensitive = as_names(raw["sensitive"])
        categorical, numeric, drop = as_names(raw["categorical"]), as_names(raw["numeric"]), as_names(raw["drop"])
        id_column = raw["id_column"].strip() if raw["id_column"] else None
        both = sorted(set(categorical) & set(numeric))
        if both:
            raise ConfigError(f"column(s) {both} are listed in both data.categorical and data.numeric: keep each in one")
        if target is not None:
            for option, names in (("data.sensitive", sensitive), ("data.categorical", categorical),
                                  ("data.numeric", numeric), ("data.drop", drop)):
                if target in names:
                    raise ConfigError(f"the target '{target}' is also in {option}: the target is never an input or sensitive")
            if id_column == target:
                raise ConfigError(f"data.id_column '{id_column}' is the target: pick another column")
        if id_column is not None:
            for option, names in (("data.sensitive", sensitive), ("data.categorical", categorical),
                                  ("data.numeric", numeric), ("data.drop", drop)):
                if id_column in names:
                    raise ConfigError(f"data.id_column '{id_column}' is also in {option}: an id column is never an input")
        clash = sorted(set(drop) & set(sensitive + categorical + numeric))
        if clash:
            raise ConfigError(f"column(s) {clash} are in data.drop and in another role: remove them from one")
        recode = cls._check_recode(raw["recode"])
        names = as_names(raw["column_names"]) if raw["column_names"] is not None else None
        if raw["column_names"] is not None:
            listed = raw["column_names"].split(",") if isinstance(raw["column_names"], str) else list(raw["column_names"])
            if len(names) != len(listed):
                raise ConfigError("data.column_names holds blank or repeated names: give each column a distinct name")
        na_values = as_names(raw["na_values"])
        return cls(
            path=str(raw["path"]), target=target, sensitive=sensitive, test_fraction=float(raw["test_fraction"]),
            categorical=categorical, numeric=numeric, drop=drop, id_column=id_column,
            max_categories=int(raw["max_categories"]), sensitive_bins=int(raw["sensitive_bins"]),
            missing_numeric=missing_numeric, missing_categorical=missing_categorical, na_values=na_values,
            recode=recode, column_names=names,
        )

    @staticmethod
    def _check_recode(recode: Any) -> dict[str, dict[str, str | None]]:
        if not recode:
            return {}
        if not isinstance(recode, dict) or not all(isinstance(m, dict) for m in recode.values()):
            raise ConfigError("data.recode must map columns to {old: new} value maps, e.g. {income: {'>50K.': '>50K'}}")
        out: dict[str, dict[Any, Any]] = {}
        for column, mapping in recode.items():
            clean = {k if isinstance(k, bool) else str(k).strip(): v if v is None or isinstance(v, bool) else str(v).strip()
                     for k, v in mapping.items()}
            chained = sorted(set(clean) & {v for v in clean.values() if v is not None} - {k for k, v in clean.items() if k == v})
            if chained:
                raise ConfigError(
                    f"data.recode for '{column}' maps values to {chained}, which it also renames: map each old value "
                    "straight to its final name"
                )
            out[str(column)] = {k: v for k, v in clean.items() if k != v}
        return out


def _read_sources(
    path: str, root: str | None, test: str | None, config_name: str | None, train_split: str | None,
    column_names: list[str] | None, delimiter: str | None, encoding: str,
) -> tuple[ReadTable, ReadTable | None, str]:
    """Read the training table and, when given, the test table. Returns them and a label for messages."""
    located = locate(path, root)
    if located is not None and located.is_file():
        if config_name or train_split:
            raise ConfigError(f"data.config_name and data.train_split apply to Hugging Face datasets; {path} is a file: drop them")
        train = read_file(located, column_names=column_names, delimiter=delimiter, encoding=encoding)
        test_read = None
        if test:
            test_file = locate(test, root) or (located.parent / test if (located.parent / test).is_file() else None)
            if test_file is None or not test_file.is_file():
                raise file_not_found(test, root, option="data.test")
            test_read = read_file(test_file, column_names=column_names, delimiter=delimiter, encoding=encoding)
            test_read.info["role"] = "test file"
        return train, test_read, located.name
    if located is None and looks_like_a_file(path):
        raise file_not_found(path, root)
    splits, info = read_hf(path, located, config_name)
    label = str(located) if located is not None else path
    train_name = pick_split(splits, train_split, label, "data.train_split")
    frame, converted = to_frame(splits[train_name])
    train = ReadTable(frame, {**info, "split": train_name, **({"class_label_names": converted} if converted else {})})
    test_read = None
    test_name: str | None = None
    if test:
        test_path = locate(test, root)
        if test_path is not None and test_path.is_file():
            test_read = read_file(test_path, column_names=column_names, delimiter=delimiter, encoding=encoding)
            test_read.info["role"] = "test file"
        else:
            test_name = pick_split(splits, test, label, "data.test")
    elif "test" in splits and train_name != "test":
        test_name = "test"
    if test_name is not None:
        if test_name == train_name:
            raise ConfigError(f"data.test names the training split '{train_name}': pick another split or drop data.test")
        test_frame, _ = to_frame(splits[test_name])
        test_read = ReadTable(test_frame, {**info, "split": test_name, "role": "test split"})
    return train, test_read, label
