"""Tables the generic-tabular tests write themselves (no fixture files are committed)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logging.getLogger("privib.data").setLevel(logging.WARNING)


def people(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Strings and numbers, missing values, a multi-class and a numeric candidate sensitive column, an id.

    ``outcome`` (yes / no) depends on ``hours`` and ``region``; ``age`` is a numeric sensitive
    candidate, ``region`` a 4-class one, ``gender`` a binary one.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    hours = rng.normal(40, 8, n).round(1)
    region = rng.choice(["north", "south", "east", "west"], n)
    logit = 0.08 * (hours - 40) + np.where(region == "north", 0.8, -0.3)
    outcome = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame({
        "person": [f"p{i:05d}" for i in range(n)],
        "age": age,
        "hours": hours,
        "city": rng.choice(["Paris", "Lyon", "Nice"], n),
        "gender": rng.choice(["F", "M"], n),
        "kids": rng.integers(0, 4, n),
        "region": region,
        "outcome": outcome,
    })
    frame["hours"] = frame["hours"].astype(object)
    frame.loc[rng.choice(n, 20, replace=False), "hours"] = np.nan
    frame.loc[rng.choice(n, 15, replace=False), "city"] = None
    return frame


def write(frame: pd.DataFrame, path: Path, **kwargs: Any) -> Path:
    """Write ``frame`` in the format named by ``path``'s suffix."""
    suffixes = "".join(path.suffixes)
    if suffixes.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif suffixes.endswith(".jsonl"):
        frame.to_json(path, orient="records", lines=True)
    elif suffixes.endswith(".tsv"):
        frame.to_csv(path, sep="\t", index=False, **kwargs)
    else:
        frame.to_csv(path, index=False, **kwargs)
    return path


def datamodule(**kwargs: Any):
    """A set-up ``tabular`` datamodule."""
    from privib.data.datamodule import PrivibDataModule

    dm = PrivibDataModule(name="tabular", **kwargs)
    dm.setup()
    return dm
