"""The process pool that fits attackers: the same figures whatever the number of processes."""
from __future__ import annotations

import numpy as np
import pytest

from privib.evaluation.attackers import FitPool, build_estimators, fit_one


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_jobs", [2, -1])
def test_pool_results_do_not_depend_on_the_number_of_processes(n_jobs):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 4)), rng.integers(0, 2, 300)
    specs = [{"name": "lr", "class_path": "sklearn.linear_model.LogisticRegression", "standardize": True},
             {"name": "mlp", "class_path": "sklearn.neural_network.MLPClassifier",
              "init_args": {"hidden_layer_sizes": [8], "max_iter": 50}}]
    estimators = build_estimators(specs, 0)
    here = {name: fit_one(est, x, y, x)[1] for name, est in estimators.items()}
    pool = FitPool(n_jobs)
    jobs = {name: pool.submit(est, x, y, x) for name, est in estimators.items()}
    for name, job in jobs.items():
        fitted, proba, seconds = job.result()
        np.testing.assert_array_equal(proba, here[name])
        assert seconds >= 0 and hasattr(fitted, "classes_")
    pool.cancel_pending()


def test_pool_refuses_a_bad_size():
    with pytest.raises(ValueError):
        FitPool(0)
