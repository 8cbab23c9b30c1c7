"""Transfer tasks in the data layer: rules and columns, what leaves the inputs, labels per split, bad specs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privib.data.base import TabularData
from privib.data.datamodule import PrivibDataModule
from privib.data.transfer import plan_transfer, target_descriptions, transfer_codes
from privib.errors import ConfigError


def _table(n: int = 60) -> TabularData:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float), "hours": rng.integers(10, 60, n).astype(float),
        "job": rng.choice(["a", "b", "c"], n), "pcg1": rng.integers(0, 3, n), "pcg2": rng.integers(0, 3, n),
        "y": rng.choice(["no", "yes"], n), "s": rng.choice(["f", "m"], n),
    })
    frame.loc[3, "age"] = np.nan
    frame.loc[4, "job"] = None
    return TabularData("toy", frame, frame.copy(), "y", ["s"], ["job"], ["age", "hours", "pcg1", "pcg2"])


def test_rules_and_columns_leave_the_inputs_with_their_held_out_patterns():
    plan = plan_transfer(_table(), ["age >= 40", "job", "pcg1>0"], ["pcg*"])
    assert [(t.name, t.column, t.op, t.value) for t in plan.tasks] == [
        ("age", "age", ">=", "40"), ("job", "job", None, None), ("pcg1", "pcg1", ">", "0")]
    assert plan.removed == ["age", "job", "pcg1", "pcg2"]
    assert plan_transfer(_table(), "age > 50,job == b", None).removed == ["age", "job"]  # comma-separated on a flag


def test_codes_follow_the_rule_and_mark_missing_values():
    table = _table()
    frame = table.train
    numeric, text = plan_transfer(table, ["age >= 40", "job != 'b'"], None).tasks
    column = plan_transfer(table, ["job"], None).tasks[0]
    ages = transfer_codes(table, frame, numeric, fit=True)
    assert numeric.classes == ["no", "yes"] and ages[3] == -1
    known = frame["age"].notna().to_numpy()
    np.testing.assert_array_equal(ages[known], (frame["age"][known] >= 40).astype(int))
    not_b = transfer_codes(table, frame, text, fit=True)
    assert not_b[4] == -1 and (not_b[frame["job"].eq("b").to_numpy()] == 0).all()
    jobs = transfer_codes(table, frame, column, fit=True)
    assert column.classes == ["a", "b", "c"] and jobs[4] == -1
    unseen = frame.assign(job=["z"] * len(frame))
    assert (transfer_codes(table, unseen, column) == -1).all()  # a class never seen in training is left out


@pytest.mark.parametrize("transfer, hold_out, needle", [
    (["height > 2"], None, "'height' is not an input column"),
    (["y"], None, "'y' is not an input column"),  # the target is never a transfer task
    (["s == m"], None, "'s' is not an input column"),  # nor is a sensitive attribute
    (["job > 1"], None, None),  # checked when codes are made (below)
    (["age > 1", "age < 9"], None, "twice"),
    (None, ["zz*"], "matches no input column"),
    ([3], None, "list of strings"),
])
def test_bad_specs_are_one_config_error(transfer, hold_out, needle):
    table = _table()
    if needle is None:
        task = plan_transfer(table, transfer, hold_out).tasks[0]
        with pytest.raises(ConfigError, match="compares a non-numeric column with >"):
            transfer_codes(table, table.train, task, fit=True)
        return
    with pytest.raises(ConfigError, match=needle):
        plan_transfer(table, transfer, hold_out)


def test_a_constant_or_continuous_target_needs_a_rule():
    table = _table()
    with pytest.raises(ConfigError, match="single value"):
        transfer_codes(table, table.train, plan_transfer(table, ["age > 1000"], None).tasks[0], fit=True)
    with pytest.raises(ConfigError, match=r"give a rule such as 'hours > <number>'"):
        transfer_codes(table, table.train, plan_transfer(table, ["hours"], None).tasks[0], fit=True)


def test_descriptions_from_the_config_alone():
    assert target_descriptions(["pcg1 > 0", "workclass == Private", "job"]) == {
        "pcg1": "pcg1 > 0", "workclass": "workclass == Private", "job": "job"}
    assert target_descriptions(None) == {}


def test_datamodule_carries_transfer_labels_and_drops_the_columns():
    dm = PrivibDataModule(name="synthetic", sensitive="s", options={"n_train": 400, "n_test": 200, "seed": 5},
                          transfer=["x2 > 0", "c1"], hold_out=["x3"])
    dm.setup()
    assert [t.name for t in dm.transfer_tasks] == ["x2", "c1"] and dm.transfer_tasks[1].classes == ["a", "b", "c", "d"]
    assert dm.spec.feature_names == ["x0", "x1", "x4", "x5", "c0=a", "c0=b", "c0=c", "c0=d"]
    for split, frame in dm.frames.items():
        t = dm.splits[split].t.numpy()
        assert t.shape == (len(frame), 2)
        np.testing.assert_array_equal(t[:, 0], (frame["x2"] > 0).astype(int))
        np.testing.assert_array_equal(t[:, 1], pd.Index(["a", "b", "c", "d"]).get_indexer(frame["c1"]))
    notes = dm.table.notes["transfer"]
    assert notes["held_out"] == ["x2", "c1", "x3"] and notes["tasks"]["x2"] == {"target": "x2 > 0", "classes": ["no", "yes"]}
    plain = PrivibDataModule(name="synthetic", sensitive="s", options={"n_train": 400, "n_test": 200, "seed": 5})
    plain.setup()
    assert plain.splits["train"].t is None and plain.transfer_tasks == [] and "transfer" not in plain.table.notes
