"""A content-addressed cache of evaluation figures that do not depend on the trained encoder.

The raw reference (the attackers and probes fitted on the preprocessed input features) is
the same for every run with the same data, split, evaluation options and seed, yet costs
about as much as the audit of the encoder itself. Its figures are stored once under
``<privib cache dir>/evaluation/`` (``$PRIVIB_CACHE_DIR``, else ``~/.cache/privib``) and
copied into every later run's ``metrics.json``, so each run folder still holds them all.

The key is a sha256 of everything the figures depend on: the bytes, dtypes and shapes of
the input arrays (so a different data file, split or preprocessing is a different key),
the attacker and probe specs, ``n_boot``, the seed, the scikit-learn, numpy and torch versions,
and the source code of the modules that compute the figures. ``PRIVIB_CACHE=0``
turns the cache off (nothing read, nothing written); it also turns off the cache of
``privib run --help`` (:mod:`privib.pipeline.config`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import numpy as np

__all__ = ["CACHE_ENV", "cache_enabled", "cache_key", "read_cached", "write_cached", "evaluation_cache_dir"]

CACHE_ENV = "PRIVIB_CACHE"
FORMAT_VERSION = 1
log = logging.getLogger(__name__)


def cache_enabled() -> bool:
    """False when ``$PRIVIB_CACHE`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def evaluation_cache_dir() -> Path:
    from privib.paths import cache_dir

    return cache_dir() / "evaluation"


def _code_fingerprint() -> str:
    """sha256 of the source of every module that computes cached figures: a code change is a new key."""
    from privib.evaluation import attackers, leakage, metrics, pool, task_probes, torch_mlp

    digest = hashlib.sha256()
    for module in (attackers, leakage, metrics, pool, task_probes, torch_mlp):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def cache_key(kind: str, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> str:
    """A hex sha256 naming the figures of ``kind`` computed from ``arrays`` with ``settings``."""
    import sklearn
    import torch

    digest = hashlib.sha256()
    header = {
        "kind": kind, "format": FORMAT_VERSION, "settings": settings, "sklearn": sklearn.__version__,
        "numpy": np.__version__, "torch": torch.__version__, "code": _code_fingerprint(),
    }
    digest.update(json.dumps(header, sort_keys=True, default=repr).encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"|{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _path(kind: str, key: str) -> Path:
    return evaluation_cache_dir() / f"{kind}-{key}.json"


def read_cached(kind: str, key: str) -> dict[str, float] | None:
    """The stored figures, or None (also when the file is unreadable: it is then recomputed and replaced)."""
    path = _path(kind, key)
    if not cache_enabled() or not path.is_file():
        return None
    try:
        entry = json.loads(path.read_text())
        figures = entry["metrics"]
        if entry.get("key") != key or not isinstance(figures, dict):
            return None
        return {str(k): float(v) for k, v in figures.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cached(kind: str, key: str, figures: Mapping[str, float], about: Mapping[str, Any]) -> None:
    """Store figures atomically; a failure to write only costs the next run the recomputation."""
    if not cache_enabled():
        return
    from privib.io import write_json_atomic

    try:
        write_json_atomic(_path(kind, key), {"key": key, "kind": kind, "about": dict(about), "metrics": dict(figures)})
    except OSError as exc:
        log.warning("could not store the %s in the cache (%s): the next run recomputes it", kind, exc)
