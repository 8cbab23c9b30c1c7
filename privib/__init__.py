"""privib: privacy-preserving representation learning (VIB encoders audited by fresh attackers).

``privib.load_encoder(path)`` loads an exported encoder for downstream use; importing
``privib`` itself loads nothing heavy (no torch, Lightning or W&B).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from privib.export.encoder import ExportedEncoder


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("privib")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _version()


def load_encoder(path: str | os.PathLike[str], backend: str = "torch", **options: object) -> ExportedEncoder:
    """Load an exported encoder (``runs/<run>/export``); see :func:`privib.export.encoder.load_encoder`.

    ``backend="torch"`` reads encoder.safetensors, ``backend="onnx"`` runs encoder.onnx
    through onnxruntime. ``encoder.encode(dataframe)`` returns, as a numpy array, what the run
    released and audited (``encoder.release``, from the export's metadata: one sample of q(z|x),
    its mean, or a one-hot cell); neither backend imports Lightning, W&B or privib's training code.
    """
    from privib.export.encoder import load_encoder as _load_encoder

    return _load_encoder(path, backend=backend, **options)  # type: ignore[arg-type]


__all__ = ["__version__", "load_encoder"]
