"""Load a trained module from a Lightning checkpoint without unpickling arbitrary objects."""
from __future__ import annotations

from pathlib import Path

import torch

from privib.errors import ConfigError
from privib.training.module import VIBModule


def load_module(path: str | Path) -> VIBModule:
    """Rebuild the ``VIBModule`` stored in ``path`` (loaded with ``weights_only=True``), in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {path} not found: train first with `privib run`, or pass a run folder that holds checkpoints/")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        module = VIBModule(**checkpoint["hyper_parameters"])
        module.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, EOFError, OSError, ValueError) as exc:
        raise ConfigError(f"checkpoint {path} is unreadable or not a privib checkpoint ({type(exc).__name__}): re-run training") from exc
    return module.eval()
