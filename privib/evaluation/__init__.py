"""Evaluation stage: pure metric, attacker, probe and perturbation functions.

- :mod:`privib.evaluation.metrics`: accuracy, AUC (+ bootstrap interval), entropies,
  the I(Z;S) lower bound and group-fairness gaps.
- :mod:`privib.evaluation.attackers`: scikit-learn classifiers from class_path specs.
- :mod:`privib.evaluation.leakage`: fresh attackers on frozen representations.
- :mod:`privib.evaluation.task_probes`: downstream probes on frozen representations.
- :mod:`privib.evaluation.robustness`: input perturbations and the accuracy-curve area.
"""
