"""A generated table whose dependence between s, the inputs and y is set by parameters.

It is the benchmark with known answers that calibrates the audit: with ``leakage="none"``
no attacker can beat chance (AUC 0.5), with ``leakage="xor"`` the attribute is a
nonlinear function of two inputs that a linear attacker cannot see (AUC 0.5) and any
nonlinear one can (AUC near 1 - ``flip``).

Columns: numeric ``x0 .. x{n_numeric-1}`` (standard normal), categorical ``c0 ..
c{n_categorical-1}`` (uniform over ``n_categories`` letters), the sensitive attribute
``s`` ("0"/"1") and the target ``y`` ("0"/"1", positive "1").

- ``leakage="none"``: s is a fair coin (probability ``s_rate`` of "1"), independent of
  every input and, with ``target_on_s=0``, of y.
- ``leakage="linear"``: s = [x0 > 0].
- ``leakage="xor"``: s = [x0 > 0] xor [x1 > 0].

then each s is flipped with probability ``flip`` (the best possible attacker's accuracy
is 1 - flip). The target is y = [x_2 + ... + x_{k} - [c0 == "a"] + target_on_s * (2s - 1)
+ target_noise * N(0, 1) > 0], so by default y uses neither x0 nor x1: an encoder can keep
the task while dropping s.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from privib.data.base import TabularData
from privib.errors import ConfigError

LEAKAGES = ("none", "linear", "xor")
SENSITIVE = "s"
TARGET = "y"


def load_synthetic(
    root: str | None = None,
    sensitive: list[str] | None = None,
    n_train: int = 8000,
    n_test: int = 4000,
    n_numeric: int = 6,
    n_categorical: int = 2,
    n_categories: int = 4,
    leakage: str = "none",
    flip: float = 0.0,
    s_rate: float = 0.5,
    target_on_s: float = 0.0,
    target_noise: float = 0.5,
    seed: int = 0,
) -> TabularData:
    """Generate the train and test tables (``root`` is ignored: nothing is read from disk).

    Parameters
    ----------
    n_train, n_test: rows of the training file (validation is split from it) and of the test file.
    n_numeric: standard-normal numeric columns (at least 3: x0, x1 carry s, the rest y).
    n_categorical, n_categories: uniform categorical columns and their number of values.
    leakage: ``none``, ``linear`` or ``xor`` (see the module docstring).
    flip: probability of flipping s after it is computed, in [0, 0.5].
    s_rate: P(s = 1) when ``leakage="none"``, in (0, 1).
    target_on_s: direct effect of s on y's logit (0: y depends on s only through the inputs).
    target_noise: standard deviation of the noise in y's logit.
    seed: seed of the generator (train and test come from one stream).
    """
    if sensitive is not None and list(sensitive) != [SENSITIVE]:
        raise ConfigError(f"the synthetic dataset has one sensitive attribute 's': set data.sensitive to s, not {sensitive}")
    if leakage not in LEAKAGES:
        raise ConfigError(f"data.options.leakage must be one of {', '.join(LEAKAGES)}, got '{leakage}'")
    if n_train < 50 or n_test < 50:
        raise ConfigError(f"data.options n_train and n_test must be at least 50, got {n_train} and {n_test}")
    if n_numeric < 3:
        raise ConfigError(f"data.options.n_numeric must be at least 3 (x0 and x1 carry s, the rest y), got {n_numeric}")
    if n_categorical < 0 or (n_categorical > 0 and not 2 <= n_categories <= 26):
        raise ConfigError("data.options.n_categorical must be >= 0 and n_categories in [2, 26]")
    if not 0.0 <= flip <= 0.5:
        raise ConfigError(f"data.options.flip must be in [0, 0.5], got {flip}")
    if not 0.0 < s_rate < 1.0:
        raise ConfigError(f"data.options.s_rate must be in (0, 1), got {s_rate}")
    if target_noise < 0:
        raise ConfigError(f"data.options.target_noise must be >= 0, got {target_noise}")

    rng = np.random.default_rng(seed)
    n = n_train + n_test
    x = rng.standard_normal((n, n_numeric))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz")[:n_categories])
    cats = [letters[rng.integers(0, n_categories, n)] for _ in range(n_categorical)]
    if leakage == "none":
        s = rng.random(n) < s_rate
    elif leakage == "linear":
        s = x[:, 0] > 0
    else:
        s = (x[:, 0] > 0) ^ (x[:, 1] > 0)
    s = s ^ (rng.random(n) < flip)
    logit = x[:, 2:].sum(axis=1) / np.sqrt(n_numeric - 2)
    if n_categorical:
        logit = logit - (cats[0] == "a")
    logit = logit + target_on_s * (2 * s - 1) + target_noise * rng.standard_normal(n)
    y = logit > 0

    frame = pd.DataFrame({f"x{j}": x[:, j] for j in range(n_numeric)})
    for j, column in enumerate(cats):
        frame[f"c{j}"] = column
    frame[SENSITIVE] = np.where(s, "1", "0")
    frame[TARGET] = np.where(y, "1", "0")
    return TabularData(
        name="synthetic",
        train=frame.iloc[:n_train].reset_index(drop=True),
        test=frame.iloc[n_train:].reset_index(drop=True),
        target=TARGET,
        sensitive=[SENSITIVE],
        categorical=[f"c{j}" for j in range(n_categorical)],
        numeric=[f"x{j}" for j in range(n_numeric)],
        positive_label="1",
        notes={"leakage": leakage, "flip": flip, "target_on_s": target_on_s, "seed": seed},
    )
