"""The ``baseline`` section of a run config: which release baseline a run fits, and its knobs."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from privib.errors import ConfigError
from privib.parsing import section_options

__all__ = ["KINDS", "CLASSIFIERS", "OUTPUTS", "BaselineOptions", "baseline_options"]

KINDS = ("predict", "fair_predict", "noise", "lfr", "raw")
CLASSIFIERS = ("lr", "gbm")
OUTPUTS = ("bit", "score")
DEFAULT_ITERATIONS = {"fair_predict": 50, "lfr": 200}


@dataclass
class BaselineOptions:
    """A release baseline: what a run releases instead of a learned encoder's code (``pipelines/baseline.yaml``).

    Every baseline is fitted on the training split only and audited like an encoder's code: the same
    attackers, probes, fairness gaps, downstream protocol and transfer tasks, the same metric keys.

    Args:
        kind: What is released. predict: the prediction of a plain classifier of the task; fair_predict:
            the 1-bit prediction of fairlearn's ExponentiatedGradient under DemographicParity; noise: the
            plain MLP's code, standardized, plus N(0, sigma^2) noise (the post-hoc Gaussian mechanism);
            lfr: fairlearn's PrototypeRepresentationLearner (prototype memberships); raw: the preprocessed
            inputs. null: not a baseline run.
        classifier: The classifier of predict and the base learner of fair_predict: lr (logistic
            regression, standardized inputs) or gbm (histogram gradient boosting).
        output: predict only: bit (the predicted class) or score (the predicted probability).
        eps: fair_predict: ExponentiatedGradient's ``eps`` (since fairlearn 0.5 it only bounds the L1 norm of the
            Lagrange multipliers: 1 / eps; it does not loosen the constraint).
        dp_bound: fair_predict: the demographic-parity difference the constraint allows (DemographicParity's
            ``difference_bound``, default 0.01 as fairlearn's): each group's positive rate may
            differ from the overall rate by this much, so the gap between two groups by up to twice it. The knob that traces the fairness frontier.
        sigma: noise: standard deviation of the Gaussian noise added to each standardized code dimension.
        epochs: noise: training epochs of the plain MLP (the best epoch on the validation split is kept).
        n_prototypes: lfr: number of prototypes, the width of the released code.
        reconstruct_weight: lfr: weight of the reconstruction term (0.01: with fairlearn's default 1.0 the
            reconstruction of Adult's 102 features dominates and the fit collapses to the majority class).
        fairness_weight: lfr: weight of the demographic-parity term of the objective.
        max_iter: Iterations of fair_predict's ExponentiatedGradient (null: 50, fairlearn's default) and of
            lfr's L-BFGS-B (null: 200).
    """

    kind: str | None = None
    classifier: str = "lr"
    output: str = "bit"
    eps: float = 0.01
    dp_bound: float = 0.01
    sigma: float = 1.0
    epochs: int = 20
    n_prototypes: int = 8
    reconstruct_weight: float = 0.01
    fairness_weight: float = 1.0
    max_iter: int | None = None

    def check(self) -> BaselineOptions:
        """Raise a one-line ConfigError naming the first bad value; return self."""
        if self.kind not in KINDS:
            raise ConfigError(f"baseline.kind must be one of {', '.join(KINDS)}, got {self.kind!r}: "
                              "run a baseline with --method predict (or fair_predict, noise, lfr, raw)")
        if self.classifier not in CLASSIFIERS:
            raise ConfigError(f"baseline.classifier must be one of {', '.join(CLASSIFIERS)}, got {self.classifier!r}")
        if self.output not in OUTPUTS:
            raise ConfigError(f"baseline.output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        for name, low in (("eps", 0.0), ("dp_bound", 0.0), ("sigma", 0.0), ("reconstruct_weight", 0.0), ("fairness_weight", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
                raise ConfigError(f"baseline.{name} must be a finite number >= {low:g}, got {value!r}")
        for name, low in (("epochs", 1), ("n_prototypes", 2), ("max_iter", 1)):
            value = getattr(self, name)
            if name == "max_iter" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"baseline.{name} must be an integer >= {low}{' (or null)' * (name == 'max_iter')}, "
                                  f"got {value!r}")
        return self

    def iterations(self) -> int:
        """``max_iter``, or the default of this kind's optimizer."""
        return int(self.max_iter) if self.max_iter is not None else DEFAULT_ITERATIONS.get(str(self.kind), 1)

    def settings(self) -> dict[str, Any]:
        """The options that shape this kind's release (what release.json and the report record)."""
        used = {"predict": ("classifier", "output"), "fair_predict": ("classifier", "eps", "dp_bound", "max_iter"),
                "noise": ("sigma", "epochs"), "lfr": ("n_prototypes", "reconstruct_weight", "fairness_weight", "max_iter"), "raw": ()}
        values = asdict(self)
        values["max_iter"] = self.iterations()
        return {"kind": self.kind, **{name: values[name] for name in used.get(str(self.kind), ())}}


def baseline_options(config: dict[str, Any]) -> BaselineOptions:
    """The checked ``baseline`` section of a resolved config; ConfigError when it is missing or bad."""
    return section_options(config, "baseline", BaselineOptions, " (kind, eps, sigma ...)").check()

