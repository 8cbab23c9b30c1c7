"""Held-out leakage on the validation split, for choosing the checkpoint by what a fresh attacker sees.

The training adversary's loss is a weak, gameable signal of leakage: the encoder learns to fool
that one adversary. Here two fresh attackers (logistic regression and gradient boosting) are
fitted each epoch on half of the validation split's released codes and scored on the other half.
"""
from __future__ import annotations

import numpy as np


def holdout_leakage_auc(z: np.ndarray, s: np.ndarray, seed: int = 0) -> float:
    """Worst-case AUC over attributes and the two attackers, fitted on one half of the rows, scored on the other.

    ``s`` holds one column of class indices per sensitive attribute; multi-class attributes
    use macro one-vs-rest AUC.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    order = np.random.default_rng(seed).permutation(len(z))
    fit_rows, score_rows = order[: len(z) // 2], order[len(z) // 2 :]
    worst = 0.5
    with threadpool_limits(1):
        for column in s.T:
            classes = np.unique(column[fit_rows])
            if len(classes) < 2 or len(np.unique(column[score_rows])) < 2:
                continue
            for attacker in (
                make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
                HistGradientBoostingClassifier(max_iter=50, random_state=seed),
            ):
                attacker.fit(z[fit_rows], column[fit_rows])
                scored = np.isin(column[score_rows], attacker.classes_)
                proba = attacker.predict_proba(z[score_rows][scored])
                truth = column[score_rows][scored]
                if len(attacker.classes_) == 2:
                    auc = roc_auc_score(truth, proba[:, 1])
                else:
                    auc = roc_auc_score(truth, proba, multi_class="ovr", average="macro", labels=attacker.classes_)
                worst = max(worst, float(auc))
    return worst


def selection_score(task_acc: float, leak_auc: float, target: float) -> float:
    """``task_acc`` when ``leak_auc <= target``, else ``-leak_auc``: every epoch within the leakage
    target beats every epoch outside it; within it accuracy decides, outside it lower leakage does."""
    return task_acc if leak_auc <= target else -leak_auc
