"""The two backends of :func:`privib.load_encoder`: a function from features to ``(mean, log_var)``.

``torch``: rebuilds the encoder from the export's metadata and loads ``encoder.safetensors``
(no pickle); ``onnx``: runs ``encoder.onnx`` through onnxruntime and never imports torch.
Each checks its model file against the manifest and :mod:`privib.export.validation` before
building anything, then runs the model once on an all-zero row.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

import numpy as np

from privib.errors import ExportError
from privib.export import spec, validation
from privib.export.spec import short

Runner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _file_metadata(raw: Mapping[str, Any], metadata: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """A model file's own metadata, parsed, capped and compared with the manifest's."""
    found = spec.metadata_from_strings(raw, str(path))
    validation.check_architecture(found, str(path))
    validation.compare_metadata(found, metadata, path)
    return found


def torch_runner(folder: Path, manifest: Mapping[str, Any], metadata: Mapping[str, Any]) -> Runner:
    """The encoder of ``encoder.safetensors``, its header checked against the metadata before a module is built."""
    path = folder / spec.SAFETENSORS_FILE
    if spec.SAFETENSORS_FILE not in manifest["files"]:
        raise ExportError(f"{folder} holds no {spec.SAFETENSORS_FILE}: re-export with --format safetensors, or load with backend='onnx'")
    data = spec.verified_bytes(folder, spec.SAFETENSORS_FILE, manifest)
    tensors, raw_metadata, offset = validation.safetensors_header(data, path)
    file_metadata = _file_metadata(raw_metadata, metadata, path)
    validation.check_safetensors(tensors, file_metadata, data, offset, path)

    import torch
    from safetensors.torch import load as load_safetensors

    from privib.export.modules import MeanLogVarEncoder, build_encoder

    try:
        state = load_safetensors(data)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise ExportError(f"{path} is not a readable safetensors file ({type(exc).__name__}): re-export the run") from exc
    module = MeanLogVarEncoder(build_encoder(file_metadata))
    try:
        module.encoder.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{path} does not match the architecture in its metadata ({short(first)}): re-export the run") from exc
    module.eval()

    def run(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            mean, log_var = module(torch.from_numpy(features))
        return mean.numpy(), log_var.numpy()

    validation.check_probe(run, file_metadata, path)
    return run


def onnx_runner(folder: Path, manifest: Mapping[str, Any], metadata: Mapping[str, Any]) -> Runner:
    """The graph of ``encoder.onnx``, its declared input and outputs checked against the metadata."""
    import onnxruntime as ort

    path = folder / spec.ONNX_FILE
    if spec.ONNX_FILE not in manifest["files"]:
        raise ExportError(f"{folder} holds no {spec.ONNX_FILE}: re-export with --format onnx, or load with backend='torch'")
    data = spec.verified_bytes(folder, spec.ONNX_FILE, manifest)
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own InvalidProtobuf / Fail
        raise ExportError(f"{path} is not a readable ONNX model ({type(exc).__name__}): re-export the run") from exc
    file_metadata = _file_metadata(session.get_modelmeta().custom_metadata_map, metadata, path)
    validation.check_onnx_signature(session.get_inputs(), session.get_outputs(), file_metadata, path)
    names = list(spec.OUTPUT_NAMES)

    def run(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        try:
            mean, log_var = session.run(names, {spec.INPUT_NAME: features})
        except Exception as exc:  # onnxruntime's own errors: the graph, not the (checked) features
            raise ExportError(f"{path} failed to run ({type(exc).__name__}: {short(str(exc))}): re-export the run") from exc
        return mean, log_var

    validation.check_probe(run, file_metadata, path)
    return run
