"""Where the real data sets of the tests are."""
from __future__ import annotations

import os
from pathlib import Path


def adult_dir() -> Path | None:
    """Folder holding adult.data / adult.test (``$PRIVIB_DATA_DIR``), or None."""
    root = os.environ.get("PRIVIB_DATA_DIR")
    if root and any((Path(root) / sub / "adult.data").is_file() for sub in ("adult", ".")):
        return Path(root)
    return None
