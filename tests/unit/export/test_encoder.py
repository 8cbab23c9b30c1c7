"""privib.load_encoder: encoding raw records, sampling, and every kind of bad input."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import privib
from privib.errors import DataError, ExportError, PrivibError
from privib.export.encoder import EncoderInputError
from privib.io import sha256_file

from helpers.exports import export_tiny, make_frame, unique_messages


@pytest.fixture(params=["torch", "onnx"])
def encoder(request, tiny_export):
    return privib.load_encoder(tiny_export[0], backend=request.param)


def test_encode_releases_the_mean_by_default(encoder, tiny_export):
    frame = make_frame(300, seed=1)
    z = encoder.encode(frame)
    mean, log_var = encoder.encode_distribution(frame)
    assert z.dtype == np.float32 and z.shape == (300, 4)
    np.testing.assert_array_equal(z, mean)
    assert encoder.z_dim == 4 and encoder.input_columns == ["age", "hours", "color", "city"]
    assert encoder.feature_names == tiny_export[2].feature_names
    assert encoder.metadata["run_name"] == "tiny-run" and encoder.metadata["privib_version"] == privib.__version__
    # an already preprocessed array, list-of-dict records and small batches give the same codes
    np.testing.assert_array_equal(encoder.encode(tiny_export[2].transform(frame)), z)
    np.testing.assert_allclose(encoder.encode(frame.head(3).to_dict("records")), z[:3], atol=1e-6)
    np.testing.assert_allclose(encoder.encode(frame.iloc[0].to_dict()), z[:1], atol=1e-6)
    np.testing.assert_allclose(encoder.encode(frame, batch_size=7), z, atol=1e-6)
    assert encoder.encode(frame.iloc[:0]).shape == (0, 4)


def test_sampling_draws_from_q_z_given_x(encoder):
    row = make_frame(1, seed=2)
    many = pd.concat([row] * 10000, ignore_index=True)
    mean, log_var = encoder.encode_distribution(row)
    draws = encoder.encode(many, sample=True, seed=0)
    np.testing.assert_allclose(draws.mean(axis=0), mean[0], atol=4 * np.exp(0.5 * log_var[0]).max() / np.sqrt(10000))
    np.testing.assert_allclose(draws.std(axis=0), np.exp(0.5 * log_var[0]), rtol=0.05)
    np.testing.assert_array_equal(encoder.encode(row, sample=True, seed=5), encoder.encode(row, sample=True, seed=5))
    assert not np.array_equal(encoder.encode(row, sample=True, seed=5), encoder.encode(row, sample=True, seed=6))


def test_same_seed_gives_the_same_sample_on_both_backends(tiny_export):
    frame = make_frame(50, seed=4)
    a = privib.load_encoder(tiny_export[0], backend="torch").encode(frame, sample=True, seed=11)
    b = privib.load_encoder(tiny_export[0], backend="onnx").encode(frame, sample=True, seed=11)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_path_may_be_the_run_folder_or_a_file_in_the_export(tiny_export):
    folder = tiny_export[0]
    assert privib.load_encoder(folder.parent).folder == folder
    assert privib.load_encoder(folder / "encoder.onnx", backend="onnx").folder == folder


def test_extra_columns_are_ignored_and_named_once(tiny_export, export_log):
    encoder = privib.load_encoder(tiny_export[0])
    frame = make_frame(20, seed=1)
    encoder.encode(frame)
    encoder.encode(frame)
    messages = unique_messages(export_log, "ignoring")
    assert len(messages) == 1 and all(c in messages[0] for c in ("'id'", "'label'", "'sex'"))


# ---------------------------------------------------------------------------- bad records
def bad(frame_change, match, **load):
    def check(tiny_export):
        encoder = privib.load_encoder(tiny_export[0], **load)
        frame = make_frame(30, seed=9)
        frame = frame_change(frame)
        with pytest.raises(EncoderInputError, match=match) as info:
            encoder.encode(frame)
        assert isinstance(info.value, DataError) and isinstance(info.value, ExportError)
        assert info.value.exit_code == 2 and "\n" not in str(info.value)
    return check


def _drop(frame):
    return frame.drop(columns=["city"])


def _nan_numeric(frame):
    frame.loc[4, "hours"] = np.nan
    return frame


def _nan_categorical(frame):
    frame["color"] = frame["color"].astype(object)
    frame.loc[2, "color"] = None
    return frame


def _text_in_numeric(frame):
    frame["age"] = frame["age"].astype(object)
    frame.loc[3, "age"] = "forty"
    return frame


def _numbers_in_categorical(frame):
    frame["city"] = np.arange(len(frame))
    return frame


def _unknown(frame):
    frame.loc[1, "city"] = "Atlantis"
    return frame


@pytest.mark.parametrize("check", [
    bad(_drop, r"missing column\(s\) \['city'\]"),
    bad(_nan_numeric, r"column 'hours' has 1 missing"),
    bad(_nan_categorical, r"column 'color' has 1 missing"),
    bad(_text_in_numeric, r"numeric column 'age' holds non-numeric"),
    bad(_numbers_in_categorical, r"column 'city' holds numbers"),
    bad(_unknown, r"column 'city' has categories never seen in training: \['Atlantis'\]", unknown_category="error"),
], ids=["missing-column", "nan-numeric", "nan-categorical", "text-in-numeric", "numbers-in-categorical", "unknown-error"])
def test_bad_records_raise_one_typed_line_naming_the_column(check, tiny_export):
    check(tiny_export)


def test_unknown_category_follows_the_zeros_policy_and_says_so(tiny_export, export_log):
    encoder = privib.load_encoder(tiny_export[0])
    assert encoder.preprocessor.unknown_category == "zeros"
    frame = _unknown(make_frame(30, seed=9))
    features = encoder.features(frame)
    city = [i for i, n in enumerate(encoder.feature_names) if n.startswith("city=")]
    assert features[1, city].sum() == 0 and features[0, city].sum() == 1
    assert any("'city'" in r.getMessage() and "Atlantis" in r.getMessage() for r in export_log.records)


@pytest.mark.parametrize("array, match", [
    (np.zeros((3, 5), np.float32), r"input width 5 does not match the encoder's 9 features"),
    (np.zeros(9, np.float32), r"must be 2-D"),
    (np.array([["a"] * 9]), r"not numbers"),
    (np.full((2, 9), np.nan, np.float32), r"NaN or infinite .*first at row 0, feature 'age'"),
])
def test_bad_arrays_raise_one_typed_line(tiny_export, array, match):
    with pytest.raises(EncoderInputError, match=match):
        privib.load_encoder(tiny_export[0], backend="onnx").encode(array)


# ---------------------------------------------------------------------------- bad files
def _truncate(folder, name):
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) // 2])


def _flip(folder, name):
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / name).write_bytes(bytes(data))


@pytest.mark.parametrize("damage, name, backend, match", [
    (_truncate, "encoder.safetensors", "torch", r"encoder.safetensors is corrupted or truncated"),
    (_flip, "encoder.safetensors", "torch", r"encoder.safetensors is corrupted or truncated"),
    (_truncate, "encoder.onnx", "onnx", r"encoder.onnx is corrupted or truncated"),
    (_flip, "encoder.onnx", "onnx", r"encoder.onnx is corrupted or truncated"),
    (_truncate, "preprocess.json", "onnx", r"preprocess.json is corrupted or truncated"),
    (lambda f, n: (f / n).unlink(), "preprocess.json", "torch", r"preprocess.json is missing"),
    (lambda f, n: (f / n).write_text("{not json"), "manifest.json", "torch", r"manifest.json is corrupted or truncated"),
    (lambda f, n: (f / n).unlink(), "manifest.json", "torch", r"not a privib export folder \(no manifest.json\)"),
])
def test_damaged_export_files_raise_export_error_naming_the_file(export_copy, damage, name, backend, match):
    damage(export_copy, name)
    with pytest.raises(ExportError, match=match) as info:
        privib.load_encoder(export_copy, backend=backend)
    assert info.value.exit_code == 2


def test_files_from_another_export_are_refused_even_with_a_matching_manifest(export_copy, tiny_deterministic_export):
    shutil.copy(tiny_deterministic_export[0] / "encoder.safetensors", export_copy / "encoder.safetensors")
    manifest = json.loads((export_copy / "manifest.json").read_text())
    path = export_copy / "encoder.safetensors"
    manifest["files"]["encoder.safetensors"] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    (export_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match=r"encoder.safetensors does not belong with this export folder \(deterministic"):
        privib.load_encoder(export_copy)


def test_unknown_backend_folder_and_policy(tiny_export, tmp_path):
    with pytest.raises(ExportError, match="unknown backend 'tflite'"):
        privib.load_encoder(tiny_export[0], backend="tflite")
    with pytest.raises(ExportError, match="does not exist"):
        privib.load_encoder(tmp_path / "nowhere")
    with pytest.raises(PrivibError, match="unknown_category"):
        privib.load_encoder(tiny_export[0], unknown_category="ignore")


def test_torch_backend_never_unpickles(tiny_export, monkeypatch):
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("torch.load (pickle) must not be used by load_encoder")

    monkeypatch.setattr(torch, "load", refuse)
    assert privib.load_encoder(tiny_export[0], backend="torch").encode(make_frame(3)).shape == (3, 4)


def test_loading_imports_no_lightning_wandb_or_training_code(tiny_export):
    """In a fresh process: the onnx backend does not even import torch; the torch backend imports no Lightning."""
    script = textwrap.dedent(f"""
        import sys
        import privib
        assert "torch" not in sys.modules and "pandas" not in sys.modules, "import privib must stay light"
        import pandas as pd
        frame = pd.DataFrame({{"age": [30, 40], "hours": [38.5, 50], "color": ["red", "blue"], "city": ["Oslo", "Lima"]}})
        z_onnx = privib.load_encoder({str(tiny_export[0])!r}, backend="onnx").encode(frame)
        assert "torch" not in sys.modules, "the onnx backend must not import torch"
        z_torch = privib.load_encoder({str(tiny_export[0])!r}, backend="torch").encode(frame)
        assert abs(z_onnx - z_torch).max() < 1e-5
        heavy = [m for m in ("pytorch_lightning", "lightning", "wandb", "privib.training", "privib.pipeline", "sklearn")
                 if m in sys.modules]
        assert not heavy, heavy
        print("ok", privib.__version__)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok ")


@pytest.mark.parametrize("release", ["mean", "sample"])
def test_encode_returns_the_released_representation_by_default(tmp_path, release):
    from privib import load_encoder

    export_tiny(tmp_path / "export", formats="safetensors", release=release)
    encoder = load_encoder(tmp_path / "export")
    frame = make_frame(50, seed=3)
    assert encoder.release == release
    mean = encoder.encode(frame, sample=False)
    default = encoder.encode(frame, seed=7)
    if release == "mean":
        np.testing.assert_array_equal(default, mean)
    else:
        np.testing.assert_array_equal(default, encoder.encode(frame, sample=True, seed=7))
        assert np.abs(default - mean).mean() > 1e-3


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_an_encoder_trained_on_numeric_bins_encodes_raw_records_as_it_was_trained(tmp_path, backend):
    import torch

    from privib import load_encoder

    _, trained, preprocessor = export_tiny(tmp_path / "export", bins=8)
    assert preprocessor.binned == ["age", "hours"] and preprocessor.n_features == 2 + 7 + 16
    encoder = load_encoder(tmp_path / "export", backend=backend)
    frame = make_frame(200, seed=5)
    with torch.no_grad():
        expected = trained(torch.from_numpy(preprocessor.transform(frame)))[0].numpy()
    np.testing.assert_allclose(encoder.encode(frame), expected, rtol=0, atol=1e-5)
    assert encoder.feature_names[-1] == preprocessor.feature_names[-1] and " in [" in encoder.feature_names[-1]
