"""Named datasets: ``data.name`` in a config picks a loader from this registry."""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

from privib.data.base import TabularData
from privib.errors import ConfigError

Loader = Callable[..., TabularData]


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its loader, the sensitive attributes it offers, one line about it."""

    name: str
    loader: Loader
    sensitive_choices: tuple[str, ...]
    description: str


_REGISTRY: dict[str, DatasetEntry] = {}


def register_dataset(entry: DatasetEntry) -> None:
    """Add a dataset under ``entry.name`` (a later registration replaces an earlier one)."""
    _REGISTRY[entry.name] = entry


def get_dataset(name: str) -> DatasetEntry:
    """Return the registered dataset ``name`` or raise a ConfigError listing the known ones."""
    _register_builtins()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"unknown dataset '{name}': set data.name to one of {known}")
    return _REGISTRY[name]


def list_datasets() -> list[DatasetEntry]:
    """All registered datasets, sorted by name."""
    _register_builtins()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


# Built-in datasets: name -> ("module:loader", sensitive choices, description), imported on first use.
BUILTINS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "adult": (
        "privib.data.adult:load_adult",
        ("sex", "race"),
        "UCI Adult census income, official split (30,162 / 15,060 rows), y = income > 50K",
    ),
    "health": (
        "privib.data.health:load_health",
        ("age60", "age"),
        "Heritage Health with FCRL's protocol (Y3 rows, 44,739 / 11,185), y = Charlson index > 0, s = age >= 60 or age group",
    ),
    "synthetic": ("privib.data.synthetic:load_synthetic", ("s",), "generated table with a known s-x-y dependence (data.options), for calibration"),
    "tabular": (
        "privib.data.tabular:load_tabular",
        (),
        "your own table: CSV / TSV / Parquet / JSON-lines file or Hugging Face dataset "
        "(configs/tabular.yaml; --data.path, --data.target, --data.sensitive)",
    ),
}


def _register_builtins() -> None:
    import importlib

    for name, (target, choices, description) in BUILTINS.items():
        if name in _REGISTRY:
            continue
        module_name, function_name = target.split(":")
        loader = getattr(importlib.import_module(module_name), function_name)
        register_dataset(DatasetEntry(name, loader, choices, description))
