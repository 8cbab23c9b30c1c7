"""The transfer tasks and the downstream protocol of one audit, fitted on the audit's pool.

:func:`protocol_figures` fits fresh classifiers on the frozen released train-split codes (and,
with ``evaluation.raw_reference``, on the preprocessed inputs, which already lack every held-out
column), scores them on the test split and returns the ``transfer/...`` and ``downstream/...``
keys (see :mod:`privib.runs.keys`). Like the audit's raw reference, the raw figures depend only on
the data, the options and the seed, so they are read from the evaluation cache after their first
computation (:mod:`privib.evaluation.cache`, kind ``raw_protocols``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from privib.evaluation import cache
from privib.evaluation.attackers import as_feature_matrix, resolve_estimators
from privib.evaluation.downstream import downstream_estimators, downstream_figures
from privib.evaluation.options import EvaluationOptions
from privib.evaluation.transfer import labelled_rows, mean_over_tasks, task_figures

__all__ = ["protocol_figures", "raw_names"]

CACHE_KIND = "raw_protocols"


def raw_names(family: str, figures: dict[str, float]) -> dict[str, float]:
    """The keys of figures computed on the raw inputs (``family``: ``transfer/<task>``, ``transfer/mean`` or
    ``downstream``): ``<probe>/acc`` -> ``raw/<probe>/acc``, ``dp_gap/<attr>`` -> ``raw_dp_gap/<attr>``,
    any other ``.../<figure>`` -> ``.../raw_<figure>``; the base rate, the same with or without an encoder, is left out."""
    out = {}
    for key, value in figures.items():
        parts = key.split("/")
        if parts[-1] == "base":
            continue
        if family.startswith("transfer/") and len(parts) == 2 and parts[1] == "acc":
            name = f"raw/{key}"
        elif parts[0] == "dp_gap" and len(parts) == 2:
            name = f"raw_dp_gap/{parts[1]}"
        else:
            name = "/".join([*parts[:-1], "raw_" + parts[-1]])
        out[f"{family}/{name}"] = value
    return out


def _code_digest() -> str:
    from privib.evaluation import downstream, protocols, transfer

    digest = hashlib.sha256()
    for module in (downstream, protocols, transfer):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


class _Jobs:
    """The fits of one representation: per transfer task the probes, and the downstream seeds."""

    def __init__(self, pool: Any, probes: dict[str, Any], downstream: list[Any], x_train: NDArray, x_test: NDArray,
                 y_train: NDArray, t_train: NDArray | None, t_test: NDArray | None, names: list[str]) -> None:
        self.transfer: dict[str, tuple[dict[str, Any], NDArray, NDArray, int]] = {}
        for i, name in enumerate(names):
            train_rows, test_rows = labelled_rows(t_train[:, i]), labelled_rows(t_test[:, i])
            handles = {p: pool.submit(est, x_train[train_rows], t_train[train_rows, i], x_test[test_rows])
                       for p, est in probes.items()}
            self.transfer[name] = (handles, train_rows, test_rows, i)
        self.downstream = [pool.submit(est, x_train, y_train, x_test) for est in downstream]

    def figures(self, timer: Any, raw: bool, y_test: NDArray, s_test: NDArray, attributes: list[str],
                t_train: NDArray | None, t_test: NDArray | None) -> dict[str, float]:
        """Every figure of these fits; ``raw``: keys of the raw-input reference (:func:`raw_names`)."""
        def named(family: str, figures: dict[str, float]) -> dict[str, float]:
            return raw_names(family, figures) if raw else {f"{family}/{k}": v for k, v in figures.items()}

        out: dict[str, float] = {}
        per_task = {}
        for name, (handles, train_rows, test_rows, i) in self.transfer.items():
            results = {p: h.result() for p, h in handles.items()}
            timer.add("raw_reference" if raw else "transfer", sum(seconds for _, _, seconds in results.values()))
            groups = {a: s_test[test_rows, j] for j, a in enumerate(attributes)}
            per_task[name] = task_figures({p: r[:2] for p, r in results.items()}, t_train[train_rows, i],
                                          t_test[test_rows, i], groups)
            out.update(named(f"transfer/{name}", per_task[name]))
        if per_task:
            means = mean_over_tasks(per_task)
            out.update(named("transfer/mean", {k.split("/", 1)[1]: v for k, v in means.items()}))
        if self.downstream:
            results = [h.result() for h in self.downstream]
            timer.add("raw_reference" if raw else "downstream", sum(seconds for _, _, seconds in results))
            groups = {a: s_test[:, j] for j, a in enumerate(attributes)}
            out.update(named("downstream", downstream_figures(y_test, [r[:2] for r in results], groups)))
        return out


def protocol_figures(pool: Any, datamodule: Any, released: tuple[NDArray, NDArray], options: EvaluationOptions,
                     seed: int, trusted: tuple[str, ...], timer: Any) -> dict[str, float]:
    """``transfer/...`` (when ``data.transfer`` names tasks) and ``downstream/...`` (when ``evaluation.downstream``
    is set) of the released codes ``(z_train, z_test)``, with their raw-input references."""
    tasks = list(getattr(datamodule, "transfer_tasks", []) or [])
    if not tasks and not options.downstream:
        return {}
    train, test = datamodule.splits["train"], datamodule.splits["test"]
    attributes = list(datamodule.spec.sensitive)
    y_train, y_test, s_test = train.y.numpy(), test.y.numpy(), test.s.numpy()
    t_train = train.t.numpy() if tasks else None
    t_test = test.t.numpy() if tasks else None
    names = [t.name for t in tasks]

    def jobs(x_train: NDArray, x_test: NDArray) -> _Jobs:
        probes = resolve_estimators(options.probes, seed, trusted) if tasks else {}
        seeds = downstream_estimators(options.downstream, options.downstream_seeds, seed, trusted) if options.downstream else []
        return _Jobs(pool, probes, seeds, as_feature_matrix(x_train, "z_train"), as_feature_matrix(x_test, "z_test"),
                     y_train, t_train, t_test, names)

    encoded = jobs(*released)
    raw, key, raw_jobs = None, None, None
    if options.raw_reference:
        x_train, x_test = train.x.numpy(), test.x.numpy()
        arrays = {"x_train": x_train, "x_test": x_test, "y_train": y_train, "y_test": y_test, "s_test": s_test}
        if tasks:
            arrays.update({"t_train": t_train, "t_test": t_test})
        settings = {"tasks": [t.describe() for t in tasks], "attributes": attributes, "probes": options.probes,
                    "downstream": options.downstream, "seeds": options.downstream_seeds, "seed": seed, "code": _code_digest()}
        key = cache.cache_key(CACHE_KIND, arrays, settings)
        raw = cache.read_cached(CACHE_KIND, key)
        if raw is None:
            raw_jobs = jobs(x_train, x_test)
    out = encoded.figures(timer, False, y_test, s_test, attributes, t_train, t_test)
    if raw_jobs is not None:
        raw = raw_jobs.figures(timer, True, y_test, s_test, attributes, t_train, t_test)
        cache.write_cached(CACHE_KIND, key, raw, {"tasks": names, "rows": [len(y_train), len(y_test)]})
    if raw is not None:
        out.update(raw)
        out["time/evaluate/raw_protocols_cache_hit"] = float(raw_jobs is None)
    return out
