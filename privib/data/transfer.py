"""Transfer tasks: held-out columns the encoder never sees, predicted later from its frozen codes.

``data.transfer`` names the targets: a column (its values are the classes, at most
:data:`MAX_CLASSES`) or a column with a rule, ``"<column> <op> <value>"`` with op one of
``> >= < <= == !=`` (``pcg1 > 0``, ``workclass == Private``), whose classes are ``no`` / ``yes``.
Numbers compare as numbers, anything else as the column's canonical strings (only ``==`` and
``!=``). ``data.hold_out`` names more input columns to remove without predicting them
(shell-style patterns: ``pcg*``). Every target and held-out column leaves the encoder's inputs.
A label that is missing, or a class never seen in training, is coded -1 and that row is left out
of the task's figures.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from privib.data.base import TabularData
from privib.data.preprocessing import category_strings
from privib.errors import ConfigError

__all__ = ["TransferTask", "TransferPlan", "parse_names", "plan_transfer", "transfer_codes", "transfer_notes",
           "target_descriptions", "MAX_CLASSES", "RULE_CLASSES"]

MAX_CLASSES = 20
RULE_CLASSES = ["no", "yes"]
_RULE = re.compile(r"^\s*(?P<column>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>.+?)\s*$")
_NUMERIC_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
                "==": np.equal, "!=": np.not_equal}
_EXAMPLE = "e.g. --data.transfer '[pcg1 > 0, workclass == Private]'"


@dataclass
class TransferTask:
    """One held-out target: its metric-key name, its column, its rule (or none) and its classes."""

    name: str
    column: str
    op: str | None = None
    value: str | None = None
    classes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The target as the config spells it: ``pcg1 > 0`` or ``workclass``."""
        return self.column if self.op is None else f"{self.column} {self.op} {self.value}"


@dataclass
class TransferPlan:
    """The tasks to predict and every input column removed for them (targets and ``hold_out`` matches)."""

    tasks: list[TransferTask]
    removed: list[str]


def parse_names(value: list[str] | str | None, what: str) -> list[str]:
    """Accept ``None``, ``"a,b"`` or ``[a, b]``; return the stripped, non-empty items without duplicates."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    if any(not isinstance(item, str) for item in items):
        raise ConfigError(f"data.{what} must be a list of strings, {_EXAMPLE}; got {value!r}")
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))


def _task(spec: str, columns: list[str]) -> TransferTask:
    if spec in columns:
        return TransferTask(name=spec.replace("/", "_"), column=spec)
    match = _RULE.fullmatch(spec)
    if match is None or match["column"] not in columns:
        column = match["column"] if match else spec
        raise ConfigError(
            f"data.transfer: '{column}' is not an input column of this dataset: name one of "
            f"{columns[:8]}{' ...' if len(columns) > 8 else ''}, alone or with a rule, {_EXAMPLE}"
        )
    value = match["value"].strip().strip("'\"")
    return TransferTask(name=match["column"].replace("/", "_"), column=match["column"], op=match["op"], value=value)


def plan_transfer(table: TabularData, transfer: list[str] | str | None, hold_out: list[str] | str | None) -> TransferPlan:
    """Check ``data.transfer`` and ``data.hold_out`` against the table's input columns.

    Raises ConfigError naming the bad entry: a column that is not an input (the target, a
    sensitive attribute and the id are never transfer targets), a task given twice, a pattern
    that matches nothing, or ``mean`` (the name of the mean over tasks).
    """
    inputs = [c for c in [*table.numeric, *table.categorical]
              if c not in {table.target, table.id_column, *table.sensitive}]
    tasks: list[TransferTask] = []
    for spec in parse_names(transfer, "transfer"):
        task = _task(spec, inputs)
        if any(t.name == task.name for t in tasks):
            raise ConfigError(f"data.transfer names column '{task.column}' twice: keep one target per column")
        if task.name == "mean":
            raise ConfigError("data.transfer: a column named 'mean' clashes with transfer/mean/..., the mean over tasks")
        tasks.append(task)
    removed = [t.column for t in tasks]
    for pattern in parse_names(hold_out, "hold_out"):
        matched = [c for c in inputs if fnmatch.fnmatchcase(c, pattern)]
        if not matched:
            raise ConfigError(f"data.hold_out: '{pattern}' matches no input column of this dataset (patterns like pcg*)")
        removed += [c for c in matched if c not in removed]
    return TransferPlan(tasks, removed)


def _rule_labels(table: TabularData, frame: pd.DataFrame, task: TransferTask) -> np.ndarray:
    """1 where the rule holds, 0 where it does not, -1 where the value is missing."""
    raw = frame[task.column]
    number = pd.to_numeric(pd.Series([task.value]), errors="coerce").iloc[0]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    present = raw.notna().to_numpy()
    if not np.isnan(number) and np.array_equal(~np.isnan(values), present):
        out = _NUMERIC_OPS[task.op](values, float(number)).astype(np.int64)
        out[np.isnan(values)] = -1
        return out
    if task.op not in ("==", "!="):
        raise ConfigError(
            f"data.transfer: '{task.describe()}' compares a non-numeric column with {task.op}: use == or != "
            f"with one of its values"
        )
    strings = category_strings(raw, table.na_values)
    out = (strings.to_numpy(dtype=object) == task.value).astype(np.int64)
    if task.op == "!=":
        out = 1 - out
    out[strings.isna().to_numpy()] = -1
    return out


def transfer_codes(table: TabularData, frame: pd.DataFrame, task: TransferTask, fit: bool = False) -> np.ndarray:
    """Class codes of ``task`` in ``frame`` (-1: missing or unseen); ``fit`` sets ``task.classes`` from it first."""
    if task.op is not None:
        if fit:
            task.classes = list(RULE_CLASSES)
        codes = _rule_labels(table, frame, task)
    else:
        strings = category_strings(frame[task.column], table.na_values)
        if fit:
            task.classes = sorted(strings.dropna().unique().tolist())
            if len(task.classes) > MAX_CLASSES:
                raise ConfigError(
                    f"data.transfer: column '{task.column}' has {len(task.classes)} values in training: give a rule "
                    f"such as '{task.column} > <number>' or '{task.column} == <value>' (at most {MAX_CLASSES} classes)"
                )
        codes = pd.Index(task.classes, dtype=object).get_indexer(strings.to_numpy(dtype=object)).astype(np.int64)
    if fit and len(np.unique(codes[codes >= 0])) < 2:
        raise ConfigError(f"data.transfer: '{task.describe()}' takes a single value on the training rows: choose another target")
    return codes


def transfer_notes(tasks: list[TransferTask], held_out: list[str]) -> dict[str, object]:
    """What ``table.notes["transfer"]`` records: each task's target and classes, every column held out."""
    return {"tasks": {t.name: {"target": t.describe(), "classes": list(t.classes)} for t in tasks}, "held_out": list(held_out)}


def target_descriptions(transfer: list[str] | str | None) -> dict[str, str]:
    """``{task name: target as configured}`` from ``data.transfer`` alone (no table: a column whose name
    contains an operator reads as a rule), for reports of a finished run."""
    out = {}
    for spec in parse_names(transfer, "transfer"):
        match = _RULE.fullmatch(spec)
        column = match["column"] if match else spec
        out[column.replace("/", "_")] = spec
    return out
