"""The audit of a representation (a library: arrays, models and options in, flat metrics out).

- :mod:`privib.evaluation.audit`: every figure of a trained encoder, what the ``evaluate`` stage runs.
- :mod:`privib.evaluation.release_audit`: the array part of it, every figure of released codes (an
  encoder's, or a release baseline's).
- :mod:`privib.evaluation.options`: the ``evaluation`` config section and its checks.
- :mod:`privib.evaluation.metrics`: accuracy, AUC (+ bootstrap interval), entropies,
  the I(Z;S) lower bound and group-fairness gaps (fairlearn's argument order).
- :mod:`privib.evaluation.attackers`: scikit-learn classifiers from class_path specs.
- :mod:`privib.evaluation.pool`: the process pool that fits them all, batching compatible MLP fits.
- :mod:`privib.evaluation.torch_mlp`: the battery's MLP, scikit-learn's model trained in torch, several at once.
- :mod:`privib.evaluation.leakage`: fresh attackers on frozen representations.
- :mod:`privib.evaluation.encoder_attack`: the encoder holder (mixture posterior of q(z|x)) and the
  average of k releases, for sampled releases.
- :mod:`privib.evaluation.task_probes`: downstream probes on frozen representations.
- :mod:`privib.evaluation.robustness`: input perturbations and the accuracy-curve area.
- :mod:`privib.evaluation.report`, :mod:`~privib.evaluation.figures`, :mod:`~privib.evaluation.rows`:
  ``report.md``, its PNG figures and the rows of its tables.
"""
