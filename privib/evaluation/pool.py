"""The pool that fits every attacker and probe of an audit: in this process or in worker processes, batched.

:class:`FitPool` runs independent fits (:func:`fit_one`): a fresh clone of an estimator fitted on
training rows, with its probabilities on test rows. Fits of a classifier that can train several
copies of itself as one model (it has ``batch_key`` and a classmethod ``fit_batch``, as
:class:`~privib.evaluation.torch_mlp.TorchMLPClassifier` does), alone or as the last step of a
``Pipeline``, are grouped when their keys match (same class, parameters but ``random_state``,
earlier pipeline steps, input shape and number of classes) and trained together: the audit's
MLP attackers and MLP probe on the released and the other representation are one or two batched fits.
Grouping depends only on what is submitted, in which order, never on ``n_jobs``, so the figures do not
depend on ``n_jobs`` either.
"""
from __future__ import annotations

import os
import time
from collections.abc import Hashable
from typing import Any

from numpy.typing import NDArray
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

__all__ = ["FitPool", "fit_one", "fit_group", "batch_key"]

Result = tuple[BaseEstimator, NDArray, float]
Member = tuple[BaseEstimator, NDArray, NDArray, NDArray]


def fit_one(
    estimator: BaseEstimator,
    x_train: NDArray,
    y_train: NDArray,
    x_test: NDArray,
    threads_per_job: int | None = 1,
) -> Result:
    """Fit a clone of ``estimator``; return it, its test probabilities and the seconds it took.

    A module-level function so that worker processes can run it (see :class:`FitPool`).
    """
    started = time.perf_counter()
    with threadpool_limits(limits=threads_per_job):
        est = clone(estimator).fit(x_train, y_train)
        proba = est.predict_proba(x_test)
    return est, proba, time.perf_counter() - started


def batch_key(estimator: BaseEstimator, x_train: NDArray, y_train: NDArray) -> Hashable | None:
    """The key under which fits of ``estimator`` on ``(x_train, y_train)`` are trained together, or None."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if not (hasattr(final, "batch_key") and hasattr(type(final), "fit_batch")):
        return None
    steps = estimator.steps[:-1] if isinstance(estimator, Pipeline) else []
    before = tuple((name, type(step).__qualname__, repr(sorted(step.get_params(deep=False).items()))) for name, step in steps)
    return before, final.batch_key(x_train, y_train)


def fit_group(members: list[Member], threads_per_job: int | None = 1) -> list[Result]:
    """Fit a clone of each member's estimator on its own rows, the batchable last steps as one model.

    Earlier pipeline steps (a scaler) are fitted per member; the seconds of the whole group are shared
    equally by its members, so summed per part they still add up to the time spent.
    """
    started = time.perf_counter()
    with threadpool_limits(limits=threads_per_job):
        clones = [clone(est) for est, *_ in members]
        inputs = []
        for est, (_, x_train, _, _) in zip(clones, members):
            inputs.append(est[:-1].fit_transform(x_train) if isinstance(est, Pipeline) else x_train)
        finals = [est.steps[-1][1] if isinstance(est, Pipeline) else est for est in clones]
        type(finals[0]).fit_batch(finals, inputs, [y for _, _, y, _ in members])
        probas = [est.predict_proba(x_test) for est, (_, _, _, x_test) in zip(clones, members)]
    seconds = (time.perf_counter() - started) / len(members)
    return [(est, proba, seconds) for est, proba in zip(clones, probas)]


class FitPool:
    """Run independent :func:`fit_one` jobs, in this process or in ``n_jobs`` worker processes.

    ``submit`` returns a handle whose ``result()`` is ``(fitted estimator, test probabilities,
    seconds)``. With ``n_jobs`` 1 a job runs when its result is first asked for, in this
    process; otherwise jobs start at once, in submission order, on a reusable pool of
    worker processes (joblib's loky backend, the one ``joblib.Parallel`` uses), so this
    process can do other work (the robustness curves) while they run. Batchable jobs (see the
    module docstring) wait in their group until a result is first asked for, then the group runs
    as one job. Every fit is seeded and single-threaded, so results do not depend on ``n_jobs``.
    ``n_jobs`` -1 means one worker per CPU core.
    """

    def __init__(self, n_jobs: int = 1, threads_per_job: int | None = 1) -> None:
        if n_jobs == -1:
            n_jobs = _cpu_count()
        if n_jobs < 1:
            raise ValueError(f"n_jobs must be >= 1 or -1, got {n_jobs}")
        self.n_jobs = n_jobs
        self.threads_per_job = threads_per_job
        self._executor: Any = None
        self._futures: list[Any] = []
        self._groups: dict[Hashable, _Group] = {}
        if n_jobs > 1:
            from joblib.externals.loky import get_reusable_executor

            self._executor = get_reusable_executor(max_workers=n_jobs)

    def submit(self, estimator: BaseEstimator, x_train: NDArray, y_train: NDArray, x_test: NDArray) -> _Job | _GroupJob:
        key = batch_key(estimator, x_train, y_train)
        if key is not None:
            group = self._groups.setdefault(key, _Group(self))
            return group.add((estimator, x_train, y_train, x_test))
        args = (estimator, x_train, y_train, x_test, self.threads_per_job)
        if self._executor is None:
            return _Job(self, args)
        future = self._executor.submit(fit_one, *args)
        self._futures.append(future)
        return _Job(self, args, future)

    def start_groups(self) -> None:
        """Close the open groups: start them on the workers (or mark them to run here); later jobs form new ones."""
        groups, self._groups = list(self._groups.values()), {}
        for group in groups:
            if self._executor is not None:
                group.future = self._executor.submit(fit_group, group.members, self.threads_per_job)
                self._futures.append(group.future)

    def cancel_pending(self) -> None:
        """Cancel the jobs not started yet (after an error, their results are not needed)."""
        self._groups.clear()
        for future in self._futures:
            future.cancel()
        self._futures.clear()


class _Job:
    def __init__(self, pool: FitPool, args: tuple[Any, ...], future: Any = None) -> None:
        self._pool, self._args, self._future, self._result = pool, args, future, None

    def result(self) -> Result:
        if self._result is None:
            self._pool.start_groups()
            self._result = self._future.result() if self._future is not None else fit_one(*self._args)
            self._args = ()  # drop the references to the data
        return self._result


class _Group:
    """Batchable jobs with one key; they run together when the first result of the pool is asked for."""

    def __init__(self, pool: FitPool) -> None:
        self.pool, self.members, self.future = pool, [], None
        self._results: list[Result] | None = None

    def add(self, member: Member) -> _GroupJob:
        self.members.append(member)
        return _GroupJob(self, len(self.members) - 1)

    def results(self) -> list[Result]:
        if self._results is None:
            self.pool.start_groups()
            if self.future is not None:
                self._results = self.future.result()
            else:
                self._results = fit_group(self.members, self.pool.threads_per_job)
            self.members = []  # drop the references to the data
        return self._results


class _GroupJob:
    def __init__(self, group: _Group, index: int) -> None:
        self._group, self._index = group, index

    def result(self) -> Result:
        return self._group.results()[self._index]


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
