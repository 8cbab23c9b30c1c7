"""Build and fit the scikit-learn classifiers used as attackers and downstream probes.

A classifier is configured as a spec in LightningCLI style::

    {"class_path": "sklearn.linear_model.LogisticRegression",
     "init_args": {"C": 1.0}, "name": "logreg", "standardize": True}

``name`` is optional (default: the class name in snake case) and becomes a metric key, so
it must not contain ``/``. ``standardize`` (default False) puts a ``StandardScaler`` in
front, in a ``Pipeline``. A mapping with a ``class_path`` inside ``init_args`` (at any
depth, also in lists) is instantiated the same way, so a whole ``Pipeline`` can be spelled
out. Attackers (leakage) and probes (task) share this one spec format and fitting code.

A spec never runs code it was not meant to: run folders and config files are shared, so a
``class_path`` must name a class defined in ``sklearn`` or ``privib`` (or in a module the user
named on the command line, passed as ``trusted``), and a top-level one a scikit-learn estimator
class. Both are checked before anything is imported or called, for nested specs too.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from privib.errors import ConfigError
from privib.evaluation.pool import FitPool, fit_one

__all__ = [
    "EstimatorSpec",
    "default_attackers",
    "default_probes",
    "build_estimator",
    "build_estimators",
    "resolve_estimators",
    "fit_predict_proba",
    "fit_one",
    "FitPool",
    "as_feature_matrix",
    "class_paths",
    "is_trusted_module",
    "SAFE_PACKAGES",
]

EstimatorSpec = Mapping[str, Any]
_SPEC_KEYS = {"class_path", "init_args", "name", "standardize"}
_EXAMPLE = "sklearn.linear_model.LogisticRegression"
# Packages whose classes a spec from a file (a config, a run folder) may name.
SAFE_PACKAGES = ("sklearn", "privib")


def default_attackers(random_state: int = 0) -> list[dict[str, Any]]:
    """The default attacker battery: a linear model, two MLPs and gradient-boosted trees.

    A linear attacker alone is not an audit (linearly decorrelated representations fool
    it while trees recover the attribute), hence the nonlinear members. Sizes are bounded
    so the battery fits on ~24k rows x 16 dims in seconds on two cores. The MLPs are
    :class:`~privib.evaluation.torch_mlp.TorchMLPClassifier`: scikit-learn's ``MLPClassifier``
    model trained in torch, early-stopped on the validation log-loss, with batches of 512 at step
    2e-3 and a patience of 5 epochs; ~3x cheaper than ``MLPClassifier`` with the same widths and at
    least as strong (within 0.01 AUC or above on raw features and on the default's codes; figures in
    docs/performance.md).
    """
    mlp_common = {
        "batch_size": 512,
        "learning_rate_init": 2e-3,
        "max_iter": 200,
        "n_iter_no_change": 5,
        "random_state": random_state,
    }
    return [
        {
            "name": "logreg",
            "class_path": "sklearn.linear_model.LogisticRegression",
            "init_args": {"max_iter": 2000, "random_state": random_state},
            "standardize": True,
        },
        {
            "name": "mlp_64",
            "class_path": "privib.evaluation.torch_mlp.TorchMLPClassifier",
            "init_args": {"hidden_layer_sizes": [64], **mlp_common},
            "standardize": True,
        },
        {
            "name": "mlp_128_64",
            "class_path": "privib.evaluation.torch_mlp.TorchMLPClassifier",
            "init_args": {"hidden_layer_sizes": [128, 64], **mlp_common},
            "standardize": True,
        },
        {
            "name": "hgb",
            "class_path": "sklearn.ensemble.HistGradientBoostingClassifier",
            "init_args": {"random_state": random_state},
        },
    ]


def default_probes(random_state: int = 0) -> list[dict[str, Any]]:
    """The default downstream-task probes: logistic regression, one MLP, gradient boosting."""
    by_name = {spec["name"]: spec for spec in default_attackers(random_state)}
    return [by_name["logreg"], {**by_name["mlp_128_64"], "name": "mlp"}, by_name["hgb"]]


def build_estimator(
    spec: EstimatorSpec, random_state: int | None = None, trusted: Iterable[str] = ()
) -> tuple[str, BaseEstimator]:
    """Instantiate one spec and check it is a probabilistic classifier.

    Any ``random_state`` parameter left at None (also inside a pipeline) is set to
    ``random_state`` so that results are reproducible. ``trusted`` names modules beyond
    :data:`SAFE_PACKAGES` whose classes may be used (those the user named on the command line).
    Raises ConfigError with one line naming the spec and the fix when the spec is malformed,
    names a class outside the trusted modules, the class cannot be imported, the arguments
    are rejected, or the estimator is not a classifier with predict_proba.
    """
    label = _label(spec)
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"estimator spec {label} must be a mapping with a 'class_path' key, "
            f"e.g. {{'class_path': '{_EXAMPLE}'}}"
        )
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ConfigError(
            f"estimator spec {label} has unknown keys {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}"
        )
    class_path = spec.get("class_path")
    if not isinstance(class_path, str) or not class_path:
        raise ConfigError(f"estimator spec {label} needs a 'class_path' string, e.g. '{_EXAMPLE}'")
    trusted = tuple(trusted)
    cls = _import_class(class_path, label, trusted)
    if not issubclass(cls, BaseEstimator):
        raise ConfigError(
            f"estimator spec {label}: {class_path} is not a scikit-learn estimator; "
            f"use a classifier such as {_EXAMPLE}"
        )
    init_args = spec.get("init_args") or {}
    if not isinstance(init_args, Mapping):
        raise ConfigError(f"estimator spec {label}: 'init_args' must be a mapping of keyword arguments")
    try:
        estimator = cls(**{k: _instantiate_nested(v, label, trusted) for k, v in init_args.items()})
    except TypeError as exc:
        raise ConfigError(
            f"estimator spec {label}: {class_path} rejected init_args ({exc}); check the argument names"
        ) from exc
    if not isinstance(estimator, BaseEstimator):
        raise ConfigError(
            f"estimator spec {label}: {class_path} is not a scikit-learn estimator; "
            f"use a classifier such as {_EXAMPLE}"
        )
    _validate_params(estimator, label)
    if spec.get("standardize", False):
        estimator = Pipeline([("scale", StandardScaler()), ("clf", estimator)])
    if not _is_proba_classifier(estimator):
        raise ConfigError(
            f"estimator spec {label}: {class_path} is not a classifier with predict_proba; "
            f"use a probabilistic classifier such as {_EXAMPLE}"
        )
    _fill_random_state(estimator, random_state)
    name = spec.get("name") or _snake(class_path.rsplit(".", 1)[-1])
    if not isinstance(name, str) or "/" in name or not name.strip():
        raise ConfigError(f"estimator spec {label}: name {name!r} must be a non-empty string without '/'")
    return name, estimator


def build_estimators(
    specs: Sequence[EstimatorSpec], random_state: int | None = None, trusted: Iterable[str] = ()
) -> dict[str, BaseEstimator]:
    """Instantiate a list of specs into ``{name: estimator}``; names must be unique (``trusted``: see build_estimator)."""
    if isinstance(specs, Mapping) or not isinstance(specs, Sequence) or len(specs) == 0:
        raise ConfigError("estimator list must be a non-empty list of specs with 'class_path' and 'init_args'")
    out: dict[str, BaseEstimator] = {}
    for spec in specs:
        name, est = build_estimator(spec, random_state, trusted)
        if name in out:
            raise ConfigError(f"two estimator specs are named '{name}'; give each a distinct 'name'")
        out[name] = est
    return out


def resolve_estimators(
    estimators: Sequence[EstimatorSpec] | Mapping[str, BaseEstimator],
    random_state: int | None = None,
    trusted: Iterable[str] = (),
) -> dict[str, BaseEstimator]:
    """Fresh unfitted ``{name: estimator}`` from specs or from a mapping of estimators (cloned).

    In both cases ``random_state`` parameters left at None are set to ``random_state``;
    ``trusted`` is as for :func:`build_estimator`.
    """
    if isinstance(estimators, Mapping):
        if not estimators:
            raise ConfigError("estimator mapping is empty")
        out = {}
        for name, est in estimators.items():
            if not _is_proba_classifier(est):
                raise ConfigError(
                    f"estimator '{name}' is not a classifier with predict_proba; use one such as {_EXAMPLE}"
                )
            out[str(name)] = _fill_random_state(clone(est), random_state)
        return out
    return build_estimators(estimators, random_state, trusted)


def fit_predict_proba(
    estimators: Mapping[str, BaseEstimator],
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_test: ArrayLike,
    n_jobs: int = 1,
    threads_per_job: int | None = 1,
) -> dict[str, tuple[BaseEstimator, NDArray]]:
    """Fit a clone of each estimator on the training data; return it with its test probabilities.

    The estimators are independent, so with ``n_jobs`` > 1 they are fitted in parallel
    processes (see :class:`FitPool`); the default fits them one after the other. BLAS/OpenMP threads
    inside each fit are capped at ``threads_per_job`` (None: library default) because
    the MLPs multiply small matrices, where extra threads only add overhead: on two
    shared cores the default battery took 30-60 s with default threads and 3 s with one.
    """
    xtr, xte, ytr = np.asarray(x_train), np.asarray(x_test), np.asarray(y_train)
    pool = FitPool(n_jobs if len(estimators) > 1 else 1, threads_per_job)
    jobs = {name: pool.submit(est, xtr, ytr, xte) for name, est in estimators.items()}
    return {name: job.result()[:2] for name, job in jobs.items()}


def as_feature_matrix(z: ArrayLike, what: str) -> NDArray:
    """Validate and convert features to a finite, non-empty 2-D float64 array (1-D -> one column)."""
    arr = np.asarray(z, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{what} must be a non-empty 2-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return arr


# --- internals ----------------------------------------------------------------------


def _fill_random_state(estimator: BaseEstimator, random_state: int | None) -> BaseEstimator:
    """Set every ``random_state`` parameter left at None (also nested ones) to ``random_state``."""
    if random_state is not None:
        unset = {k: random_state for k, v in estimator.get_params().items()
                 if (k == "random_state" or k.endswith("__random_state")) and v is None}
        if unset:
            estimator.set_params(**unset)
    return estimator


def _validate_params(estimator: BaseEstimator, label: str) -> None:
    """Check init_args values now (scikit-learn otherwise checks them only at fit time)."""
    parts = [estimator] + [v for v in estimator.get_params(deep=True).values() if isinstance(v, BaseEstimator)]
    for part in parts:
        check = getattr(part, "_validate_params", None)
        if check is None:
            continue
        try:
            check()
        except (ValueError, TypeError) as exc:
            msg = str(exc).replace("\n", " ")
            raise ConfigError(f"estimator spec {label}: invalid init_args ({msg})") from exc


def _is_proba_classifier(est: Any) -> bool:
    if not isinstance(est, BaseEstimator):
        return False
    try:
        return bool(is_classifier(est)) and hasattr(est, "predict_proba")
    except Exception:  # estimators with broken tags are not usable attackers
        return False


def _label(spec: Any) -> str:
    if isinstance(spec, Mapping):
        return repr(spec.get("name") or spec.get("class_path") or dict(spec))
    return repr(spec)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def is_trusted_module(module: str, trusted: Iterable[str] = ()) -> bool:
    """True when ``module`` lies in :data:`SAFE_PACKAGES` or is (inside) one of the ``trusted`` modules."""
    return any(module == root or module.startswith(root + ".") for root in (*SAFE_PACKAGES, *trusted))


def class_paths(value: Any) -> list[str]:
    """Every ``class_path`` string in a spec or list of specs, nested ones included."""
    if isinstance(value, Mapping):
        own = [value["class_path"]] if isinstance(value.get("class_path"), str) else []
        return own + [path for item in value.values() for path in class_paths(item)]
    if isinstance(value, (list, tuple)):
        return [path for item in value for path in class_paths(item)]
    return []


def _import_class(class_path: str, label: str, trusted: Iterable[str] = ()) -> type:
    """The class named by ``class_path``, imported only when its module is trusted, and defined there."""
    module_name, _, attr = class_path.rpartition(".")
    trusted = tuple(trusted)
    if not module_name:
        raise ConfigError(
            f"estimator spec {label}: cannot import class_path '{class_path}'; "
            f"give the full dotted path of an installed classifier, e.g. '{_EXAMPLE}'"
        )
    if not is_trusted_module(module_name, trusted):
        raise ConfigError(
            f"estimator spec {label}: class_path '{class_path}' is outside {', '.join(SAFE_PACKAGES)}: a config file "
            "or run folder may only name scikit-learn or privib classes (opening one must never run other code); "
            "to use another installed classifier, name it yourself on the command line (--evaluation.attackers ...)"
        )
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"estimator spec {label}: cannot import class_path '{class_path}' ({type(exc).__name__}); "
            f"give the full dotted path of an installed classifier, e.g. '{_EXAMPLE}'"
        ) from exc
    if not isinstance(obj, type):
        raise ConfigError(
            f"estimator spec {label}: '{class_path}' is not a class; give a classifier class such as '{_EXAMPLE}'"
        )
    if not is_trusted_module(getattr(obj, "__module__", "") or "", trusted):
        raise ConfigError(
            f"estimator spec {label}: '{class_path}' is {obj.__module__}.{obj.__qualname__}, re-exported from outside "
            f"{', '.join(SAFE_PACKAGES)}: name a class defined there"
        )
    return obj


def _instantiate_nested(value: Any, label: str, trusted: Iterable[str] = ()) -> Any:
    """Instantiate nested ``{"class_path", "init_args"}`` mappings (trusted modules only; no classifier check)."""
    if isinstance(value, Mapping) and "class_path" in value:
        extra = set(value) - {"class_path", "init_args"}
        if extra:
            raise ConfigError(f"estimator spec {label}: nested spec has unknown keys {sorted(extra)}")
        cls = _import_class(str(value["class_path"]), label, trusted)
        if cls.__module__.split(".")[0] == "privib" and not issubclass(cls, BaseEstimator):
            raise ConfigError(f"estimator spec {label}: nested {value['class_path']} is not a scikit-learn estimator")
        args = value.get("init_args") or {}
        if not isinstance(args, Mapping):
            raise ConfigError(f"estimator spec {label}: nested 'init_args' must be a mapping of keyword arguments")
        try:
            return cls(**{k: _instantiate_nested(v, label, trusted) for k, v in args.items()})
        except TypeError as exc:
            raise ConfigError(
                f"estimator spec {label}: {value['class_path']} rejected init_args ({exc})"
            ) from exc
    if isinstance(value, list):
        return [_instantiate_nested(v, label, trusted) for v in value]
    if isinstance(value, tuple):
        return tuple(_instantiate_nested(v, label, trusted) for v in value)
    return value
