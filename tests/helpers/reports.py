"""Flat metrics of a whole evaluated run, as metrics.json holds them, for the report and row tests."""
from __future__ import annotations


def report_metrics() -> dict[str, float]:
    m: dict[str, float] = {"task/test/acc": 0.85, "task/test/bacc": 0.77, "task/test/auc": 0.9,
                           "task/probe/logreg/acc": 0.84, "task/probe/acc_max": 0.84,
                           "task/probe/raw/logreg/acc": 0.85, "task/probe/raw_acc_max": 0.85,
                           "fit/best_epoch": 2.0, "fit/epochs": 3.0}  # epochs counted from 1
    for attr, base in (("sex", 0.7), ("race", 0.6)):
        for i, name in enumerate(["logreg", "hgb"]):
            for prefix, shift in (("", 0.0), ("sample/", -0.05), ("raw/", 0.2)):
                m[f"leakage/{attr}/{prefix}{name}/auc"] = base + shift + 0.01 * i
            m[f"leakage/{attr}/{name}/acc"] = 0.7
            m[f"leakage/{attr}/{name}/bacc"] = 0.6
        m.update({f"leakage/{attr}/auc_max": base + 0.01, f"leakage/{attr}/auc_max_lo": base - 0.01,
                  f"leakage/{attr}/auc_max_hi": base + 0.03, f"leakage/{attr}/raw_auc_max": base + 0.21,
                  f"leakage/{attr}/majority": 0.67, f"leakage/{attr}/mi_bits_lb": 0.1,
                  f"fairness/{attr}/dp_gap": 0.1, f"fairness/{attr}/eo_gap": 0.05})
    for family, levels in (("pgd", [0, 0.1, 0.2]), ("noise", [0, 0.5, 1])):
        for j, level in enumerate(levels):
            m[f"robustness/{family}/{level:g}/acc"] = 0.85 - 0.1 * j
            m[f"robustness/{family}/{level:g}/leak_auc"] = 0.7
            m[f"robustness/{family}/{level:g}/leak_auc/sex"] = 0.7
            m[f"robustness/{family}/{level:g}/drift"] = 0.3 * j
        m[f"robustness/{family}/area"] = 0.75
    m.update({"info/epoch": 3.0, "info/rate_bits": 10.0, "info/izy_lb_bits": 0.3, "info/izs_lb_bits/sex": 0.01,
              "info/best/epoch": 2.0, "info/best/rate_bits": 12.0, "info/best/izy_lb_bits": 0.31})
    return m
