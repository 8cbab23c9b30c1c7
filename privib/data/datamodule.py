"""The LightningDataModule: raw tables to in-memory tensors, split, preprocessed, batched."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from privib.data.base import TabularData
from privib.data.loader import IndexBatchLoader
from privib.data.preprocessing import TabularPreprocessor
from privib.data.registry import get_dataset
from privib.errors import ConfigError, DataError


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

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (stored in checkpoints and exports)."""
        return asdict(self)


@dataclass
class Split:
    """One split as tensors: features ``x``, task labels ``y``, sensitive labels ``s`` (rows x attributes)."""

    x: torch.Tensor
    y: torch.Tensor
    s: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x, self.y, self.s


def parse_sensitive(value: list[str] | str) -> list[str]:
    """Accept ``sex``, ``sex,race`` or ``[sex, race]``; return a non-empty list without duplicates."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = list(dict.fromkeys(item.strip() for item in items if item and item.strip()))
    if not names:
        raise ConfigError("data.sensitive is empty: name at least one sensitive column, e.g. --data.sensitive sex")
    return names


def _encode_labels(values: pd.Series, classes: list[str], column: str, split: str) -> np.ndarray:
    codes = pd.Categorical(values.astype(str), categories=classes).codes.astype(np.int64)
    if (codes < 0).any():
        unseen = sorted(set(values.astype(str)[codes < 0]))[:3]
        raise DataError(f"column '{column}' in the {split} split has values never seen in training: {unseen}")
    return codes


def _prior(codes: np.ndarray, n_classes: int) -> list[float]:
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    return (counts / counts.sum()).tolist()


class PrivibDataModule(pl.LightningDataModule):
    """Load a registered dataset, split off a seeded validation set, preprocess, batch.

    Parameters
    ----------
    name: registered dataset name (``privib datasets`` lists them).
    root: folder holding the dataset files; else ``$PRIVIB_DATA_DIR``, the cache, a download.
    sensitive: sensitive attribute(s): one name, a comma-separated string, or a list.
    sensitive_as_input: keep the sensitive columns among the encoder's inputs.
    val_fraction: share of the training file held out for validation (stratified by target).
    batch_size: training batch size.
    eval_batch_size: batch size for validation and test.
    split_seed: seed of the validation split and of the batch order.
    options: extra keyword arguments for the dataset's loader (e.g. a synthetic dataset's parameters).
    """

    def __init__(
        self,
        name: str = "adult",
        root: str | None = None,
        sensitive: list[str] | str = "sex",
        sensitive_as_input: bool = False,
        val_fraction: float = 0.2,
        batch_size: int = 256,
        eval_batch_size: int = 4096,
        split_seed: int = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 < val_fraction < 0.9:
            raise ConfigError(f"data.val_fraction must be in (0, 0.9), got {val_fraction}")
        if batch_size < 1 or eval_batch_size < 1:
            raise ConfigError("data.batch_size and data.eval_batch_size must be at least 1")
        self.name = name
        self.root = root
        self.sensitive = parse_sensitive(sensitive)
        self.sensitive_as_input = sensitive_as_input
        self.val_fraction = val_fraction
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.split_seed = split_seed
        self.options = dict(options or {})
        self.table: TabularData | None = None
        self.preprocessor: TabularPreprocessor | None = None
        self.spec: DataSpec | None = None
        self.splits: dict[str, Split] = {}
        self.frames: dict[str, pd.DataFrame] = {}

    def load_table(self) -> TabularData:
        """Read the raw tables from the registry and check the configured columns exist."""
        entry = get_dataset(self.name)
        for attribute in self.sensitive:
            if entry.sensitive_choices and attribute not in entry.sensitive_choices:
                raise ConfigError(
                    f"unknown sensitive attribute '{attribute}' for dataset {self.name}: "
                    f"set data.sensitive to one or more of {', '.join(entry.sensitive_choices)}"
                )
        try:
            table = entry.loader(root=self.root, sensitive=self.sensitive, **self.options)
        except TypeError as exc:
            raise ConfigError(f"data.options {sorted(self.options)} do not fit dataset {self.name}: {exc}") from exc
        for column in [table.target, *table.sensitive]:
            if column not in table.train.columns:
                raise DataError(f"column '{column}' is not in the {self.name} data: columns are {list(table.train.columns)}")
        return table

    def setup(self, stage: str | None = None) -> None:
        """Load, split and preprocess once; later calls are no-ops."""
        if self.spec is not None:
            return
        table = self.load_table()
        self.table = table
        train_frame, val_frame = self._split_validation(table.train, table.target)
        self.frames = {"train": train_frame, "val": val_frame, "test": table.test.reset_index(drop=True)}
        drop = set() if self.sensitive_as_input else set(table.sensitive)
        self.preprocessor = TabularPreprocessor(
            numeric=[c for c in table.numeric if c not in drop and c != table.target],
            categorical=[c for c in table.categorical if c not in drop and c != table.target],
        ).fit(train_frame)
        target_classes = self._target_classes(table, train_frame)
        sensitive_classes = {a: sorted(train_frame[a].astype(str).unique().tolist()) for a in table.sensitive}
        for name, frame in self.frames.items():
            x = torch.from_numpy(self.preprocessor.transform(frame))
            y = torch.from_numpy(_encode_labels(frame[table.target], target_classes, table.target, name))
            s = torch.from_numpy(
                np.stack([_encode_labels(frame[a], sensitive_classes[a], a, name) for a in table.sensitive], axis=1)
            )
            self.splits[name] = Split(x, y, s)
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
        )

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
        classes = sorted(train_frame[table.target].astype(str).unique().tolist())
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
