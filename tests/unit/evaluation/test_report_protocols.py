"""The report's transfer and downstream-protocol rows: read from metric keys, absent when a run has none."""
from __future__ import annotations

from privib.evaluation.report_protocols import sections, summary_rows

CONFIG = {"data": {"transfer": ["pcg1 > 0", "workclass == Private"]},
          "evaluation": {"downstream": {"class_path": "sklearn.neural_network.MLPClassifier",
                                        "init_args": {"hidden_layer_sizes": [50]}}, "downstream_seeds": 5}}
METRICS = {
    "leakage/age60/auc_max": 0.7, "leakage/age/auc_max": 0.6,
    "transfer/pcg1/base": 0.6, "transfer/pcg1/acc": 0.71, "transfer/pcg1/raw_acc": 0.75, "transfer/pcg1/dp_gap": 0.04,
    "transfer/pcg1/logreg/acc": 0.70, "transfer/pcg1/hgb/acc": 0.71,
    "transfer/workclass/base": 0.73, "transfer/workclass/acc": 0.74, "transfer/workclass/logreg/acc": 0.74,
    "transfer/mean/acc": 0.725, "transfer/mean/base": 0.665, "transfer/mean/raw_acc": 0.76,
    "downstream/acc": 0.801, "downstream/acc_std": 0.002, "downstream/raw_acc": 0.82,
    "downstream/age60/dp_gap": 0.05, "downstream/age60/dp_gap_std": 0.01, "downstream/age60/eo_gap": 0.07,
    "downstream/age60/raw_dp_gap": 0.33,
}


def test_summary_rows_and_sections_show_every_task_and_the_protocol():
    rows = summary_rows(METRICS, CONFIG)
    assert len(rows) == 2
    assert "MLP [50] x 5 seeds" in rows[0] and "0.801 ± 0.002" in rows[0] and "age60 DP 0.050 (raw 0.330)" in rows[0]
    assert "age DP" not in rows[0]  # no protocol gap for age in these metrics
    assert "over 2 held-out task(s)" in rows[1] and "0.725 / 0.665" in rows[1]
    text = "\n".join(sections(METRICS, CONFIG, ["logreg", "mlp", "hgb"]))
    assert "## Transfer tasks" in text and "## Downstream protocol" in text
    assert "| pcg1 | `pcg1 > 0` | 0.600 | **0.710** | 0.750 | 0.040 | – | 0.700 | 0.710 |" in text
    assert "| workclass | `workclass == Private` | 0.730 | **0.740** |" in text
    assert text.index("| pcg1 |") < text.index("| workclass |")
    reversed_config = {**CONFIG, "data": {"transfer": ["workclass == Private", "pcg1 > 0"]}}
    text = "\n".join(sections(METRICS, reversed_config, ["logreg"]))
    assert text.index("| workclass |") < text.index("| pcg1 |")  # the order data.transfer lists them
    assert "| released z | 0.801 ± 0.002 | 0.050 ± 0.010 | 0.070 |" in text
    assert "| raw features (reference) | 0.820 ± – | 0.330 | – |" in text


def test_nothing_without_the_figures():
    plain = {"leakage/sex/auc_max": 0.6, "task/test/acc": 0.8}
    assert summary_rows(plain, {}) == [] and sections(plain, {}, []) == []
