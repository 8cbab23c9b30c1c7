"""The export folder: files, single-file ONNX, dynamic batch, metadata, parity of every format."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import privib
from privib.errors import ExportError
from privib.export import spec
from privib.io import sha256_file
from privib.export.modules import MeanLogVarEncoder

from helpers.exports import export_tiny, make_frame

PARITY = 1e-5


def reference(encoder, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        mean, log_var = MeanLogVarEncoder(encoder).eval()(torch.from_numpy(features))
    return mean.numpy(), log_var.numpy()


def onnx_outputs(folder: Path, features: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(folder / spec.ONNX_FILE), providers=["CPUExecutionProvider"])
    return session.run(["mean", "log_var"], {"features": features})


def pt2_outputs(folder: Path, features: np.ndarray) -> list[np.ndarray]:
    program = torch.export.load(folder / spec.PT2_FILE)
    with torch.no_grad():
        return [t.numpy() for t in program.module()(torch.from_numpy(features))]


def test_export_folder_holds_every_file_and_a_single_file_onnx(tiny_export):
    folder, _, _ = tiny_export
    names = {p.name for p in folder.iterdir()}
    assert names == {"encoder.safetensors", "encoder.onnx", "encoder.pt2", "preprocess.json", "config.yaml",
                     "metrics.json", "MODEL_CARD.md", "manifest.json"}
    assert not list(folder.glob("*.data")) and not (folder / "encoder.onnx.data").exists()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "temporary folders left behind"

    import onnx
    from onnx.external_data_helper import uses_external_data

    model = onnx.load(str(folder / spec.ONNX_FILE), load_external_data=False)
    assert model.graph.initializer and not any(uses_external_data(t) for t in model.graph.initializer)
    assert [i.name for i in model.graph.input] == ["features"]
    assert [o.name for o in model.graph.output] == ["mean", "log_var"]
    batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.HasField("dim_value"), "batch dimension must be dynamic"
    assert model.graph.input[0].type.tensor_type.shape.dim[1].dim_value == 9  # 2 numeric + 3 colors + 4 cities
    manifest = json.loads((folder / spec.MANIFEST_FILE).read_text())
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(folder / name)


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_torch_pt2_and_onnx_agree_on_any_batch_size(tiny_export, batch):
    folder, encoder, _ = tiny_export
    features = np.random.default_rng(batch).normal(size=(batch, encoder.input_dim)).astype(np.float32)
    ref = reference(encoder, features)
    for outputs in (onnx_outputs(folder, features), pt2_outputs(folder, features)):
        for got, want in zip(outputs, ref):
            assert got.shape == (batch, 4)
            np.testing.assert_allclose(got, want, rtol=0, atol=PARITY)


def test_all_backends_agree_from_a_raw_dataframe(tiny_export):
    folder, encoder, preprocessor = tiny_export
    frame = make_frame(500, seed=7)
    ref_mean, ref_log_var = reference(encoder, preprocessor.transform(frame))
    torch_backend = privib.load_encoder(folder, backend="torch")
    onnx_backend = privib.load_encoder(folder, backend="onnx")
    pt2_mean, pt2_log_var = pt2_outputs(folder, preprocessor.transform(frame))
    errors = {}
    for name, (mean, log_var) in {
        "torch": torch_backend.encode_distribution(frame),
        "onnx": onnx_backend.encode_distribution(frame),
        "pt2": (pt2_mean, pt2_log_var),
    }.items():
        errors[name] = max(np.abs(mean - ref_mean).max(), np.abs(log_var - ref_log_var).max())
        assert errors[name] <= PARITY, errors
    assert np.ptp(ref_log_var) > 1.0, "log_var must vary for the parity check to mean something"
    np.testing.assert_array_equal(torch_backend.encode(frame), torch_backend.encode_distribution(frame)[0])


def test_safetensors_holds_encoder_weights_only_and_the_metadata(tiny_export):
    from safetensors import safe_open

    folder, encoder, preprocessor = tiny_export
    with safe_open(str(folder / spec.SAFETENSORS_FILE), framework="pt") as handle:
        metadata = handle.metadata()
        keys = set(handle.keys())
        weights = {k: handle.get_tensor(k) for k in keys}
    assert keys == set(encoder.state_dict())
    for key, tensor in encoder.state_dict().items():
        torch.testing.assert_close(weights[key], tensor, rtol=0, atol=0)
    assert metadata["privib_version"] == privib.__version__
    assert metadata["config_sha256"] == spec.config_sha256(
        {"data": {"name": "synthetic"}, "model": {"z_dim": 4, "release": "mean"}})
    assert metadata["release"] == "mean"
    assert json.loads(metadata["feature_names"]) == preprocessor.feature_names
    assert json.loads(metadata["input_columns"]) == ["age", "hours", "color", "city"]
    assert metadata["z_dim"] == "4" and metadata["input_dim"] == str(preprocessor.n_features)
    assert json.loads(metadata["encoder_widths"]) == [16, 8] and metadata["activation"] == "gelu"
    preprocess_sha = sha256_file(folder / spec.PREPROCESS_FILE)
    assert metadata["preprocess_sha256"] == preprocess_sha
    assert metadata["data_fingerprint"] == spec.data_fingerprint("synthetic", 400, preprocess_sha, "label", ["sex"])
    assert metadata["dataset"] == "synthetic" and metadata["train_rows"] == "400"
    import onnxruntime as ort

    session = ort.InferenceSession(str(folder / spec.ONNX_FILE), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map == metadata


def test_deterministic_encoder_exports_a_finite_constant_log_variance(tiny_deterministic_export):
    folder, encoder, preprocessor = tiny_deterministic_export
    frame = make_frame(50, seed=3)
    features = preprocessor.transform(frame)
    for outputs in (onnx_outputs(folder, features), pt2_outputs(folder, features)):
        assert np.all(outputs[1] == spec.DETERMINISTIC_LOG_VAR)
    for backend in ("torch", "onnx"):
        loaded = privib.load_encoder(folder, backend=backend)
        mean, log_var = loaded.encode_distribution(frame)
        assert np.isfinite(log_var).all() and np.all(log_var == spec.DETERMINISTIC_LOG_VAR)
        assert loaded.metadata["deterministic"] is True
        np.testing.assert_array_equal(loaded.encode(frame, sample=True, seed=0), mean)  # exp(log_var / 2) == 0
    np.testing.assert_allclose(mean, reference(encoder, features)[0], rtol=0, atol=PARITY)


def test_a_subset_of_formats_replaces_the_previous_export(tmp_path):
    folder = tmp_path / "export"
    export_tiny(folder, formats="safetensors,pt2")
    result, _, _ = export_tiny(folder, formats="onnx")
    names = {p.name for p in folder.iterdir()}
    assert "encoder.onnx" in names and not {"encoder.safetensors", "encoder.pt2"} & names
    assert set(result.metrics) >= {"export/seconds", "export/onnx/seconds", "export/parity/onnx_max_abs_err"}
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    assert privib.load_encoder(folder, backend="onnx").z_dim == 4
    with pytest.raises(ExportError, match="encoder.safetensors"):
        privib.load_encoder(folder, backend="torch")


def test_failed_export_keeps_the_previous_one(tmp_path, monkeypatch):
    from privib.export import exporters

    folder = tmp_path / "export"
    export_tiny(folder, formats="pt2")
    before = (folder / spec.MANIFEST_FILE).read_text()
    monkeypatch.setattr(exporters, "PARITY_TOLERANCE", -1.0)  # every format now "disagrees"
    with pytest.raises(ExportError, match="disagrees with the torch encoder"):
        export_tiny(folder, formats="pt2")
    assert (folder / spec.MANIFEST_FILE).read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


@pytest.mark.parametrize("formats", ["onnx,tflite", "", "pickle"])
def test_unknown_formats_are_refused(tmp_path, formats):
    with pytest.raises(ExportError, match="export format"):
        export_tiny(tmp_path / "export", formats=formats)


def test_encoder_and_preprocessor_must_agree(tmp_path):
    from privib.export.exporters import export_encoder

    from helpers.exports import make_encoder, make_preprocessor

    preprocessor = make_preprocessor(make_frame(100))
    with pytest.raises(ExportError, match="reads 7 features but the preprocessor produces 9"):
        export_encoder(make_encoder(7), preprocessor, tmp_path / "x", dataset="d", target="t", sensitive=[], train_rows=1)
