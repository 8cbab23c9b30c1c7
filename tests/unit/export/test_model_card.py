"""MODEL_CARD.md: the figures quoted, their intervals, the attackers, and the limitations."""
from __future__ import annotations

from privib.export.model_card import attackers_used, figures_with_intervals, render_model_card

METADATA = {
    "run_name": "adult-x", "z_dim": 8, "input_dim": 102, "encoder_widths": [64], "activation": "relu",
    "deterministic": False, "deterministic_log_var": -1e4, "input_name": "features", "privib_version": "0.1.0",
    "torch_version": "2.13.0", "created": "2026-01-01T00:00:00Z", "config_sha256": "c" * 64, "data_fingerprint": "d" * 64,
    "dataset": "adult", "train_rows": 24129, "target": "income", "sensitive": ["sex"],
    "input_columns": ["age", "workclass"],
}
CONFIG = {
    "data": {"val_fraction": 0.2, "sensitive_as_input": False},
    "model": {"beta": 0.01, "adv_weight": 5.0, "adv_mode": "alternating", "release": "mean"},
    "evaluation": {"attackers": [
        {"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"max_iter": 2000}},
        {"name": "hgb", "class_path": "sklearn.ensemble.HistGradientBoostingClassifier", "init_args": {"random_state": None}},
    ]},
}
AUDITED = {
    "task/test/acc": 0.8312, "task/probe/acc_max": 0.8401, "task/probe/logreg/acc": 0.8401,
    "leakage/sex/auc_max": 0.5612, "leakage/sex/auc_max_lo": 0.5503, "leakage/sex/auc_max_hi": 0.5721,
    "leakage/sex/majority": 0.6738, "leakage/sex/logreg/auc": 0.5402, "leakage/sex/hgb/auc": 0.5612,
    "leakage/sex/sample/hgb/auc": 0.53,
    "robustness/noise/area": 0.801, "robustness/noise/0.5/acc": 0.79,
    "fit/seconds": 12.0, "export/seconds": 2.0,
}
FILES = {"encoder.onnx": {"bytes": 10, "sha256": "e" * 64}}


def card(metrics):
    return render_model_card(METADATA, metrics, CONFIG, FILES, ["onnx"], {"Checkpoint": "best.ckpt"},
                             {"unknown_category": "zeros", "missing": "error"})


def test_intervals_are_merged_into_their_figure():
    rows = dict(figures_with_intervals(AUDITED, "leakage/sex/"))
    assert rows["auc_max"] == "0.5612 [0.5503, 0.5721]"
    assert "auc_max_lo" not in rows and "auc_max_hi" not in rows
    assert attackers_used(AUDITED, "sex") == ["hgb", "logreg"]


def test_card_quotes_figures_attackers_data_and_limitations():
    text = card(AUDITED)
    for expected in (
        "# Model card: adult-x", "## Intended use", "## Out-of-scope uses", "## Training data", "## Limitations",
        "24129 training rows", "`income`", "`sex` (not an input of the encoder)",
        "| `sex` leakage: best attacker AUC on the released z (test) | 0.5612 [0.5503, 0.5721] |",
        "| task accuracy of the trained head (test) | 0.8312 |",
        "| robustness to noise: area under the accuracy-vs-level curve | 0.8010 |",
        "fresh attackers used: hgb, logreg", "`sklearn.ensemble.HistGradientBoostingClassifier`",
        "beta = 0.0100, lambda (adv_weight) = 5", "it is not proven absent", "Checkpoint: best.ckpt",
        "unknown categories `zeros`", "| encoder.onnx | 10 |",
    ):
        assert expected in text, expected
    assert "fit/seconds" not in text and "12.0" not in text  # timings are not model figures


def test_card_says_plainly_when_no_leakage_audit_was_run():
    text = card({"task/test/acc": 0.8})
    assert "No leakage audit was run before this export" in text
    assert "Do not assume the representation hides sex" in text


def test_the_release_text_is_rendered_from_the_exports_own_metadata():
    from privib.models.release import describe_release

    sampled = render_model_card({**METADATA, "release": "sample"}, AUDITED, CONFIG, FILES, ["onnx"], {}, {})
    meaned = render_model_card({**METADATA, "release": "mean"}, AUDITED, CONFIG, FILES, ["onnx"], {}, {})
    assert f"`encode()` returns the released representation (`release` in the metadata): {describe_release('sample')}" in sampled
    assert "here one sample z ~ q(z|x)" in sampled and "averaging releases tends to the mean" in sampled
    assert "here the mean of q(z|x)" in meaned and "one sample z ~ q(z|x)" not in meaned
    assert "repeated releases reveal nothing new" in meaned
