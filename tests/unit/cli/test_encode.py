"""`privib encode` from the command line (in-process, through privib.cli.main).

The ``tiny_export`` and ``export_log`` fixtures are in tests/unit/conftest.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import privib
from helpers.exports import make_frame, unique_messages
from privib.cli import main


@pytest.fixture(scope="module")
def raw_csv(tmp_path_factory):
    frame = make_frame(1000, seed=21)
    path = tmp_path_factory.mktemp("raw") / "records.csv"
    frame.to_csv(path, index=False)
    return path, frame


def encode(*args: str) -> int:
    return main(["encode", *map(str, args)])


def test_csv_to_parquet_in_batches_keeps_columns_and_matches_the_api(tiny_export, raw_csv, tmp_path, capsys, export_log):
    path, frame = raw_csv
    out = tmp_path / "z.parquet"
    assert encode(tiny_export[0], path, "-o", out, "--keep", "id", "--batch-size", "300", "--no-progress") == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == str(out)
    assert "encoded 1000 rows" in captured.err and "rows/s" in captured.err
    ignored = unique_messages(export_log, "ignoring")
    assert len(ignored) == 1 and "'label'" in ignored[0] and "'sex'" in ignored[0] and "'id'" not in ignored[0]
    result = pd.read_parquet(out)
    assert list(result.columns) == ["id", "z_0", "z_1", "z_2", "z_3"]
    assert result["id"].tolist() == frame["id"].tolist() and result["z_0"].dtype == np.float32
    expected = privib.load_encoder(tiny_export[0]).encode(frame)
    np.testing.assert_allclose(result[[f"z_{i}" for i in range(4)]].to_numpy(), expected, rtol=0, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["z.parquet"], "temporary files left behind"


def test_parquet_to_csv_and_npy_with_the_onnx_backend(tiny_export, raw_csv, tmp_path):
    _, frame = raw_csv
    source = tmp_path / "records.parquet"
    frame.to_parquet(source)
    expected = privib.load_encoder(tiny_export[0]).encode(frame)
    assert encode(tiny_export[0], source, "-o", tmp_path / "z.csv", "--backend", "onnx", "--batch-size", "128", "--keep", "id,sex") == 0
    as_csv = pd.read_csv(tmp_path / "z.csv")
    assert list(as_csv.columns[:2]) == ["id", "sex"] and len(as_csv) == 1000
    np.testing.assert_allclose(as_csv.iloc[:, 2:].to_numpy(), expected, rtol=0, atol=1e-5)
    assert encode(tiny_export[0], source, "-o", tmp_path / "z.npy", "--batch-size", "333") == 0
    as_npy = np.load(tmp_path / "z.npy")
    assert as_npy.shape == (1000, 4) and as_npy.dtype == np.float32
    np.testing.assert_allclose(as_npy, expected, rtol=0, atol=1e-6)


def test_sample_flag_draws_reproducibly(tiny_export, raw_csv, tmp_path):
    path, _ = raw_csv
    for name in ("a.npy", "b.npy"):
        assert encode(tiny_export[0], path, "-o", tmp_path / name, "--sample", "--seed", "3", "--batch-size", "400") == 0
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - privib.load_encoder(tiny_export[0]).encode(raw_csv[1])).max() > 1e-3


def _write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case, match", [
    ("missing-column", "is missing column(s) ['city']"),
    ("nan-in-second-batch", "rows 300-599: column 'hours' has 1 missing"),
    ("unknown-category-error", "column 'color' has categories never seen in training: ['purple']"),
    ("keep-absent", "--keep column(s) ['ssn'] are not in"),
    ("npy-keep", "a .npy output holds only the codes"),
    ("bad-output-suffix", "must end in .parquet, .csv or .npy"),
    ("missing-input", "not found"),
    ("not-an-export", "is not a privib export folder"),
    ("bad-flag", "unknown option --frobnicate"),
])
def test_bad_input_is_one_line_and_exit_code_2(tiny_export, tmp_path, capsys, case, match):
    frame = make_frame(700, seed=5)
    source, out, extra = _write(tmp_path, frame), tmp_path / "z.parquet", ["--batch-size", "300"]
    export = tiny_export[0]
    if case == "missing-column":
        source = _write(tmp_path, frame.drop(columns=["city"]))
    elif case == "nan-in-second-batch":
        frame.loc[450, "hours"] = np.nan
        source = _write(tmp_path, frame)
    elif case == "unknown-category-error":
        frame.loc[10, "color"] = "purple"
        source = _write(tmp_path, frame)
        extra += ["--unknown-category", "error"]
    elif case == "keep-absent":
        extra += ["--keep", "ssn"]
    elif case == "npy-keep":
        out, extra = tmp_path / "z.npy", extra + ["--keep", "id"]
    elif case == "bad-output-suffix":
        out = tmp_path / "z.xlsx"
    elif case == "missing-input":
        source = tmp_path / "nothing.csv"
    elif case == "not-an-export":
        export = tmp_path
    elif case == "bad-flag":
        extra += ["--frobnicate"]
    capsys.readouterr()
    assert encode(export, source, "-o", out, *extra) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("privib: error:")]
    assert len(err) == 1 and match in err[0], err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
