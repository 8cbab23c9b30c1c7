"""Reading a preprocess spec (preprocess.json) field by field: the type and range of each, one error naming the first bad one.

The spec may come from a damaged or hostile export folder, so :meth:`TabularPreprocessor.from_dict
<privib.data.preprocessing.TabularPreprocessor.from_dict>` reads every field through these checks.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from privib.errors import DataError

__all__ = ["PreprocessSpecError", "short", "typed", "item", "number", "cut_points", "category_entry"]

_KINDS: dict[type, str] = {dict: "an object", list: "a list", str: "a string", float: "a number"}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class PreprocessSpecError(DataError):
    """One field of a preprocess spec (preprocess.json) is missing, of the wrong type or out of range."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"preprocess spec field {field} {problem}: re-export the encoder")
        self.field = field
        self.problem = problem


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message never echoes a huge value."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def typed(value: Any, kind: type, field: str) -> Any:
    """``value`` if it has JSON type ``kind`` (float: any number but a boolean); PreprocessSpecError otherwise."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else isinstance(value, kind)):
        raise PreprocessSpecError(field, f"is {short(value)}, not {_KINDS[kind]}")
    return value


def item(obj: dict[str, Any], key: str, kind: type, where: str = "", optional: bool = False) -> Any:
    """``obj[key]`` checked by :func:`typed` (None for an absent or null optional key); ``where`` prefixes the field."""
    field = f"{where}.{key}" if where else key
    if key not in obj or (optional and obj[key] is None):
        if optional:
            return None
        raise PreprocessSpecError(field, "is missing")
    return typed(obj[key], kind, field)


def number(value: Any, field: str, low: float, high: float) -> float:
    """``value`` as a finite number in ``[low, high]`` (NaN, inf and ints too large for a float are refused)."""
    try:
        number = float(typed(value, float, field))
    except OverflowError:
        number = math.inf
    if not low <= number <= high:
        raise PreprocessSpecError(field, f"is {short(value)}, not a finite number in [{low:g}, {high:g}]")
    return number


def cut_points(values: list[Any], field: str) -> list[float]:
    """A non-empty, strictly increasing list of finite cut points (standardized units)."""
    cuts = [number(v, f"{field}[{i}]", -_FLOAT32_MAX, _FLOAT32_MAX) for i, v in enumerate(values)]
    if not cuts or any(b <= a for a, b in zip(cuts, cuts[1:])):
        raise PreprocessSpecError(field, "is not a non-empty, strictly increasing list of numbers")
    return cuts


def category_entry(entry: dict[str, Any], where: str) -> tuple[list[str], list[float]]:
    """Distinct category strings and one training frequency in [0, 1] each, summing to 1."""
    categories = [typed(v, str, f"{where}.categories[{i}]") for i, v in enumerate(item(entry, "categories", list, where))]
    if not categories:
        raise PreprocessSpecError(f"{where}.categories", "is empty")
    if len(set(categories)) != len(categories):
        duplicate = next(v for v, count in Counter(categories).items() if count > 1)
        raise PreprocessSpecError(f"{where}.categories", f"lists {short(duplicate)} more than once")
    raw = item(entry, "frequencies", list, where)
    if len(raw) != len(categories):
        raise PreprocessSpecError(f"{where}.frequencies", f"has {len(raw)} entries for {len(categories)} categories")
    numbers = [number(v, f"{where}.frequencies[{i}]", 0.0, 1.0) for i, v in enumerate(raw)]
    if abs(sum(numbers) - 1.0) > 1e-6:
        raise PreprocessSpecError(f"{where}.frequencies", f"sums to {sum(numbers):.6g}, not 1")
    return categories, numbers
