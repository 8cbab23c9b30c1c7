"""A small Heritage Health table with the published columns, written by hand, and where the real one is."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

SUMMARIES = [
    "no_Claims", "no_Providers", "no_Vendors", "no_PCPs", "no_PlaceSvcs", "no_Specialities", "no_PrimaryConditionGroups",
    "no_ProcedureGroups", "PayDelay_max", "PayDelay_min", "PayDelay_ave", "PayDelay_stdev", "LOS_max", "LOS_min", "LOS_ave",
    "LOS_stdev", "LOS_TOT_UNKNOWN", "LOS_TOT_SUPRESSED", "LOS_TOT_KNOWN", "dsfs_max", "dsfs_min", "dsfs_range", "dsfs_ave",
    "dsfs_stdev",
]
CHARLSON = ["CharlsonIndexI_max", "CharlsonIndexI_min", "CharlsonIndexI_ave", "CharlsonIndexI_range", "CharlsonIndexI_stdev"]
COUNTS = ([f"pcg{i}" for i in range(1, 47)] + [f"sp{i}" for i in range(1, 14)] + [f"pg{i}" for i in range(1, 19)]
          + [f"ps{i}" for i in range(1, 10)])
DRUGS_LABS = ["drugCount_max", "drugCount_min", "drugCount_ave", "drugcount_months", "labCount_max", "labCount_min",
              "labCount_ave", "labcount_months", "labNull", "drugNull"]
AGES = [f"age_{d}5" for d in range(9)]


def health_table(rows_per_year: int = 400, seed: int = 0) -> pd.DataFrame:
    """Y1, Y2 and Y3 rows with the columns and order of FCRL's health.csv (DaysInHospital included).

    Planted: ``CharlsonIndexI_max > 0`` exactly when ``drugCount_max > 2``; ``pcg1 > 0`` exactly when
    ``no_Claims > 5`` (an input the encoder keeps); ``pcg2`` is independent of everything; the age
    group is uniform over the nine decades, and one Y1 row has no age group (``age_MISS``).
    """
    rng = np.random.default_rng(seed)
    n = 3 * rows_per_year
    frame = pd.DataFrame({"MemberID_t": np.arange(n) + 1000, "YEAR_t": np.repeat(["Y1", "Y2", "Y3"], rows_per_year),
                          "ClaimsTruncated": rng.integers(0, 2, n), "trainset": rng.integers(0, 2, n)})
    group = rng.integers(0, 9, n)
    ages = pd.DataFrame({c: (group == i).astype(int) for i, c in enumerate(AGES)})
    ages["age_MISS"] = 0
    ages.loc[0, AGES], ages.loc[0, "age_MISS"] = 0, 1
    male = rng.integers(0, 2, n)
    sex = pd.DataFrame({"sexMALE": male, "sexFEMALE": 1 - male, "sexMISS": 0})
    summaries = pd.DataFrame({c: rng.integers(0, 10, n) for c in SUMMARIES})
    drugs = pd.DataFrame({c: rng.integers(0, 6, n) for c in DRUGS_LABS})
    charlson = pd.DataFrame({c: np.where(drugs["drugCount_max"] > 2, rng.integers(1, 5, n), 0) for c in CHARLSON})
    counts = pd.DataFrame({c: rng.integers(0, 3, n) for c in COUNTS})
    counts["pcg1"] = np.where(summaries["no_Claims"] > 5, 1 + rng.integers(0, 3, n), 0)
    counts["pcg2"] = rng.integers(0, 2, n)
    frame = pd.concat([frame, ages, sex, summaries, charlson, counts, drugs], axis=1)
    frame["DaysInHospital"] = rng.integers(0, 3, n)
    return frame


def write_health_csv(folder: Path, rows_per_year: int = 400, seed: int = 0) -> Path:
    """``folder/health.csv`` (FCRL's copy: no checksum, its columns are checked)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "health.csv"
    health_table(rows_per_year, seed).to_csv(path, index=False)
    return path


def health_dir() -> Path | None:
    """Folder holding health/health.csv.zip (``$PRIVIB_DATA_DIR``), or None."""
    root = os.environ.get("PRIVIB_DATA_DIR")
    if root and any((Path(root) / sub / "health.csv.zip").is_file() for sub in ("health", ".")):
        return Path(root)
    return None
