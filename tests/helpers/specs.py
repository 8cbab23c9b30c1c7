"""The data spec (``DataSpec.to_dict()``) of a synthetic table, for module tests that need no datamodule."""
from __future__ import annotations

from typing import Any


def synthetic_spec(sensitive_priors: dict[str, list[float]], input_dim: int = 6) -> dict[str, Any]:
    """A binary task ``y`` read from ``input_dim`` features ``f0...``; one sensitive attribute per entry of
    ``sensitive_priors`` (its class priors), its classes named ``c0, c1, ...``."""
    return {
        "input_dim": input_dim,
        "feature_names": [f"f{i}" for i in range(input_dim)],
        "target": "y",
        "target_classes": ["0", "1"],
        "target_prior": [0.5, 0.5],
        "sensitive": list(sensitive_priors),
        "sensitive_classes": {a: [f"c{k}" for k in range(len(p))] for a, p in sensitive_priors.items()},
        "sensitive_priors": dict(sensitive_priors),
    }
