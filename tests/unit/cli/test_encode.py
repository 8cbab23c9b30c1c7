"""`privib encode` from the command line (in-process, through privib.cli.main).

The ``tiny_export`` and ``export_log`` fixtures are in tests/unit/conftest.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import privib
from helpers.exports import export_tiny, make_frame, unique_messages
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
        assert encode(tiny_export[0], path, "-o", tmp_path / name, "--sample", "--fresh-noise", "--seed", "3",
                      "--batch-size", "400") == 0
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


# ---------------------------------------------------------------------------- noise keyed to the record
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture(scope="module")
def sampled_export(tmp_path_factory):
    """A tiny export whose run released one sample z ~ q(z|x) (the shipped default's release)."""
    return export_tiny(tmp_path_factory.mktemp("sampled") / "export", release="sample", formats="safetensors,onnx")[0].folder


@pytest.fixture()
def key_file(tmp_path):
    path = tmp_path / "noise.key"
    path.write_text(KEY + "\n")
    return path


def _codes(path) -> pd.DataFrame:
    frame = pd.read_parquet(path) if str(path).endswith(".parquet") else pd.read_csv(path)
    return frame.set_index("id").sort_index()


def test_sampled_codes_need_a_key_or_fresh_noise(sampled_export, raw_csv, tmp_path, capsys) -> None:
    path, _ = raw_csv
    capsys.readouterr()
    assert encode(sampled_export, path, "-o", tmp_path / "z.parquet") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("privib: error:")]
    assert len(err) == 1 and "--noise_key" in err[0] and "--fresh_noise" in err[0], err
    assert not (tmp_path / "z.parquet").exists()
    assert encode(sampled_export, path, "-o", tmp_path / "z.parquet", "--fresh-noise", "--no-progress") == 0
    captured = capsys.readouterr().err
    assert "--fresh_noise: every run draws new noise" in captured and "sampled z, fresh noise" in captured
    assert encode(sampled_export, path, "-o", tmp_path / "mean.parquet", "--mean") == 0  # the mean needs no key


def test_keyed_codes_are_the_same_in_any_file_format_order_batch_and_backend(sampled_export, raw_csv, key_file,
                                                                              tmp_path, capsys, monkeypatch) -> None:
    path, frame = raw_csv
    shuffled = tmp_path / "shuffled.parquet"
    frame.sample(frac=1.0, random_state=0).to_parquet(shuffled)
    assert encode(sampled_export, path, "-o", tmp_path / "a.parquet", "--keep", "id", "--noise-key", key_file,
                  "--batch-size", "300") == 0
    assert "sampled z, noise keyed to the record" in capsys.readouterr().err
    assert encode(sampled_export, shuffled, "-o", tmp_path / "b.csv", "--keep", "id", "--noise-key", key_file,
                  "--batch-size", "7", "--backend", "onnx") == 0
    monkeypatch.setenv("PRIVIB_NOISE_KEY", KEY)  # the same key from the environment
    assert encode(sampled_export, path, "-o", tmp_path / "c.parquet", "--keep", "id", "--batch-size", "1000") == 0
    a, b, c = _codes(tmp_path / "a.parquet"), _codes(tmp_path / "b.csv"), _codes(tmp_path / "c.parquet")
    np.testing.assert_array_equal(a.to_numpy(), c.to_numpy())
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-5)  # torch against onnx
    expected = privib.load_encoder(sampled_export).encode(frame, key=KEY.encode())
    np.testing.assert_array_equal(a.to_numpy(), expected)
    assert np.abs(expected - privib.load_encoder(sampled_export).encode(frame, sample=False)).max() > 0.1
    assert not any(KEY.encode() in p.read_bytes() for p in [*sampled_export.iterdir(), *tmp_path.glob("[abc].*")])


def test_an_id_column_keys_the_noise_to_the_id(sampled_export, raw_csv, key_file, tmp_path) -> None:
    path, frame = raw_csv
    assert encode(sampled_export, path, "-o", tmp_path / "z.parquet", "--keep", "id", "--noise-key", key_file,
                  "--id-column", "id") == 0
    expected = privib.load_encoder(sampled_export).encode(frame, key=KEY.encode(), id_column="id")
    np.testing.assert_array_equal(_codes(tmp_path / "z.parquet").to_numpy(), expected)


@pytest.mark.parametrize("extra, match", [
    (["--seed", "3"], "--seed seeds fresh noise by row position"),
    (["--fresh-noise", "--noise-key", "{key}"], "both choose the noise"),
    (["--mean", "--noise-key", "{key}"], "writes the mean of q(z|x) (--mean)"),
    (["--id-column", "id", "--fresh-noise"], "--id_column keys the noise to an id"),
    (["--noise-key", "{short}"], "holds 5 bytes"),
    (["--noise-key", "{key}", "--id-column", "ssn"], "--id_column 'ssn' is not in"),
])
def test_bad_noise_flags_are_one_line(sampled_export, raw_csv, key_file, tmp_path, capsys, extra, match) -> None:
    short = tmp_path / "short.key"
    short.write_text("12345")
    args = [a.format(key=key_file, short=short) for a in extra]
    capsys.readouterr()
    assert encode(sampled_export, raw_csv[0], "-o", tmp_path / "z.parquet", *args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("privib: error:")]
    assert len(err) == 1 and match in err[0], err
    assert not (tmp_path / "z.parquet").exists()
