"""Bad input to ``data.name tabular``: one ConfigError / DataError line naming the problem and the fix."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privib.errors import ConfigError, DataError, PrivibError
from helpers.tables import datamodule

N = 200


def _base(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=N), "colour": rng.choice(["red", "blue"], N),
        "s": rng.choice(["u", "v"], N), "income": rng.choice(["lo", "hi"], N),
    })


def _write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def _small_class(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[:2, "s"] = "w"
    return frame


CASES = {
    # name: (file content or None for the base table, options, error type, needles in the message)
    "target misspelled": (None, {"target": "incme"}, ConfigError, ["'incme'", "did you mean 'income'"]),
    "sensitive misspelled": (None, {"sensitive": "S"}, ConfigError, ["data.sensitive", "did you mean 's'"]),
    "categorical misspelled": (None, {"categorical": "color"}, ConfigError, ["did you mean 'colour'"]),
    "target missing": (None, {"target": None}, ConfigError, ["data.target is required", "income"]),
    "sensitive missing": (None, {"sensitive": None}, ConfigError, ["data.sensitive is required"]),
    "one-class target": (lambda f: f.assign(income="lo"), {}, DataError, ["single class", "income"]),
    "one-class sensitive": (lambda f: f.assign(s="u"), {}, DataError, ["sensitive column 's'", "single class"]),
    "class too small": (_small_class, {}, DataError, ["too small", "'w' (3 rows)", "data.recode"]),
    "no rows": (lambda f: f.head(0), {}, DataError, ["no data rows"]),
    "empty file": ("", {}, DataError, ["is empty"]),
    "latin-1 bytes": ("x,colour,s,income\n1,caf\xe9,u,lo\n".encode("latin-1"), {}, DataError,
                      ["not readable as utf-8", "--data.encoding"]),
    "binary file": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, DataError, ["binary file"]),
    "column all missing": (lambda f: f.assign(colour=np.nan), {}, DataError, ["'colour' is all missing", "--data.drop colour"]),
    "target all missing": (lambda f: f.assign(income=np.nan), {}, DataError, ["target column 'income' is all missing"]),
    "continuous target": (lambda f: f.assign(income=f["x"]), {}, DataError, ["distinct values", "threshold or bin"]),
    "target is sensitive": (None, {"sensitive": "income"}, ConfigError, ["also in data.sensitive"]),
    "positive not a class": (None, {"positive": "high"}, ConfigError, ["data.positive 'high'", "['hi', 'lo']"]),
    "numeric column of text": (None, {"numeric": "colour"}, DataError, ["not numbers", "data.categorical"]),
    "bad missing policy": (None, {"missing_numeric": "mean"}, ConfigError, ["data.missing_numeric 'mean'", "impute"]),
    "chained recode": (None, {"recode": {"s": {"u": "v", "v": "w"}}}, ConfigError, ["straight to its final name"]),
    "unknown encoding": (None, {"encoding": "latin-99"}, ConfigError, ["not a known text encoding"]),
    "wrong column_names count": (None, {"column_names": ["a", "b"]}, ConfigError, ["2 names", "4 fields"]),
    "no path": (None, {"path": None}, ConfigError, ["data.path is required"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_line(tmp_path, case):
    content, options, error, needles = CASES[case]
    frame = _base()
    if content is None:
        path = _write(tmp_path, "t.csv", frame)
    elif callable(content):
        path = _write(tmp_path, "t.csv", content(frame))
    else:
        path = _write(tmp_path, "t.csv", content)
    kwargs = {"path": path, "target": "income", "sensitive": "s", **options}
    with pytest.raises(error) as caught:
        datamodule(**kwargs)
    message = str(caught.value)
    assert "\n" not in message and caught.value.exit_code == 2
    for needle in needles:
        assert needle in message, message


def test_missing_file_suggests_its_neighbours(tmp_path):
    _write(tmp_path, "loans.csv", _base())
    with pytest.raises(DataError, match="did you mean .*loans.csv"):
        datamodule(path=str(tmp_path / "laons.csv"), target="income", sensitive="s")


def test_unknown_hugging_face_name_offline_says_how_to_fix(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match="offline") as caught:
        datamodule(path="nobody/no-such-dataset", target="income", sensitive="s")
    assert "\n" not in str(caught.value)


def test_test_file_with_unseen_classes_or_missing_columns(tmp_path):
    train = _write(tmp_path, "train.csv", _base())
    test = _base(1)
    test.loc[:4, "income"] = "mid"
    with pytest.raises(DataError, match=r"classes never seen in training: \['mid'\]"):
        datamodule(path=train, test=_write(tmp_path, "test.csv", test), target="income", sensitive="s")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['s'\]"):
        datamodule(path=train, test=_write(tmp_path, "test2.csv", _base(1).drop(columns="s")), target="income", sensitive="s")


def test_every_error_is_a_privib_error_with_exit_code_2():
    assert issubclass(ConfigError, PrivibError) and issubclass(DataError, PrivibError)
