"""A certified upper bound on any attacker's leakage from a code with finitely many values (FARE-style).

Most leakage figures are lower bounds: the best of the attackers tried. When the released code
takes one of K values (cells), the best any attacker can do is a property of the K cells alone,
and finite-sample bounds turn an estimate of it into a certificate (Jovanovic et al. 2023, FARE).

For a binary attribute s, with p_k = P(s=0 | cell k), P0 = P(s=0), P1 = P(s=1), alpha = 1 / (2 P0),
beta = 1 / (2 P1), the best balanced accuracy of any attacker (randomized or not) and the best AUC of
any score of the code are::

    BA*  = sum_k P(k) max(alpha p_k, beta (1 - p_k)) = (1 + TV) / 2
    AUC* = 1/2 + E|p_k - p_l| / (4 P0 P1)          (k, l two independent cells)

where TV = E|p_k - P0| / (2 P0 P1) is the total-variation distance between the code distributions of
the two groups. TV bounds the demographic-parity gap of any classifier of the code and TPR - FPR at
every threshold of any score, so AUC <= 1 - (1 - TV)^2 / 2 (<= 1/2 + TV / 2 with 2 cells: the ROC then
has one interior point); and since P0 = E p_l, TV <= E|p_k - p_l| / (2 P0 P1) = 2 (AUC* - 1/2).

Both are bounded with probability ``confidence`` (error e = 1 - confidence) by a union bound:

1. *prior split* (error e/10): a Clopper-Pearson interval on P0, hence upper bounds on alpha, beta
   and 1 / (4 P0 P1);
2. *cell split* (error 8e/10, shared by the cells the code can take): a Clopper-Pearson interval on each
   p_k, hence t_k >= max(alpha p_k, beta (1 - p_k)), capped at max(alpha, beta), and d_kl >= |p_k - p_l|;
3. *mean split* (error e/10, half to each bound), the t_k and d_kl fixed before it is read: a one-sided
   Hoeffding bound on E[t_cell] (FARE's route, for BA* and TV), and Hoeffding's bound for U-statistics
   on E[d] over pairs of rows (for AUC*, and TV through the inequality above). Cells without an
   interval (unseen on the cell split, or not in the budget) are split off and bounded through a
   Clopper-Pearson bound on their total frequency, so an unused cell does not widen a Hoeffding range.

Each figure is the tighter of its routes: the pairwise one wins for few cells (with 2 cells it halves
FARE's TV), FARE's for many.

Validity needs i.i.d. records, a code fixed independently of the cell and mean splits (never trained
or selected on them), the mean split independent of the other two, and each record released once
(the code is deterministic, so a repeat release is the same cell). The prior split may be any i.i.d.
sample, the training rows included: P(s) does not depend on the code. A multi-class attribute is
certified pairwise: every pair of groups (i, j) gets the binary certificate on the records of those two
groups, with error e / #pairs; the largest pairwise TV bounds the DP gap, every one-vs-rest TV and, for C
groups, the balanced accuracy by (1 + (C - 1) TV) / C; a one-vs-rest AUC is a mixture of pairwise AUCs,
so the largest pairwise AUC bound covers it and the macro AUC.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import beta as beta_distribution

from privib.errors import ConfigError

__all__ = [
    "Certificate",
    "auc_bound",
    "cells_from_codes",
    "certify",
    "certify_release",
    "clopper_pearson",
    "empirical_tv",
    "hoeffding_margin",
    "independent_floor",
    "split_rows",
]

# Shares of the error budget: prior split, cell split, mean split (the 0.005 / 0.04 / 0.005 at 95 %).
BUDGET_SHARES = (0.1, 0.8, 0.1)


@dataclass(frozen=True)
class Certificate:
    """Upper bounds that hold together with probability ``confidence`` for any attacker of the code.

    ``ba_ub``: balanced accuracy; ``tv_ub``: total variation between the code distributions of any two
    groups; ``auc_ub``: AUC (one-vs-rest per group, hence also macro); ``dp_ub``: demographic-parity gap of
    any classifier of the code. ``rows``: the sizes of the prior, cell and mean splits used.
    """

    ba_ub: float
    tv_ub: float
    auc_ub: float
    dp_ub: float
    confidence: float
    rows: tuple[int, int, int]
    n_cells: int


def clopper_pearson(successes: ArrayLike, trials: ArrayLike, error: float) -> tuple[NDArray, NDArray]:
    """Two-sided Clopper-Pearson interval ``(low, high)`` of a binomial proportion, each tail ``error / 2``.

    ``trials`` 0 gives the trivial interval [0, 1]. Vectorized over ``successes`` and ``trials``.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, beta_distribution.ppf(error / 2, x, n - x + 1), 0.0)
        high = np.where(x < n, beta_distribution.ppf(1 - error / 2, x + 1, n - x), 1.0)
    return np.nan_to_num(low, nan=0.0), np.nan_to_num(high, nan=1.0)


def _upper_proportion(successes: int, trials: int, error: float) -> float:
    """One-sided Clopper-Pearson upper bound of a proportion at ``error``."""
    return float(clopper_pearson(successes, trials, 2 * error)[1])


def hoeffding_margin(rows: int, width: float, error: float) -> float:
    """One-sided Hoeffding deviation: the mean of ``rows`` i.i.d. values in a range of ``width`` undershoots by more w.p. <= ``error``."""
    if rows <= 0:
        return math.inf
    return width * math.sqrt(math.log(1.0 / error) / (2.0 * rows))


def auc_bound(tv: float, n_cells: int) -> float:
    """The largest AUC of any score of a code whose groups are ``tv`` apart in total variation.

    Every threshold has TPR - FPR <= TV, so the ROC lies under min(1, FPR + TV): AUC <= 1 - (1 - TV)^2 / 2,
    attained with 3 cells. A 2-cell code has one interior ROC point: AUC <= (1 + TV) / 2.
    """
    tv = min(max(float(tv), 0.0), 1.0)
    return 0.5 + tv / 2 if n_cells <= 2 else 1.0 - (1.0 - tv) ** 2 / 2


def cells_from_codes(codes: ArrayLike, n_cells: int | None = None) -> NDArray[np.int64]:
    """Cell ids from integer ids (1-D) or one-hot rows (2-D); ConfigError if the codes are not cells."""
    array = np.asarray(codes)
    if array.ndim == 2:
        if not (np.isin(array, (0, 1)).all() and (array.sum(axis=1) == 1).all()):
            raise ConfigError("the certificate needs a cell code (one-hot rows): release the model with model.release cells")
        ids = array.argmax(axis=1)
    elif array.ndim == 1 and (array.size == 0 or np.equal(np.mod(array, 1), 0).all()):
        ids = array
    else:
        raise ConfigError(f"cell codes must be integer ids or one-hot rows, got an array of shape {array.shape}")
    ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or (n_cells is not None and ids.max() >= n_cells)):
        raise ConfigError(f"cell ids must lie in 0..{(n_cells or 1) - 1}, got {ids.min()}..{ids.max()}")
    return ids


def _pair_bounds(
    prior: tuple[int, int],
    cell_zero: NDArray,
    cell_rows: NDArray,
    mean_rows: NDArray,
    budget_cells: NDArray,
    error: float,
) -> tuple[float, float]:
    """(bound on the TV, bound on the best AUC) of one binary problem, from counts, each the tighter of two routes.

    ``prior``: (rows with s=0, rows) of the prior split; ``cell_zero`` / ``cell_rows``: per cell, rows
    with s=0 and rows on the cell split; ``mean_rows``: rows per cell on the mean split;
    ``budget_cells``: the cells that share the cell split's error (the others are bounded by [0, 1]).
    The mean split's error is shared by the two bounds.
    """
    e_prior, e_cells, e_mean = (share * error for share in BUDGET_SHARES)
    p_low, p_high = (float(v) for v in clopper_pearson(prior[0], prior[1], e_prior))
    if p_low <= 0 or p_high >= 1 or float(mean_rows.sum()) < 2:
        return 1.0, 1.0  # a group absent from a split: nothing certified
    low, high = np.zeros(len(cell_rows)), np.ones(len(cell_rows))
    known = budget_cells & (cell_rows > 0)
    if budget_cells.any():
        low[known], high[known] = clopper_pearson(cell_zero[known], cell_rows[known], e_cells / int(budget_cells.sum()))
    tv = 2.0 * _balanced_accuracy_bound(p_low, p_high, low, high, mean_rows, e_mean / 2) - 1.0
    excess = _auc_excess_from_pairs(p_low, p_high, low, high, known, mean_rows, e_mean / 2)
    tv = min(tv, 2.0 * excess, 1.0)  # TV = E_k|p_k - E_l p_l| / (2 P0 P1) <= 2 (AUC* - 1/2)
    return tv, min(0.5 + excess, auc_bound(tv, len(cell_rows)))


def _balanced_accuracy_bound(p_low: float, p_high: float, low: NDArray, high: NDArray, mean_rows: NDArray,
                             error: float) -> float:
    """BA* <= E[t_cell] with t_k = max(alpha_ub p_k^hi, beta_ub (1 - p_k^lo)) capped, bounded on the mean split."""
    alpha_ub, beta_ub = 1.0 / (2.0 * p_low), 1.0 / (2.0 * (1.0 - p_high))
    cap = max(alpha_ub, beta_ub)
    t = np.minimum(np.maximum(alpha_ub * high, beta_ub * (1.0 - low)), cap)
    capped = t >= cap
    if capped.all():
        return min(cap, 1.0)
    n_mean = float(mean_rows.sum())
    inner = t[~capped]
    top, bottom = float(inner.max()), float(inner.min())
    hoeffding_error = error / 2 if capped.any() else error
    bound = float(np.where(capped, top, t) @ mean_rows) / n_mean + hoeffding_margin(n_mean, top - bottom, hoeffding_error)
    if capped.any():  # the capped cells' frequency, bounded apart from Hoeffding's range
        bound += (cap - top) * _upper_proportion(int(round(mean_rows[capped].sum())), int(round(n_mean)), error / 2)
    return min(bound, 1.0)


def _auc_excess_from_pairs(p_low: float, p_high: float, low: NDArray, high: NDArray, known: NDArray,
                           mean_rows: NDArray, error: float) -> float:
    """A bound on AUC* - 1/2 = E|p_k - p_l| / (4 P(s=0) P(s=1)), k and l two independent cells, from the mean split.

    |p_k - p_l| <= d_kl from the cell intervals (0 when k = l); E[d] is a U-statistic of the mean split's
    pairs of rows, bounded by Hoeffding's inequality for U-statistics; cells without an interval (d up to
    1) are bounded apart, through their total frequency.
    """
    spread = 1.0 / (4.0 * min(p_low * (1.0 - p_low), p_high * (1.0 - p_high)))
    d = np.maximum(0.0, np.maximum(high[:, None] - low[None, :], high[None, :] - low[:, None]))
    np.fill_diagonal(d, 0.0)
    vague = ~known
    d = np.where(vague[:, None] | vague[None, :], 0.0, d)
    n_mean = float(mean_rows.sum())
    hoeffding_error = error / 2 if vague.any() else error
    pairs = float(mean_rows @ d @ mean_rows) / (n_mean * (n_mean - 1.0))
    bound = pairs + float(d.max()) * math.sqrt(math.log(1.0 / hoeffding_error) / (2.0 * math.floor(n_mean / 2)))
    if vague.any():
        bound += 2.0 * _upper_proportion(int(round(mean_rows[vague].sum())), int(round(n_mean)), error / 2)
    return min(spread * bound, 0.5)


def _counts(cells: NDArray, zero: NDArray, n_cells: int) -> tuple[NDArray, NDArray]:
    return np.bincount(cells[zero], minlength=n_cells), np.bincount(cells, minlength=n_cells)


def _check_rows(cells: NDArray, s: NDArray, name: str) -> None:
    if cells.shape[0] != s.shape[0]:
        raise ConfigError(f"the {name} split has {cells.shape[0]} codes but {s.shape[0]} sensitive labels")


def certify(
    s_prior: ArrayLike,
    cells_fit: ArrayLike,
    s_fit: ArrayLike,
    cells_mean: ArrayLike,
    s_mean: ArrayLike,
    *,
    n_cells: int,
    n_classes: int | None = None,
    confidence: float = 0.95,
    budget_cells: Sequence[int] | None = None,
) -> Certificate:
    """The certificate of a cell code from three disjoint splits (see the module docstring).

    ``s_prior``: sensitive labels of the prior split (any i.i.d. sample); ``cells_fit`` / ``s_fit``: cell
    ids and labels of the cell split; ``cells_mean`` / ``s_mean``: those of the mean split. Labels are
    class ids 0..C-1; ``n_classes`` declares C (default: the classes seen; a declared class seen nowhere
    makes every pair with it, and so the certificate, trivial). ``budget_cells``: the cells that share the per-cell error, chosen before the cell
    and mean splits are read (default: all ``n_cells``); other cells are bounded by the cap.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"evaluation.certificate_confidence must lie in (0, 1), got {confidence}")
    if n_cells < 1:
        raise ConfigError(f"a cell code needs at least one cell, got n_cells {n_cells}")
    s_prior = np.asarray(s_prior).astype(np.int64).ravel()
    fit, s_fit_ = cells_from_codes(cells_fit, n_cells), np.asarray(s_fit).astype(np.int64).ravel()
    mean, s_mean_ = cells_from_codes(cells_mean, n_cells), np.asarray(s_mean).astype(np.int64).ravel()
    _check_rows(fit, s_fit_, "cell")
    _check_rows(mean, s_mean_, "mean")
    chosen = np.zeros(n_cells, dtype=bool)
    chosen[list(range(n_cells)) if budget_cells is None else cells_from_codes(np.asarray(list(budget_cells)), n_cells)] = True
    groups = np.arange(n_classes) if n_classes is not None else np.unique(np.concatenate([s_prior, s_fit_, s_mean_]))
    if len(groups) < 2:
        raise ConfigError(f"a certificate needs a sensitive attribute with at least 2 classes, got {len(groups)}")
    pairs = [(i, j) for a, i in enumerate(groups) for j in groups[a + 1 :]]
    error = (1.0 - confidence) / max(len(pairs), 1)
    tv, auc = 0.0, 0.5
    for i, j in pairs:
        prior = s_prior[np.isin(s_prior, (i, j))]
        in_fit, in_mean = np.isin(s_fit_, (i, j)), np.isin(s_mean_, (i, j))
        zero, rows = _counts(fit[in_fit], s_fit_[in_fit] == i, n_cells)
        pair_tv, pair_auc = _pair_bounds((int((prior == i).sum()), len(prior)), zero, rows,
                                         np.bincount(mean[in_mean], minlength=n_cells), chosen, error)
        tv, auc = max(tv, pair_tv), max(auc, pair_auc)
    return _certificate(tv, auc, len(groups), confidence, (len(s_prior), len(fit), len(mean)), n_cells)


def _certificate(tv: float, auc: float, n_groups: int, confidence: float, rows: tuple[int, int, int],
                 n_cells: int) -> Certificate:
    """Every figure from the largest pairwise TV and AUC bounds."""
    tv = min(max(tv, 0.0), 1.0)
    return Certificate(
        ba_ub=min((1.0 + (n_groups - 1) * tv) / n_groups, 1.0), tv_ub=tv, auc_ub=min(max(auc, 0.5), 1.0),
        dp_ub=tv, confidence=confidence, rows=rows, n_cells=n_cells,
    )


def empirical_tv(cells: ArrayLike, s: ArrayLike, n_cells: int) -> float:
    """The plug-in total variation between the groups' cell frequencies (largest over pairs of groups).

    An estimate, not a bound: it is what the certificate bounds from above, up to sampling error.
    """
    ids, labels = cells_from_codes(cells, n_cells), np.asarray(s).astype(np.int64).ravel()
    _check_rows(ids, labels, "given")
    frequencies = [np.bincount(ids[labels == g], minlength=n_cells) / max(int((labels == g).sum()), 1)
                   for g in np.unique(labels)]
    return max((0.5 * float(np.abs(a - b).sum()) for i, a in enumerate(frequencies) for b in frequencies[i + 1 :]),
               default=0.0)


def independent_floor(
    n_prior: int, n_fit: int, n_mean: int, n_cells: int, p_zero: float, confidence: float = 0.95,
    draws: int = 200, seed: int = 0,
) -> Certificate:
    """The mean certificate of a code independent of a binary s with equally used cells, over ``draws`` samples.

    What the certificate reports for a code that leaks nothing: the price of certifying from finitely
    many rows. It shrinks as the splits grow and grows with ``n_cells``. Each draw samples the three
    splits' counts (binomial and multinomial, seeded), as i.i.d. records would give them.
    """
    rng = np.random.default_rng(seed)
    figures = []
    for _ in range(draws):
        rows = rng.multinomial(n_fit, np.full(n_cells, 1.0 / n_cells))
        tv, auc = _pair_bounds((int(rng.binomial(n_prior, p_zero)), n_prior), rng.binomial(rows, p_zero), rows,
                               rng.multinomial(n_mean, np.full(n_cells, 1.0 / n_cells)), np.ones(n_cells, dtype=bool),
                               1.0 - confidence)
        figures.append(_certificate(tv, auc, 2, confidence, (n_prior, n_fit, n_mean), n_cells))
    return Certificate(
        ba_ub=float(np.mean([f.ba_ub for f in figures])), tv_ub=float(np.mean([f.tv_ub for f in figures])),
        auc_ub=float(np.mean([f.auc_ub for f in figures])), dp_ub=float(np.mean([f.dp_ub for f in figures])),
        confidence=confidence, rows=(n_prior, n_fit, n_mean), n_cells=n_cells,
    )


def split_rows(n_rows: int, mean_fraction: float, seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """A seeded random partition of ``range(n_rows)`` into (cell split, mean split), not stratified.

    Not stratified by s on purpose: the per-cell binomial model needs records drawn i.i.d.
    """
    if not 0.0 < mean_fraction < 1.0:
        raise ConfigError(f"evaluation.certificate_mean_fraction must lie in (0, 1), got {mean_fraction}")
    order = np.random.default_rng(seed).permutation(n_rows)
    n_mean = int(round(n_rows * mean_fraction))
    return np.sort(order[n_mean:]), np.sort(order[:n_mean])


def certify_release(
    codes_train: ArrayLike,
    s_train: ArrayLike,
    codes_test: ArrayLike,
    s_test: ArrayLike,
    classes: dict[str, int],
    n_cells: int,
    *,
    confidence: float = 0.95,
    mean_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, float]:
    """The audit's certificate keys for each sensitive attribute of a released cell code.

    Splits: the training rows are the prior split (P(s) does not depend on the code) and choose the cells
    that share the per-cell error (those the training rows reach); the test rows, never used to train or
    select the encoder, are cut by a seeded permutation into the cell split (``1 - mean_fraction``) and the
    mean split. ``classes``: attribute -> number of classes, in the column order of ``s_train`` / ``s_test``.
    Keys: ``leakage/<attr>/certified_{ba,tv,auc}_ub``, ``fairness/<attr>/certified_dp_ub``, the split sizes
    ``leakage/<attr>/certified_rows/{prior,cells,mean}`` and the plug-in ``leakage/<attr>/empirical_tv``.
    """
    from privib.runs import keys

    train, test = cells_from_codes(codes_train, n_cells), cells_from_codes(codes_test, n_cells)
    s_train, s_test = np.asarray(s_train).reshape(len(train), -1), np.asarray(s_test).reshape(len(test), -1)
    fit, mean = split_rows(len(test), mean_fraction, seed)
    budget = np.unique(train).tolist()
    out: dict[str, float] = {}
    for i, (attribute, n_classes) in enumerate(classes.items()):
        cert = certify(s_train[:, i], test[fit], s_test[fit, i], test[mean], s_test[mean, i], n_cells=n_cells,
                       n_classes=n_classes, confidence=confidence, budget_cells=budget)
        figures = {"certified_ba_ub": cert.ba_ub, "certified_tv_ub": cert.tv_ub, "certified_auc_ub": cert.auc_ub,
                   "empirical_tv": empirical_tv(test, s_test[:, i], n_cells)}
        figures.update({f"certified_rows/{name}": float(rows) for name, rows in zip(("prior", "cells", "mean"), cert.rows)})
        out.update({keys.leakage(attribute, name): value for name, value in figures.items()})
        out[keys.fairness(attribute, keys.CERTIFIED_DP)] = cert.dp_ub
    return out
