"""The audit of a representation (a library: arrays, models and options in, flat metrics out).

- :mod:`privib.evaluation.audit`: every figure of a trained encoder, what the ``evaluate`` stage runs.
- :mod:`privib.evaluation.options`: the ``evaluation`` config section and its checks.
- :mod:`privib.evaluation.metrics`: accuracy, AUC (+ bootstrap interval), entropies,
  the I(Z;S) lower bound and group-fairness gaps (fairlearn's argument order).
- :mod:`privib.evaluation.attackers`: scikit-learn classifiers from class_path specs.
- :mod:`privib.evaluation.leakage`: fresh attackers on frozen representations.
- :mod:`privib.evaluation.task_probes`: downstream probes on frozen representations.
- :mod:`privib.evaluation.robustness`: input perturbations and the accuracy-curve area.
- :mod:`privib.evaluation.report`, :mod:`~privib.evaluation.figures`, :mod:`~privib.evaluation.rows`:
  ``report.md``, its PNG figures and the rows of its tables.
"""
