"""The evaluation section of the run config: defaults recorded in config.yaml, bad values refused in one line."""
from __future__ import annotations

import pytest

from privib.errors import ConfigError
from privib.evaluation.attackers import default_attackers, default_probes
from privib.evaluation.audit import level_key
from privib.evaluation.options import EvaluationOptions, check_evaluation_config, evaluation_options


def test_defaults_are_the_full_battery_seeded_by_the_run() -> None:
    options = EvaluationOptions()
    assert [a["name"] for a in options.attackers] == ["logreg", "mlp_64", "mlp_128_64", "hgb"]
    assert options.attackers == default_attackers(None) and options.probes == default_probes(None)
    assert all(a["init_args"]["random_state"] is None for a in options.attackers)  # null = seed_everything
    assert set(options.robustness) == {"noise", "corruption", "masking", "fgsm", "pgd"}
    assert all(len(levels) <= 4 and levels[0] == 0.0 for levels in options.robustness.values())
    assert options.attack_both and options.raw_reference and options.n_boot >= 200


def test_run_parser_records_the_section_and_accepts_overrides() -> None:
    from privib.pipeline.config import parse_run_config

    _, config = parse_run_config(["--evaluation.n_boot", "50", "--evaluation.robustness", '{"noise": [0, 0.5]}'])
    assert config["evaluation"]["n_boot"] == 50
    assert config["evaluation"]["robustness"] == {"noise": [0.0, 0.5]}
    assert [a["name"] for a in config["evaluation"]["attackers"]][-1] == "hgb"
    assert check_evaluation_config(config).n_boot == 50


def test_missing_section_means_defaults() -> None:
    assert evaluation_options({}) == EvaluationOptions()
    assert check_evaluation_config({"evaluation": None}) == EvaluationOptions()


@pytest.mark.parametrize(
    "section, message",
    [
        ({"attackers": [{"class_path": "sklearn.linear_model.NoSuchModel"}]}, "evaluation.attackers: .*cannot import"),
        ({"attackers": [{"class_path": "sklearn.linear_model.LinearRegression"}]}, "not a classifier"),
        ({"attackers": [{"class_path": "sklearn.svm.SVC"}]}, "predict_proba"),  # SVC exposes it only with probability=True
        ({"probes": [{"class_path": "sklearn.cluster.KMeans"}]}, "evaluation.probes: .*not a classifier"),
        ({"attackers": []}, "non-empty list"),
        ({"robustness": {"masking": [0.0, 1.5]}}, "evaluation.robustness: .*rate and must be in \\[0, 1\\]"),
        ({"robustness": {"pgd": [-0.1]}}, "must be a finite number >= 0"),
        ({"robustness": {"blur": [0.1]}}, "unknown robustness family 'blur'"),
        ({"n_boot": 0}, "evaluation.n_boot must be an integer >= 1"),
        ({"k_samples": 0}, "evaluation.k_samples"),
        ({"pgd_step_size": -1.0}, "pgd_step_size"),
        ({"attackerz": []}, "unknown evaluation option"),
    ],
)
def test_bad_sections_raise_one_line_config_errors(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        check_evaluation_config({"evaluation": section})
    assert "\n" not in str(info.value)


def test_empty_robustness_is_allowed_and_level_keys_are_short() -> None:
    assert check_evaluation_config({"evaluation": {"robustness": {}}}).robustness == {}
    assert [level_key(v) for v in (0, 0.05, 1.0, 0.25)] == ["0", "0.05", "1", "0.25"]


def test_a_battery_without_a_tree_model_or_an_mlp_is_flagged() -> None:
    from privib.evaluation.options import battery_warnings

    assert battery_warnings(EvaluationOptions().attackers) == []
    forest_only = battery_warnings([{"class_path": "sklearn.ensemble.RandomForestClassifier"}])
    assert len(forest_only) == 1 and "no MLP" in forest_only[0]
    linear = battery_warnings([{"class_path": "sklearn.linear_model.LogisticRegression"}])
    assert len(linear) == 2 and "no tree model" in linear[0]
