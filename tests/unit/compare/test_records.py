"""Run records as privib compare reads them: flattened configs and the method a run's settings match."""
from __future__ import annotations

from privib.compare.records import flatten_config, infer_method


def test_flatten_and_method_inference():
    flat = flatten_config({"model": {"beta": 0.1, "encoder_widths": [64, 64]}, "seed_everything": 1})
    assert flat == {"model.beta": 0.1, "model.encoder_widths": "[64, 64]", "seed_everything": 1}
    assert infer_method({"method": "cvib", "model": {}}) == "cvib"
    assert infer_method({"model": {"deterministic": True, "adv_weight": 0}}) == "mlp"
    assert infer_method({"model": {"deterministic": True, "adv_weight": 2}}) == "adv"
    assert infer_method({"model": {"deterministic": False, "adv_weight": 0, "recon_weight": 1}}) == "cvib"
    assert infer_method({"model": {"objective": "fcrl", "adv_weight": 0, "beta": 0.5}}) == "fcrl"
    assert infer_method({"model": {"objective": "laftr", "deterministic": True, "adv_weight": 1}}) == "laftr"
    assert infer_method({"model": {"objective": "vib", "release": "cells", "adv_weight": 2, "beta": 0}}) == "cells"
    assert infer_method({"model": {"objective": "vib", "release": "sample", "adv_weight": 2}}) == "vib_adv"
    assert infer_method({"model": {"adv_weight": 1.0}}) == "vib_adv"
    assert infer_method({"model": {"adv_weight": 0.0}}) == "vib"
