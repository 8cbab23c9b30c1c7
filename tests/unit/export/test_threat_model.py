"""The model card's threat model: the encoder holder, k releases and the noise key, with the run's own figures."""
from __future__ import annotations

from privib.export.model_card import render_model_card
from privib.export.threat_model import threat_model_lines

SAMPLED = {
    "leakage/sex/auc_max": 0.6013, "leakage/sex/auc_max_lo": 0.5914, "leakage/sex/auc_max_hi": 0.61,
    "leakage/sex/logreg/auc": 0.5984, "leakage/sex/encoder_holder/auc": 0.6013,
    "leakage/sex/encoder_holder/acc": 0.674, "leakage/sex/encoder_holder/bacc": 0.5,
    "leakage/sex/mean/auc_max": 0.8957,
    "leakage/sex/k2/auc_max": 0.6146, "leakage/sex/k2/auc_max_lo": 0.6045, "leakage/sex/k2/auc_max_hi": 0.6235,
    "leakage/sex/k8/auc_max": 0.6358, "leakage/sex/k8/auc_max_lo": 0.6269, "leakage/sex/k8/auc_max_hi": 0.6443,
}


def test_a_sampled_release_names_the_holder_the_k_releases_and_what_the_key_does() -> None:
    text = "\n".join(threat_model_lines(SAMPLED, "sample", False))
    for expected in ("## Threat model", "**The encoder holder** (`sex`)", "AUC 0.601, part of the headline maximum (0.601)",
                     "tends to the mean of q(z|x) (AUC 0.896)", "2 releases: 0.615, 8 releases: 0.636",
                     "HMAC-SHA256", "refuses to sample without a key unless `--fresh_noise`",
                     "already has the record", "privib never writes it"):
        assert expected in text, expected


def test_a_release_without_noise_says_that_releasing_again_reveals_nothing_new() -> None:
    text = "\n".join(threat_model_lines({"leakage/sex/auc_max": 0.9}, "mean", False))
    assert "the same on every release of a record" in text and "HMAC" not in text
    assert "one-hot cell" in "\n".join(threat_model_lines({}, "cells", True))
    assert "mean of q(z|x)" in "\n".join(threat_model_lines({}, "sample", True))  # a deterministic encoder


def test_the_model_card_carries_the_new_figures_and_the_threat_model() -> None:
    metadata = {
        "run_name": "adult-x", "z_dim": 8, "input_dim": 102, "encoder_widths": [64], "activation": "relu",
        "deterministic": False, "deterministic_log_var": -1e4, "input_name": "features", "privib_version": "0.1.0",
        "torch_version": "2.13.0", "created": "2026-01-01T00:00:00Z", "config_sha256": "c" * 64,
        "data_fingerprint": "d" * 64, "dataset": "adult", "train_rows": 24129, "target": "income",
        "sensitive": ["sex"], "input_columns": ["age"], "release": "sample",
    }
    text = render_model_card(metadata, SAMPLED, {"model": {"release": "sample"}}, {}, ["onnx"])
    for expected in ("| `sex` leakage: the encoder holder's AUC (in the maximum above) | 0.6013 |",
                     "| `sex` leakage: best attacker AUC on the average of 2 releases of a record | 0.6146 [0.6045, 0.6235] |",
                     "| `sex` leakage: best attacker AUC on the average of 8 releases of a record | 0.6358 [0.6269, 0.6443] |",
                     "fresh attackers used: encoder_holder, logreg", "## Threat model", "key=secret_bytes"):
        assert expected in text, expected
    assert text.index("## Threat model") < text.index("## Limitations")
