"""Raw tables and options to a :class:`TabularData`: roles, types, missing values, splits, checks.

The second half of ``data.name tabular`` (:mod:`privib.data.tabular` reads the sources and
checks the options): every decision is recorded in ``TabularData.notes`` and logged.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from privib.data.base import TabularData, bin_labels, bin_names
from privib.data.preprocessing import category_strings
from privib.data.readers import ReadTable
from privib.data.schema import (
    MIN_CLASS_ROWS, ColumnRole, bool_spellings, column_list, infer_kind, non_numbers, numeric_view,
    quantile_edges, stratified_test_mask, unknown_column,
)
from privib.errors import ConfigError, DataError

if TYPE_CHECKING:
    from privib.data.tabular import TableOptions

log = logging.getLogger(__name__)


class TableBuilder:
    """Turns the raw tables and options into a TabularData, recording every decision in ``notes``."""

    def __init__(self, options: TableOptions, source: str, split_seed: int, infer: bool, positive: str | None) -> None:
        self.o = options
        self.source = source
        self.split_seed = split_seed
        self.infer = infer
        self.positive = positive
        self.warnings: list[str] = []
        self.dropped_rows: dict[str, dict[str, int]] = {"train": {}, "test": {}}

    # -------------------------------------------------------------- steps

    def build(self, train_read: ReadTable, test_read: ReadTable | None) -> TabularData:
        o = self.o
        train, test = train_read.frame, test_read.frame if test_read is not None else None
        for read in (train_read, test_read):
            if read is not None and "warning" in read.info:
                self.warnings.append(read.info.pop("warning"))
        train.columns = [str(c) for c in train.columns]
        if test is not None:
            test.columns = [str(c) for c in test.columns]
        test_label = (test_read.info.get("path") if test_read.info.get("role") == "test file"
                      else f"split '{test_read.info.get('split')}'") if test_read is not None else None
        self._check_rows(train, self.source)
        if test is not None:
            self._check_rows(test, str(test_label))
        self._check_roles_exist(train, test, test_label)

        train = self._recode(train)
        test = self._recode(test) if test is not None else None
        train = self._drop_unlabelled(train, "train", self.source)
        test = self._drop_unlabelled(test, "test", str(test_label)) if test is not None else None

        roles = self._roles(train)
        kinds = {r.name: r.kind for r in roles if r.kind is not None}
        inputs = [r.name for r in roles if r.role == "input"]
        if not inputs:
            raise DataError(
                f"no input columns left in {self.source} once target, sensitive, id and dropped columns are set aside: "
                "list inputs in data.categorical / data.numeric"
            )
        if test is not None:
            absent = [c for c in inputs if c not in test.columns]
            if absent:
                raise DataError(
                    f"the test data {test_label} lacks input column(s) {absent} of the training data: give both the "
                    "same columns, or list the extra ones in data.drop"
                )
        train = self._typed(train, kinds, self.source)
        test = self._typed(test, kinds, str(test_label)) if test is not None else None
        self._check_missing_inputs(train, test, inputs, kinds, test_label)
        train = self._drop_missing_inputs(train, inputs, kinds, "train")
        test = self._drop_missing_inputs(test, inputs, kinds, "test") if test is not None else None

        target_classes = self._check_target(train, test, test_label)
        binned = self._binned_sensitive(train, kinds)
        for column in o.sensitive:
            if column not in binned:  # before any split, so the counts are the file's
                self._check_small(category_strings(train[column]).value_counts(), "sensitive", column, self.source)
        split_note: dict[str, Any]
        if test is None:
            pool = train
            keys = category_strings(pool[o.target])
            for column in o.sensitive:
                labels = (bin_labels(pool[column], quantile_edges(pool[column], o.sensitive_bins)) if column in binned
                          else category_strings(pool[column]))
                keys = keys + "\x1f" + labels.astype(str)
            is_test = stratified_test_mask(keys, o.test_fraction, self.split_seed)
            train, test = pool[~is_test].reset_index(drop=True), pool[is_test].reset_index(drop=True)
            split_note = {
                "test": f"seeded split stratified by target and sensitive: {o.test_fraction:g} of {self.source}, "
                        f"split_seed {self.split_seed}",
                "fraction": o.test_fraction, "seed": self.split_seed,
            }
        else:
            split_note = {"test": str(test_label)}
        edges = {column: quantile_edges(train[column], o.sensitive_bins) for column in binned}
        sensitive_notes = self._check_sensitive(train, test, edges, test_label)
        split_note.update({"train_rows": len(train), "test_rows": len(test)})

        columns = [r.to_dict() for r in roles]
        categorical = [r.name for r in roles if r.kind == "categorical" and r.role in ("input", "sensitive")]
        numeric = [r.name for r in roles if r.kind == "numeric" and r.role in ("input", "sensitive")]
        keep = [c for c in train.columns if c in {*categorical, *numeric, o.target, *o.sensitive, o.id_column}]
        positive = self._positive(target_classes)
        notes: dict[str, Any] = {
            "source": {"train": train_read.info, **({"test": test_read.info} if test_read is not None else {})},
            "schema": {
                "columns": columns,
                "categorical": [c for c in categorical if c not in o.sensitive],
                "numeric": [c for c in numeric if c not in o.sensitive],
                "dropped": {r.name: r.how for r in roles if r.role == "dropped"},
                "id_column": o.id_column,
            },
            "target": {"column": o.target, "classes": target_classes, "positive": positive},
            "sensitive": sensitive_notes,
            "missing": {
                "numeric": o.missing_numeric, "categorical": o.missing_categorical, "na_values": o.na_values,
                "rows_dropped": self.dropped_rows,
            },
            "split": split_note,
            "warnings": self.warnings,
        }
        if o.id_column is not None and o.id_column not in test.columns:
            test = test.assign(**{o.id_column: np.nan})
        table = TabularData(
            name="tabular", train=train[keep].reset_index(drop=True), test=test[keep].reset_index(drop=True),
            target=o.target, sensitive=list(o.sensitive), categorical=categorical, numeric=numeric,
            positive_label=positive, notes=notes, id_column=o.id_column, missing_numeric=o.missing_numeric,
            missing_categorical=o.missing_categorical, na_values=list(o.na_values),
            recode={c: m for c, m in o.recode.items() if c in categorical}, sensitive_bins=edges,
        )
        self._log(table)
        return table

    def _check_rows(self, frame: pd.DataFrame, where: str) -> None:
        if len(frame.columns) == 0 or len(frame) == 0:
            raise DataError(f"{where} has no data rows: it needs a header row and at least one data row")

    def _check_roles_exist(self, train: pd.DataFrame, test: pd.DataFrame | None, test_label: str | None) -> None:
        o = self.o
        columns = list(train.columns)
        if o.target is None:
            raise ConfigError(f"data.target is required: pass --data.target COLUMN (columns of {self.source}: {column_list(columns)})")
        if not o.sensitive:
            raise ConfigError(
                f"data.sensitive is required: pass --data.sensitive COLUMN[,COLUMN] (columns of {self.source}: {column_list(columns)})"
            )
        named = [("data.target", [o.target]), ("data.sensitive", o.sensitive), ("data.categorical", o.categorical),
                 ("data.numeric", o.numeric), ("data.drop", o.drop), ("data.id_column", [o.id_column] if o.id_column else []),
                 ("data.recode", list(o.recode))]
        for option, names in named:
            for name in names:
                if name not in train.columns:
                    raise unknown_column(option, name, columns, self.source)
        if test is not None:
            needed = [o.target, *o.sensitive, *o.categorical, *o.numeric]
            absent = [c for c in needed if c not in test.columns]
            if absent:
                raise DataError(f"the test data {test_label} lacks column(s) {absent} of the training data: give both the same columns")

    def _recode(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self.o.recode:
            return frame
        frame = frame.copy()
        for column in list(self.o.recode):
            if column not in frame.columns:
                continue
            values = category_strings(frame[column], self.o.na_values)
            mapping = self._resolve_bools(column, self.o.recode[column], values.dropna().unique().tolist())
            self.o.recode[column] = mapping
            frame[column] = values.map(lambda v, m=mapping: m.get(v, v) if isinstance(v, str) else v)
        return frame

    @staticmethod
    def _resolve_bools(column: str, mapping: dict[Any, Any], present: list[str]) -> dict[str, str | None]:
        """YAML read ``yes`` / ``no`` as booleans: match them to the spelling the column uses."""
        resolved: dict[str, str | None] = {}
        for key, value in mapping.items():
            if isinstance(key, bool):
                keys = bool_spellings(key, present) or [str(key)]
            else:
                canonical = category_strings(pd.Series([key], dtype=object)).iloc[0]
                keys = [key] if pd.isna(canonical) else list(dict.fromkeys([key, canonical]))
            if isinstance(value, bool):
                words = bool_spellings(value, [*present, *(v for v in mapping.values() if isinstance(v, str))])
                value = words[0] if len(set(words)) == 1 else str(value)
            for name in keys:
                resolved[str(name)] = value
        return resolved

    def _drop_unlabelled(self, frame: pd.DataFrame, split: str, where: str) -> pd.DataFrame:
        """Rows whose target or a sensitive value is missing cannot be used: drop and count them."""
        o = self.o
        for column in [o.target, *o.sensitive]:
            if category_strings(frame[column], o.na_values).isna().all():
                role = "target" if column == o.target else "sensitive"
                raise DataError(f"{role} column '{column}' is all missing in {where}: pick another column or fill it")
        missing = np.zeros(len(frame), dtype=bool)
        for column in [o.target, *o.sensitive]:
            values = category_strings(frame[column], o.na_values).isna().to_numpy()
            count = int((values & ~missing).sum())
            if count:
                self.dropped_rows[split][f"missing {column}"] = count
            missing |= values
        if missing.any():
            frame = frame[~missing].reset_index(drop=True)
        if len(frame) == 0:
            raise DataError(f"{where} has no rows with both target and sensitive values")
        return frame

    def _roles(self, train: pd.DataFrame) -> list[ColumnRole]:
        o = self.o
        roles: list[ColumnRole] = []
        for column in train.columns:
            values = train[column]
            strings = category_strings(values, o.na_values)
            facts = {"dtype": str(values.dtype), "distinct": int(strings.nunique()), "missing": int(strings.isna().sum())}
            if column == o.target:
                roles.append(ColumnRole(column, "target", None, "data.target", **facts))
                continue
            if column == o.id_column:
                roles.append(ColumnRole(column, "id", None, "data.id_column (carried through encode, never an input)", **facts))
                continue
            if column in o.drop:
                roles.append(ColumnRole(column, "dropped", None, "listed in data.drop", **facts))
                continue
            role = "sensitive" if column in o.sensitive else "input"
            listed_or_used = column in o.categorical or column in o.numeric or role == "sensitive"
            if facts["missing"] == len(values) and (listed_or_used or self.infer):
                raise DataError(f"column '{column}' is all missing in {self.source}: drop it with --data.drop {column}")
            if column in o.categorical:
                roles.append(ColumnRole(column, role, "categorical", "listed in data.categorical", **facts))
            elif column in o.numeric:
                if numeric_view(values, o.na_values) is None:
                    examples = non_numbers(values, o.na_values)
                    raise DataError(
                        f"column '{column}' (data.numeric) holds values that are not numbers, e.g. {examples}: list it in "
                        "data.categorical, add those values to data.na_values if they mean missing, or fix the file"
                    )
                roles.append(ColumnRole(column, role, "numeric", "listed in data.numeric", **facts))
            elif role == "sensitive" and column in o.recode:
                roles.append(ColumnRole(column, role, "categorical", "recoded sensitive column: its values are classes", **facts))
            elif role == "sensitive" or self.infer:
                kind, how, warnings = infer_kind(values, o.na_values, o.max_categories)
                self.warnings.extend(warnings)
                if kind is None and role == "sensitive":
                    kind, how = "categorical", f"sensitive ({how})"
                roles.append(ColumnRole(column, role if kind else "dropped", kind, how, **facts))
            else:
                roles.append(ColumnRole(column, "dropped", None, "not listed (data.infer false)", **facts))
        return roles

    def _typed(self, frame: pd.DataFrame, kinds: dict[str, str], where: str) -> pd.DataFrame:
        """Numeric columns as float64, categorical ones as canonical strings (NaN where missing)."""
        o = self.o
        frame = frame.copy()
        for column, kind in kinds.items():
            if column not in frame.columns:
                continue
            if kind == "numeric":
                numbers = numeric_view(frame[column], o.na_values)
                if numbers is None:
                    raise DataError(
                        f"numeric column '{column}' holds values that are not numbers in {where}, e.g. "
                        f"{non_numbers(frame[column], o.na_values)}: fix the file, add them to data.na_values, "
                        "or list the column in data.categorical"
                    )
                frame[column] = numbers
            else:
                frame[column] = category_strings(frame[column], o.na_values)
        frame[o.target] = category_strings(frame[o.target], o.na_values)
        return frame

    def _policy(self, kind: str) -> str:
        return self.o.missing_numeric if kind == "numeric" else self.o.missing_categorical

    def _check_missing_inputs(self, train: pd.DataFrame, test: pd.DataFrame | None, inputs: list[str],
                              kinds: dict[str, str], test_label: str | None) -> None:
        for frame, where in ((train, self.source), (test, test_label)):
            if frame is None:
                continue
            for column in inputs:
                count = int(frame[column].isna().sum())
                kind = kinds[column]
                if count and self._policy(kind) == "error":
                    option = f"data.missing_{kind}"
                    raise DataError(
                        f"{kind} column '{column}' has {count} missing values in {where} ({option} error): set {option} "
                        f"to {'impute or drop' if kind == 'numeric' else 'category, impute or drop'}, or fill them"
                    )

    def _drop_missing_inputs(self, frame: pd.DataFrame, inputs: list[str], kinds: dict[str, str], split: str) -> pd.DataFrame:
        mask = np.zeros(len(frame), dtype=bool)
        for column in inputs:
            if self._policy(kinds[column]) == "drop":
                mask |= frame[column].isna().to_numpy()
        if mask.any():
            self.dropped_rows[split]["missing inputs (policy drop)"] = int(mask.sum())
            frame = frame[~mask].reset_index(drop=True)
        if len(frame) == 0:
            raise DataError(f"no {split} rows are left once rows with missing inputs are dropped: use the impute policy")
        return frame

    def _check_target(self, train: pd.DataFrame, test: pd.DataFrame | None, test_label: str | None) -> list[str]:
        o = self.o
        counts = train[o.target].value_counts()
        classes = sorted(counts.index.tolist())
        if len(classes) < 2:
            raise DataError(f"target column '{o.target}' has a single class {classes} in {self.source}: a classifier needs two or more")
        if len(classes) > o.max_categories:
            raise DataError(
                f"target column '{o.target}' has {len(classes)} distinct values (more than data.max_categories="
                f"{o.max_categories}): privib trains classifiers; threshold or bin it in the file, or raise data.max_categories"
            )
        self._check_small(counts, "target", o.target, self.source)
        if test is not None:
            unseen = sorted(set(test[o.target].dropna()) - set(classes))
            if unseen:
                raise DataError(
                    f"target column '{o.target}' in {test_label} has classes never seen in training: {unseen[:5]}: "
                    "map them onto training classes with data.recode, or fix the file"
                )
        return classes

    @staticmethod
    def _check_small(counts: pd.Series, role: str, column: str, where: str) -> None:
        small = counts[counts < MIN_CLASS_ROWS]
        if len(small):
            shown = ", ".join(f"'{k}' ({int(v)} rows)" for k, v in small.sort_values().head(3).items())
            raise DataError(
                f"{role} column '{column}' has class(es) too small to split into train, validation and test: {shown}; "
                f"each class needs at least {MIN_CLASS_ROWS} rows: merge small classes with data.recode "
                f"(e.g. {{{column}: {{{next(iter(small.index))!s}: OTHER}}}}) or drop those rows from the file"
            )

    def _binned_sensitive(self, train: pd.DataFrame, kinds: dict[str, str]) -> list[str]:
        """Numeric sensitive columns with more distinct values than data.sensitive_bins: their classes are quantile bins."""
        o = self.o
        return [
            column for column in o.sensitive
            if kinds.get(column) == "numeric" and train[column].nunique() > o.sensitive_bins
        ]

    def _check_sensitive(self, train: pd.DataFrame, test: pd.DataFrame, edges: dict[str, list[float]],
                         test_label: str | None) -> dict[str, Any]:
        o = self.o
        notes: dict[str, Any] = {}
        for column in o.sensitive:
            if column in edges:
                labels = bin_labels(train[column], edges[column])
                names = bin_names(edges[column])
            else:
                labels = category_strings(train[column], o.na_values)
                names = sorted(labels.dropna().unique().tolist())
            counts = labels.value_counts()
            if len(counts) < 2:
                how = " (too few distinct values to bin)" if column in edges else ""
                raise DataError(
                    f"sensitive column '{column}' has a single class {counts.index.tolist()}{how} in the training rows: "
                    "an attribute with one class cannot leak; pick another column"
                )
            if column not in edges and len(counts) > o.max_categories:
                raise DataError(
                    f"sensitive column '{column}' has {len(counts)} classes (more than data.max_categories="
                    f"{o.max_categories}): is it an identifier? pick another column or merge classes with data.recode"
                )
            self._check_small(counts, "sensitive", column, "the training rows")
            test_labels = (bin_labels(test[column], edges[column]) if column in edges
                           else category_strings(test[column], o.na_values))
            unseen = sorted(set(test_labels.dropna()) - set(counts.index))
            if unseen:
                raise DataError(
                    f"sensitive column '{column}' in {test_label or 'the test split'} has classes never seen in training: "
                    f"{unseen[:5]}: merge them into training classes with data.recode, or fix the file"
                )
            kind = "binned" if column in edges else ("binary" if len(names) == 2 else "multi-class")
            note: dict[str, Any] = {"kind": kind, "classes": names, "train_counts": {k: int(counts.get(k, 0)) for k in names}}
            if column in edges:
                note["bins"] = {"edges": edges[column], "requested": o.sensitive_bins, "made": len(names),
                                "how": "quantiles of the training rows; values outside their range join the end bins"}
            notes[column] = note
        return notes

    def _positive(self, classes: list[str]) -> str | None:
        if self.positive is None:
            return classes[-1] if len(classes) == 2 else None
        if len(classes) != 2:
            raise ConfigError(f"data.positive applies to a binary target; '{self.o.target}' has {len(classes)} classes: drop it")
        if isinstance(self.positive, bool):
            words = bool_spellings(self.positive, classes)
            if len(words) == 1:
                return words[0]
            raise ConfigError(
                f"data.positive was read as the boolean {self.positive} (YAML reads unquoted yes / no / on / off so): "
                f"quote it, e.g. positive: \"{classes[-1]}\" (classes: {classes})"
            )
        positive = str(self.positive).strip()
        if positive not in classes:
            canonical = category_strings(pd.Series([positive])).iloc[0]
            if canonical in classes:
                return canonical
            raise ConfigError(f"data.positive '{positive}' is not a class of '{self.o.target}': use one of {classes}")
        return positive

    def _log(self, table: TabularData) -> None:
        notes = table.notes
        schema = notes["schema"]
        log.info("data %s: %d train rows, %d test rows (test: %s)", self.source, len(table.train), len(table.test),
                 notes["split"]["test"])
        for column in schema["columns"]:
            if column["role"] in ("input", "sensitive"):
                log.info("  %-24s %-9s %-11s %s", column["name"], column["role"], column["kind"], column["how"])
            elif column["role"] == "dropped":
                log.info("  %-24s dropped   %-11s %s", column["name"], "", column["how"])
        for column, note in notes["sensitive"].items():
            extra = f", bin edges {note['bins']['edges']}" if "bins" in note else ""
            log.info("  sensitive %s: %s, classes %s%s", column, note["kind"], note["classes"], extra)
        dropped = {k: v for k, v in notes["missing"]["rows_dropped"].items() if v}
        if dropped:
            log.info("  rows dropped: %s", dropped)
        for warning in self.warnings:
            log.warning("  warning: %s", warning)
