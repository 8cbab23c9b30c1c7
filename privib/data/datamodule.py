"""The LightningDataModule: raw tables to in-memory tensors, split, preprocessed, batched."""
from __future__ import annotations

import inspect
import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from privib.data.base import TabularData
from privib.data.loader import IndexBatchLoader
from privib.data.numeric_bins import valid_bin_count
from privib.data.preprocessing import TabularPreprocessor
from privib.data.registry import get_dataset
from privib.data.transfer import TransferTask, plan_transfer, transfer_codes, transfer_notes
from privib.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass
class DataSpec:
    """What a model needs to know about the data: widths, classes and label priors."""

    input_dim: int
    feature_names: list[str]
    target: str
    target_classes: list[str]
    target_prior: list[float]
    sensitive: list[str]
    sensitive_classes: dict[str, list[str]]
    sensitive_priors: dict[str, list[float]]
    id_column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (stored in checkpoints and exports)."""
        return asdict(self)


@dataclass
class Split:
    """One split as tensors: features ``x``, task labels ``y``, sensitive labels ``s`` (rows x attributes), transfer labels ``t``."""

    x: torch.Tensor
    y: torch.Tensor
    s: torch.Tensor
    t: torch.Tensor | None = None  # transfer-task labels (rows x tasks, -1: missing), when data.transfer names any

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x, self.y, self.s


# Options of generic tables (data.name tabular) and their defaults: a named dataset whose loader does not
# take one of them refuses a non-default value rather than ignoring it.
TABLE_OPTION_DEFAULTS: dict[str, Any] = {
    "path": None, "target": None, "test": None, "test_fraction": 0.2, "config_name": None, "train_split": None,
    "categorical": None, "numeric": None, "drop": None, "id_column": None, "infer": True, "max_categories": 100,
    "positive": None, "sensitive_bins": 4, "missing_numeric": None, "missing_categorical": None, "na_values": None,
    "recode": None, "column_names": None, "delimiter": None, "encoding": "utf-8",
}


def _accepted_keywords(loader: Any) -> set[str] | None:
    """Keyword names a loader accepts; None when it takes ``**kwargs``."""
    try:
        parameters = inspect.signature(loader).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def parse_sensitive(value: list[str] | str) -> list[str]:
    """Accept ``sex``, ``sex,race`` or ``[sex, race]``; return a non-empty list without duplicates."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = list(dict.fromkeys(item.strip() for item in items if item and item.strip()))
    if not names:
        raise ConfigError("data.sensitive is empty: name at least one sensitive column, e.g. --data.sensitive sex")
    return names


def _encode_labels(values: pd.Series, classes: list[str], column: str, split: str) -> np.ndarray:
    codes = pd.Index(classes, dtype=object).get_indexer(values.to_numpy(dtype=object)).astype(np.int64)
    if (codes < 0).any():
        unseen = sorted(set(values[codes < 0].astype(str)))[:3]
        raise DataError(f"column '{column}' in the {split} split has values never seen in training: {unseen}")
    return codes


def _prior(codes: np.ndarray, n_classes: int) -> list[float]:
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    return (counts / counts.sum()).tolist()


class PrivibDataModule(pl.LightningDataModule):
    """Load a registered dataset, split off a seeded validation set, preprocess, batch.

    ``data.name adult`` (and the other named datasets) take only the first twelve options;
    ``data.name tabular`` reads any table and takes the rest (``privib datasets`` lists names).

    Parameters
    ----------
    name
        Registered dataset name (``privib datasets`` lists them); ``tabular`` reads ``data.path``.
    root
        Folder holding the dataset files; else ``$PRIVIB_DATA_DIR``, the cache, a download. For
        ``tabular``, a relative ``data.path`` / ``data.test`` is also looked for under it.
    sensitive
        Sensitive attribute(s): one column, a comma-separated string, or a list. Required for a
        generic table; a named dataset defaults to its first attribute (Adult: sex).
    sensitive_as_input
        Keep the sensitive columns among the encoder's inputs.
    val_fraction
        Share of the training rows held out for validation (seeded, stratified by target).
    batch_size
        Training batch size.
    eval_batch_size
        Batch size for validation and test.
    split_seed
        Seed of the validation split, of the test split when one is drawn, and of the batch order.
    options
        Extra keyword arguments for the dataset's loader (e.g. a synthetic dataset's parameters).
    transfer
        Transfer tasks: held-out targets, removed from the encoder's inputs and predicted by fresh probes
        on the frozen codes after training. Each is a column or a column with a rule, e.g.
        ``[pcg1 > 0, workclass == Private]`` (ops ``> >= < <= == !=``; a rule's classes are no / yes).
    hold_out
        More input columns removed from the encoder's inputs without being predicted (patterns such as ``pcg*``).
    numeric_bins
        0 (default): numeric inputs are standardized values. N >= 2: each numeric input also becomes a one-hot
        block of at most N quantile bins of its distinct training values, after the categoricals, so the encoder
        sees thresholds (Adult's capital-gain amounts) a standardized value hides (``privib.data.numeric_bins``).
    path
        tabular: the training table: a CSV / TSV / Parquet / JSON-lines file (compressed too), a
        Hugging Face dataset folder, or a Hugging Face dataset name (read through ``datasets``).
    target
        tabular: the column to predict; string or number classes, two or more.
    test
        tabular: test file, or split name of a Hugging Face dataset. Unset: the dataset's ``test``
        split if it has one, else a seeded split stratified by target and sensitive attributes.
    test_fraction
        tabular: share of the rows drawn as the test split when ``test`` is unset.
    config_name
        tabular: Hugging Face dataset config (subset) name.
    train_split
        tabular: Hugging Face split holding the training rows (default ``train``, or the only split).
    categorical
        tabular: columns to one-hot encode (listed; other columns are inferred unless ``infer`` is false).
    numeric
        tabular: columns to standardize as numbers.
    drop
        tabular: columns never used.
    id_column
        tabular: a row identifier, never an input, carried through ``encode``.
    infer
        tabular: infer the type of unlisted columns (numbers: numeric, except whole numbers with at most
        10 levels; text: categorical up to ``max_categories`` values); false: use only listed columns.
    max_categories
        tabular: text columns with more distinct values are dropped when inferred (an id or free text?).
    positive
        tabular: the positive class of a binary target (default: the last class in sorted order). In YAML,
        an unquoted yes / no / true / on reads as a boolean and is matched to the table's spelling.
    sensitive_bins
        tabular: numeric sensitive columns with more distinct values become this many quantile bins.
    missing_numeric
        tabular: missing numeric inputs: impute (training mean; default), drop (the rows), or error.
    missing_categorical
        tabular: missing categorical inputs: category (a ``<missing>`` category; default), impute (most
        frequent), drop (the rows), or error. Rows with a missing target or sensitive value are always dropped.
    na_values
        tabular: extra strings that mean missing (e.g. ``?``); empty cells, NA, NaN, null already do.
    recode
        tabular: rename values before use, ``{column: {old: new}}`` (``new: null`` makes it missing); merges
        small classes of the target or a sensitive column, or fixes spellings.
    column_names
        tabular: names of the columns of a CSV / TSV file without a header row.
    delimiter
        tabular: field delimiter of a text file (default: sniffed among , tab ; |).
    encoding
        tabular: text encoding of CSV / TSV files (e.g. latin-1, cp1252).
    """

    def __init__(
        self,
        name: str = "adult",
        root: str | None = None,
        sensitive: list[str] | str | None = None,
        sensitive_as_input: bool = False,
        val_fraction: float = 0.2,
        batch_size: int = 256,
        eval_batch_size: int = 4096,
        split_seed: int = 0,
        options: dict[str, Any] | None = None,
        transfer: list[str] | str | None = None,
        hold_out: list[str] | str | None = None,
        numeric_bins: int = 0,
        path: str | None = None,
        target: str | None = None,
        test: str | None = None,
        test_fraction: float = 0.2,
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
        column_names: list[str] | None = None,
        delimiter: str | None = None,
        encoding: str = "utf-8",
    ) -> None:
        super().__init__()
        if not 0.0 < val_fraction < 0.9:
            raise ConfigError(f"data.val_fraction must be in (0, 0.9), got {val_fraction}")
        if batch_size < 1 or eval_batch_size < 1:
            raise ConfigError("data.batch_size and data.eval_batch_size must be at least 1")
        if not valid_bin_count(numeric_bins):
            raise ConfigError(f"data.numeric_bins must be 0 (no bins) or a whole number of at least 2, got {numeric_bins!r}")
        self.name = name
        self.root = root
        self.sensitive = parse_sensitive(sensitive) if sensitive not in (None, "", []) else []
        self.sensitive_as_input = sensitive_as_input
        self.val_fraction = val_fraction
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.split_seed = split_seed
        self.options = dict(options or {})
        self.transfer = transfer
        self.hold_out = hold_out
        self.numeric_bins = numeric_bins
        self.transfer_tasks: list[TransferTask] = []
        self.table_options: dict[str, Any] = {
            "path": path, "target": target, "test": test, "test_fraction": test_fraction, "config_name": config_name,
            "train_split": train_split, "categorical": categorical, "numeric": numeric, "drop": drop,
            "id_column": id_column, "infer": infer, "max_categories": max_categories, "positive": positive,
            "sensitive_bins": sensitive_bins, "missing_numeric": missing_numeric,
            "missing_categorical": missing_categorical, "na_values": na_values, "recode": recode,
            "column_names": column_names, "delimiter": delimiter, "encoding": encoding,
        }
        self.table: TabularData | None = None
        self.preprocessor: TabularPreprocessor | None = None
        self.spec: DataSpec | None = None
        self.splits: dict[str, Split] = {}
        self.frames: dict[str, pd.DataFrame] = {}
        self.warnings: list[str] = []  # what a run should record in status.json (also logged)

    def load_table(self) -> TabularData:
        """Read the raw tables from the registry and check the configured columns exist."""
        entry = get_dataset(self.name)
        if not self.sensitive and entry.sensitive_choices:  # a named dataset's own default (Adult: sex)
            self.sensitive = [entry.sensitive_choices[0]]
        for attribute in self.sensitive:
            if entry.sensitive_choices and attribute not in entry.sensitive_choices:
                raise ConfigError(
                    f"unknown sensitive attribute '{attribute}' for dataset {self.name}: "
                    f"set data.sensitive to one or more of {', '.join(entry.sensitive_choices)}"
                )
        kwargs = {**self._table_kwargs(entry.loader), **self.options}
        try:
            table = entry.loader(root=self.root, sensitive=self.sensitive, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"data.options {sorted(self.options)} do not fit dataset {self.name}: {exc}") from exc
        if not table.sensitive:
            raise ConfigError(f"data.sensitive is required for {self.name}: name the column(s) the representation must "
                              "not reveal, e.g. --data.sensitive COLUMN or --data.sensitive a,b")
        for column in [table.target, *table.sensitive]:
            if column not in table.train.columns:
                raise DataError(f"column '{column}' is not in the {self.name} data: columns are {list(table.train.columns)}")
        return table

    def _table_kwargs(self, loader: Any) -> dict[str, Any]:
        """The generic-table options this dataset's loader accepts; a set option it does not accept is an error."""
        accepted = _accepted_keywords(loader)
        passed: dict[str, Any] = {}
        if accepted is None or "split_seed" in accepted:
            passed["split_seed"] = self.split_seed
        for key, value in self.table_options.items():
            if accepted is None or key in accepted:
                passed[key] = value
            elif value != TABLE_OPTION_DEFAULTS[key]:
                raise ConfigError(
                    f"data.{key} is an option of generic tables (data.name tabular), not of dataset {self.name}: "
                    f"drop it, or use --config configs/tabular.yaml (or --data.name tabular) to read your own table"
                )
        return passed

    def setup(self, stage: str | None = None) -> None:
        """Load, split and preprocess once; later calls are no-ops."""
        if self.spec is not None:
            return
        table = self.load_table()
        self.table = table
        train_frame, val_frame = self._split_validation(table.train, table.target)
        self.frames = {"train": train_frame, "val": val_frame, "test": table.test.reset_index(drop=True)}
        drop = set() if self.sensitive_as_input else set(table.sensitive)
        drop |= {table.target, table.id_column} - {None}
        plan = plan_transfer(table, self.transfer, self.hold_out)
        drop |= set(plan.removed)
        self.transfer_tasks = plan.tasks
        self.preprocessor = TabularPreprocessor(
            numeric=[c for c in table.numeric if c not in drop],
            categorical=[c for c in table.categorical if c not in drop],
            missing_numeric=None if table.missing_numeric == "error" else table.missing_numeric,
            missing_categorical=None if table.missing_categorical == "error" else table.missing_categorical,
            na_values=list(table.na_values),
            recode={c: m for c, m in table.recode.items() if c not in drop},
            bins=self.numeric_bins,
        ).fit(train_frame)
        target_classes = self._target_classes(table, train_frame)
        sensitive_classes = {
            a: table.class_order(a) or sorted(table.labels(train_frame, a).dropna().unique().tolist()) for a in table.sensitive
        }
        for name, frame in self.frames.items():
            x = torch.from_numpy(self.preprocessor.transform(frame))
            y = torch.from_numpy(_encode_labels(table.labels(frame, table.target), target_classes, table.target, name))
            s = torch.from_numpy(
                np.stack([_encode_labels(table.labels(frame, a), sensitive_classes[a], a, name) for a in table.sensitive], axis=1)
            )
            t = torch.from_numpy(np.stack(
                [transfer_codes(table, frame, task, fit=name == "train") for task in plan.tasks], axis=1
            )) if plan.tasks else None
            self.splits[name] = Split(x, y, s, t)
        train = self.splits["train"]
        self.spec = DataSpec(
            input_dim=self.preprocessor.n_features,
            feature_names=self.preprocessor.feature_names,
            target=table.target,
            target_classes=target_classes,
            target_prior=_prior(train.y.numpy(), len(target_classes)),
            sensitive=list(table.sensitive),
            sensitive_classes=sensitive_classes,
            sensitive_priors={a: _prior(train.s[:, i].numpy(), len(sensitive_classes[a])) for i, a in enumerate(table.sensitive)},
            id_column=table.id_column,
        )
        self._warn_target_proxies(train)
        self._record_notes(table, plan.removed)

    def _warn_target_proxies(self, train: Split) -> None:
        """Warn when a sensitive attribute is a function of the target: then hiding it means hiding the task."""
        y = train.y.numpy()
        for i, attribute in enumerate(self.spec.sensitive):
            s = train.s[:, i].numpy()
            pairs = np.unique(np.stack([y, s], axis=1), axis=0)
            if len(np.unique(pairs[:, 0])) == len(pairs):  # every target value maps to one sensitive value
                message = (f"sensitive attribute '{attribute}' is determined by the target '{self.spec.target}' on the "
                           "training rows: any useful representation reveals it (leakage will equal task accuracy); "
                           "check data.sensitive and data.target")
                log.warning(message)
                self.warnings.append(message)

    def _record_notes(self, table: TabularData, held_out: list[str]) -> None:
        """Split sizes, transfer tasks, and for datasets that declare their columns, the schema (``table.notes["schema"]``)."""
        table.notes["splits"] = {name: len(split) for name, split in self.splits.items()}
        if held_out:
            table.notes["transfer"] = transfer_notes(self.transfer_tasks, held_out)
        table.notes["inputs"] = {
            "numeric": list(self.preprocessor.numeric),
            "categorical": list(self.preprocessor.categorical),
            "features": self.preprocessor.n_features,
            "sensitive_as_input": self.sensitive_as_input,
        }
        if "schema" not in table.notes:
            declared = [
                {"name": c, "role": "sensitive" if c in table.sensitive else "held out" if c in held_out else "input", "kind": kind,
                 "how": f"declared by dataset {table.name}"}
                for kind, columns in (("numeric", table.numeric), ("categorical", table.categorical)) for c in columns
            ]
            declared.append({"name": table.target, "role": "target", "kind": None, "how": f"declared by dataset {table.name}"})
            table.notes["schema"] = {
                "columns": declared,
                "categorical": [c for c in table.categorical if c not in table.sensitive],
                "numeric": [c for c in table.numeric if c not in table.sensitive],
                "dropped": {},
                "id_column": table.id_column,
            }

    def _split_validation(self, frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = np.random.default_rng(self.split_seed)
        val_rows: list[np.ndarray] = []
        for _, rows in frame.groupby(target, sort=True).indices.items():
            rows = rng.permutation(rows)
            val_rows.append(rows[: int(round(len(rows) * self.val_fraction))])
        is_val = np.zeros(len(frame), dtype=bool)
        is_val[np.concatenate(val_rows)] = True
        return frame[~is_val].reset_index(drop=True), frame[is_val].reset_index(drop=True)

    @staticmethod
    def _target_classes(table: TabularData, train_frame: pd.DataFrame) -> list[str]:
        classes = sorted(table.labels(train_frame, table.target).dropna().unique().tolist())
        if len(classes) < 2:
            raise DataError(f"target column '{table.target}' has a single class {classes}: a classifier needs two or more")
        if table.positive_label is not None and table.positive_label in classes and len(classes) == 2:
            classes = [c for c in classes if c != table.positive_label] + [table.positive_label]
        return classes

    def _rank_and_world(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _current_epoch(self) -> int:
        return self.trainer.current_epoch if self.trainer is not None else 0

    def train_dataloader(self) -> IndexBatchLoader:
        rank, world = self._rank_and_world()
        return IndexBatchLoader(
            self.splits["train"].tensors(), self.batch_size, shuffle=True, seed=self.split_seed,
            rank=rank, world_size=world, epoch_fn=self._current_epoch,
        )

    def _eval_loader(self, split: str) -> IndexBatchLoader:
        rank, world = self._rank_and_world()
        return IndexBatchLoader(self.splits[split].tensors(), self.eval_batch_size, rank=rank, world_size=world)

    def val_dataloader(self) -> IndexBatchLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> IndexBatchLoader:
        return self._eval_loader("test")
