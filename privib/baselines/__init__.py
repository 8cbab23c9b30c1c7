"""Release baselines (a library: split arrays in, released codes out; no pipeline, no CLI).

What a run can release instead of a learned encoder's code, audited with the same figures so that
``privib compare`` puts them beside any method:

- ``predict`` (:mod:`privib.baselines.predict`): a plain classifier's prediction, its class or its score;
- ``fair_predict``: the 1-bit prediction of fairlearn's ExponentiatedGradient under DemographicParity;
- ``noise`` (:mod:`privib.baselines.noise`): the plain MLP's standardized code plus Gaussian noise;
- ``lfr`` (:mod:`privib.baselines.lfr`): fairlearn's PrototypeRepresentationLearner;
- ``raw``: the preprocessed inputs.

:mod:`privib.baselines.options` holds the ``baseline`` config section, :mod:`privib.baselines.release` the
arrays in and out (and their files), :func:`privib.baselines.fit.fit_baseline` the dispatch.
"""
from privib.baselines.fit import Architecture, fit_baseline
from privib.baselines.options import KINDS, BaselineOptions, baseline_options
from privib.baselines.release import BaselineData, BaselineRelease, read_release, write_release

__all__ = ["KINDS", "Architecture", "BaselineData", "BaselineOptions", "BaselineRelease", "baseline_options",
           "fit_baseline", "read_release", "write_release"]
