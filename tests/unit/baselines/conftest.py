"""Split arrays with known dependence between the inputs, the task and the sensitive attribute."""
from __future__ import annotations

import numpy as np
import pytest

from privib.baselines import BaselineData

ROWS = {"train": 3000, "val": 800, "test": 2000}


def make_data(s_in_inputs: bool, seed: int = 0, n_features: int = 6) -> BaselineData:
    """y = [x1 + x2 + noise > 0]. ``s_in_inputs``: s = [x0 > 0] (and y also uses x0, so a task code carries s);
    otherwise s is a fair coin independent of every input and of y."""
    rng = np.random.default_rng(seed)
    x, y, s = {}, {}, {}
    for split, n in ROWS.items():
        features = rng.standard_normal((n, n_features)).astype(np.float32)
        if s_in_inputs:
            s[split] = (features[:, :1] > 0).astype(np.int64)
            logit = 1.5 * features[:, 0] + features[:, 1] + features[:, 2]
        else:
            s[split] = rng.integers(0, 2, (n, 1))
            logit = features[:, 1] + features[:, 2]
        y[split] = (logit + 0.3 * rng.standard_normal(n) > 0).astype(np.int64)
        x[split] = features
    return BaselineData(x=x, y=y, s=s, n_classes=2)


@pytest.fixture(scope="session")
def independent() -> BaselineData:
    return make_data(False)


@pytest.fixture(scope="session")
def leaky() -> BaselineData:
    return make_data(True)
