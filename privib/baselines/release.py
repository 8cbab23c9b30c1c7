"""What every release baseline takes and returns: split arrays in, released codes out.

:class:`BaselineData` holds the preprocessed inputs, task labels and sensitive codes of each split
(``train``, ``val``, ``test``); a baseline fits on ``train`` only (the noise baseline's MLP also
early-stops on ``val``) and returns a :class:`BaselineRelease`: the codes handed downstream for each
split, what a holder of the release alone predicts for the task, and, for a Gaussian release, the
mean and scale it was drawn from (so the audit can attack it as it attacks a sampled encoder).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privib.errors import ConfigError
from privib.io import write_bytes_atomic, write_json_atomic

__all__ = ["SPLITS", "BaselineData", "BaselineRelease", "one_hot", "write_release", "read_release"]

SPLITS = ("train", "val", "test")
CODES_FILE = "codes.npz"
META_FILE = "release.json"


@dataclass(frozen=True)
class BaselineData:
    """Per split: ``x`` (rows x features, float32), ``y`` (task class codes) and ``s`` (rows x attributes)."""

    x: dict[str, NDArray]
    y: dict[str, NDArray]
    s: dict[str, NDArray]
    n_classes: int

    def __post_init__(self) -> None:
        for split in SPLITS:
            if split not in self.x or split not in self.y or split not in self.s:
                raise ValueError(f"baseline data needs x, y and s for the {split} split")
            rows = {len(self.x[split]), len(self.y[split]), len(self.s[split])}
            if len(rows) != 1:
                raise ValueError(f"x, y and s of the {split} split have different numbers of rows: {sorted(rows)}")

    def require_binary(self, kind: str) -> None:
        """ConfigError unless the task has two classes (what ``kind`` is defined for)."""
        if self.n_classes != 2:
            raise ConfigError(f"baseline.kind {kind} needs a binary target, this one has {self.n_classes} classes: "
                              "use baseline.kind predict, noise or raw")

    def groups(self, split: str) -> NDArray:
        """One label per row for the intersection of the sensitive attributes (fairlearn's groups)."""
        s = np.asarray(self.s[split]).reshape(len(self.s[split]), -1)
        return np.array(["/".join(str(int(v)) for v in row) for row in s]) if s.shape[1] > 1 else s[:, 0]


@dataclass
class BaselineRelease:
    """Released codes per split (rows x width, float32) and what the audit may know about them.

    ``head``: task class probabilities on ``val`` and ``test`` that a holder of the release alone computes
    (the released bit itself, the score, the MLP's head on the noisy code, the prototypes' labels);
    None when the release comes with no task model (raw inputs). ``gaussian``: for a release that is one
    draw of N(mean, diag(scale^2)), the ``(mean, scale)`` of each split. ``info``: figures of the fit.
    """

    codes: dict[str, NDArray]
    head: dict[str, NDArray] | None = None
    gaussian: dict[str, tuple[NDArray, NDArray]] | None = None
    info: dict[str, float] = field(default_factory=dict)
    description: str = ""  # in words (privib.models.release.describe_baseline); set by fit_baseline

    @property
    def width(self) -> int:
        return int(self.codes["train"].shape[1])


def one_hot(classes: NDArray, n_classes: int) -> NDArray:
    """Rows of ``n_classes`` probabilities, 1 at each row's class."""
    out = np.zeros((len(classes), n_classes), dtype=np.float32)
    out[np.arange(len(classes)), np.asarray(classes, dtype=np.int64)] = 1.0
    return out


def write_release(folder: Path, release: BaselineRelease, settings: dict[str, Any]) -> None:
    """``folder/codes.npz`` (codes, head, Gaussian) and ``folder/release.json`` (what was released), atomically."""
    arrays: dict[str, NDArray] = {f"code_{s}": release.codes[s] for s in SPLITS}
    arrays.update({f"head_{s}": p for s, p in (release.head or {}).items()})
    for split, (mean, scale) in (release.gaussian or {}).items():
        arrays[f"mean_{split}"], arrays[f"scale_{split}"] = mean, scale
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    folder.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(folder / CODES_FILE, buffer.getvalue())
    write_json_atomic(folder / META_FILE, {
        "settings": settings, "description": release.description, "width": release.width,
        "rows": {s: int(len(release.codes[s])) for s in SPLITS}, "info": release.info,
        "head": release.head is not None, "gaussian": release.gaussian is not None,
    })


def read_release(folder: Path) -> BaselineRelease:
    """The release :func:`write_release` wrote into ``folder``; ConfigError when it is missing or damaged."""
    try:
        meta = json.loads((folder / META_FILE).read_text())
        with np.load(folder / CODES_FILE, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        codes = {s: arrays[f"code_{s}"] for s in SPLITS}
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{folder} holds no readable release ({type(exc).__name__}): run the release stage again") from exc
    head = {s: arrays[f"head_{s}"] for s in ("val", "test") if f"head_{s}" in arrays} if meta.get("head") else None
    gaussian = ({s: (arrays[f"mean_{s}"], arrays[f"scale_{s}"]) for s in SPLITS if f"mean_{s}" in arrays}
                if meta.get("gaussian") else None)
    return BaselineRelease(codes=codes, head=head, gaussian=gaussian, info=dict(meta.get("info") or {}),
                           description=str(meta.get("description", "")))
