"""Attacker/probe specs: building, defaults, seeding, and one-line ConfigErrors for bad specs."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from privib.errors import ConfigError
from privib.evaluation.attackers import (
    build_estimator,
    build_estimators,
    default_attackers,
    default_probes,
    fit_predict_proba,
    resolve_estimators,
)
from privib.evaluation.torch_mlp import TorchMLPClassifier


def test_default_battery_names_and_types() -> None:
    built = build_estimators(default_attackers(random_state=3))
    assert list(built) == ["logreg", "mlp_64", "mlp_128_64", "hgb"]
    assert all(is_classifier(e) and hasattr(e, "predict_proba") for e in built.values())
    assert isinstance(built["logreg"], Pipeline)
    assert isinstance(built["logreg"][-1], LogisticRegression)
    assert isinstance(built["mlp_128_64"][-1], TorchMLPClassifier)
    assert list(built["mlp_128_64"][-1].hidden_layer_sizes) == [128, 64]
    assert isinstance(built["hgb"], HistGradientBoostingClassifier)
    seeds = [v for e in built.values() for k, v in e.get_params().items() if k.endswith("random_state")]
    assert seeds and all(s == 3 for s in seeds)


def test_default_probes_reuse_the_attacker_specs() -> None:
    assert [s["name"] for s in default_probes()] == ["logreg", "mlp", "hgb"]
    assert set(build_estimators(default_probes())) == {"logreg", "mlp", "hgb"}


def test_name_is_derived_from_the_class() -> None:
    name, est = build_estimator({"class_path": "sklearn.linear_model.LogisticRegression"})
    assert name == "logistic_regression"
    name, _ = build_estimator({"class_path": "sklearn.ensemble.HistGradientBoostingClassifier"})
    assert name == "hist_gradient_boosting_classifier"


def test_unset_random_state_is_filled_but_explicit_one_is_kept() -> None:
    _, est = build_estimator({"class_path": "sklearn.ensemble.RandomForestClassifier",
                              "init_args": {"n_estimators": 5}}, random_state=7)
    assert est.random_state == 7
    _, est = build_estimator({"class_path": "sklearn.ensemble.RandomForestClassifier",
                              "init_args": {"random_state": 1}}, random_state=7)
    assert est.random_state == 1


def test_nested_class_path_builds_a_pipeline() -> None:
    spec = {
        "name": "scaled_lr",
        "class_path": "sklearn.pipeline.Pipeline",
        "init_args": {"steps": [
            ["scale", {"class_path": "sklearn.preprocessing.StandardScaler"}],
            ["clf", {"class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"C": 0.5}}],
        ]},
    }
    name, est = build_estimator(spec)
    assert name == "scaled_lr" and est[-1].C == 0.5
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    out = fit_predict_proba({"p": est}, x, y, x)
    assert out["p"][1].shape == (60, 2)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"class_path": "sklearn.linear_model.NoSuchModel"}, "cannot import"),
        ({"class_path": "nosuchpackage.Model", "name": "ghost"}, "'ghost'.*outside sklearn, privib"),
        ({"class_path": "LogisticRegression"}, "full dotted path"),
        ({"class_path": "sklearn.linear_model.LinearRegression"}, "not a classifier"),
        ({"class_path": "sklearn.svm.SVC"}, "not a classifier with predict_proba"),
        ({"class_path": "sklearn.preprocessing.StandardScaler"}, "not a classifier"),
        ({"class_path": "collections.OrderedDict"}, "outside sklearn, privib"),
        ({"class_path": "sklearn.utils.Bunch"}, "not a scikit-learn estimator"),
        ({"class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"bogus": 1}}, "rejected init_args"),
        ({"class_path": "sklearn.linear_model.LogisticRegression", "params": {}}, "unknown keys"),
        ({"init_args": {}}, "needs a 'class_path'"),
        ({"class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"C": -1.0}}, "invalid init_args"),
        ({"class_path": "sklearn.neural_network.MLPClassifier", "init_args": {"max_iter": "many"}},
         "invalid init_args"),
        ({"class_path": "sklearn.linear_model.LogisticRegression", "name": "a/b"}, "without '/'"),
        ("sklearn.linear_model.LogisticRegression", "must be a mapping"),
    ],
)
def test_bad_specs_raise_one_line_config_errors(spec, match) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        build_estimator(spec)
    assert "\n" not in str(info.value)


def test_duplicate_names_and_empty_lists_raise() -> None:
    spec = {"class_path": "sklearn.linear_model.LogisticRegression"}
    with pytest.raises(ConfigError, match="distinct 'name'"):
        build_estimators([spec, spec])
    with pytest.raises(ConfigError):
        build_estimators([])


def test_resolve_clones_a_mapping_of_estimators() -> None:
    lr = LogisticRegression()
    out = resolve_estimators({"lr": lr})
    assert out["lr"] is not lr and isinstance(out["lr"], LogisticRegression)
    with pytest.raises(ConfigError, match="not a classifier"):
        resolve_estimators({"bad": object()})


def test_parallel_fit_equals_sequential() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 4)), rng.integers(0, 2, 200)
    specs = [
        {"name": "lr", "class_path": "sklearn.linear_model.LogisticRegression"},
        {"name": "tree", "class_path": "sklearn.tree.DecisionTreeClassifier", "init_args": {"max_depth": 3}},
    ]
    seq = fit_predict_proba(build_estimators(specs, 0), x, y, x, n_jobs=1)
    par = fit_predict_proba(build_estimators(specs, 0), x, y, x, n_jobs=2)
    for name in seq:
        np.testing.assert_allclose(seq[name][1], par[name][1])


def test_a_module_named_on_the_command_line_is_imported_only_when_trusted() -> None:
    with pytest.raises(ConfigError, match="'ghost'.*cannot import"):
        build_estimator({"class_path": "nosuchpackage.Model", "name": "ghost"}, trusted=("nosuchpackage",))
    with pytest.raises(ConfigError, match="outside sklearn, privib"):
        build_estimator({"class_path": "nosuchpackage.Model"}, trusted=("nosuchpackage_other",))


@pytest.mark.parametrize("path", ["subprocess.Popen", "os.system", "builtins.eval", "sklearn.utils.parallel.Parallel"])
def test_no_spec_from_a_file_runs_code(path, tmp_path) -> None:
    """The hostile specs of a shared run folder: refused before anything is called, also when nested."""
    marker = tmp_path / "marker"
    payload = {"class_path": path, "init_args": {"args": ["touch", str(marker)]}}
    stacked = {"class_path": "sklearn.ensemble.StackingClassifier",
               "init_args": {"estimators": [["evil", payload]]}}
    for spec in (payload, stacked):
        with pytest.raises(ConfigError):
            build_estimator(spec)
    assert not marker.exists()
