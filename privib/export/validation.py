"""Checks that an export folder describes a sane encoder, run before anything is built or returned.

An export folder may be damaged or crafted by an attacker (who can recompute every hash in
the manifest), so the loader trusts no size, shape or dtype it reads: the architecture in
the metadata is capped, the safetensors header is checked tensor by tensor against that
architecture before a module is built, the ONNX graph's declared inputs and outputs are
checked against the metadata, and every batch of codes is checked for shape and finiteness.

Imports numpy and :mod:`privib.export.spec` only: neither torch nor onnxruntime.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from privib.errors import ExportError
from privib.export import spec
from privib.export.spec import short

# Far above any privib encoder (tabular inputs, MLP encoders); below what would exhaust memory.
MAX_INPUT_DIM = 2**20
MAX_Z_DIM = 2**16
MAX_WIDTH = 2**16
MAX_LAYERS = 64
MAX_PARAMETERS = 2**28  # 1 GiB of float32 weights
RELEASES = ("mean", "sample", "cells")
COMPARED_KEYS = ("z_dim", "input_dim", "feature_names", "encoder_widths", "activation", "deterministic",
                 "preprocess_sha256", "min_scale", "deterministic_log_var", "release")


def layer_dims(metadata: Mapping[str, Any]) -> list[int]:
    """Widths of the encoder's layers, input first: input_dim, encoder_widths..., 2 * z_dim (z_dim logits for cells)."""
    out = int(metadata["z_dim"]) * (1 if metadata.get("release") == "cells" else 2)
    return [int(metadata["input_dim"]), *(int(w) for w in metadata["encoder_widths"]), out]


def expected_tensors(metadata: Mapping[str, Any]) -> dict[str, list[int]]:
    """Name -> shape of every tensor in ``encoder.safetensors``: ``body.{2i}`` is the i-th Linear of the MLP."""
    dims = layer_dims(metadata)
    out: dict[str, list[int]] = {}
    for i, (fan_in, fan_out) in enumerate(zip(dims, dims[1:])):
        out[f"body.{2 * i}.weight"] = [fan_out, fan_in]
        out[f"body.{2 * i}.bias"] = [fan_out]
    return out


def check_architecture(metadata: Mapping[str, Any], source: str) -> None:
    """Refuse typed metadata describing an absurd or inconsistent encoder, before anything is built."""

    def refuse(key: str, reason: str) -> NoReturn:
        raise ExportError(f"{source} metadata field '{key}' is {short(metadata[key])}, {reason}: re-export the run")

    for key, limit in (("input_dim", MAX_INPUT_DIM), ("z_dim", MAX_Z_DIM)):
        if not 1 <= metadata[key] <= limit:
            refuse(key, f"outside the 1..{limit} privib loads")
    widths = metadata["encoder_widths"]
    if len(widths) > MAX_LAYERS:
        refuse("encoder_widths", f"deeper than the {MAX_LAYERS} layers privib loads")
    if any(not 1 <= w <= MAX_WIDTH for w in widths):
        refuse("encoder_widths", f"with a width outside the 1..{MAX_WIDTH} privib loads")
    dims = layer_dims(metadata)
    parameters = sum(a * b + b for a, b in zip(dims, dims[1:]))
    if parameters > MAX_PARAMETERS:
        refuse("encoder_widths", f"which with input_dim and z_dim makes {parameters} parameters, over the {MAX_PARAMETERS} privib loads")
    if len(metadata["feature_names"]) != metadata["input_dim"]:
        refuse("feature_names", f"which lists {len(metadata['feature_names'])} names for input_dim {metadata['input_dim']}")
    if not metadata["min_scale"] >= 0:
        refuse("min_scale", "negative")
    if metadata["input_name"] != spec.INPUT_NAME:
        refuse("input_name", f"not {spec.INPUT_NAME!r}")
    if metadata["output_names"] != list(spec.OUTPUT_NAMES):
        refuse("output_names", f"not {list(spec.OUTPUT_NAMES)}")
    if metadata["release"] not in RELEASES:
        refuse("release", f"not one of {', '.join(RELEASES)}")
    if metadata["release"] == "cells" and (not metadata["deterministic"] or metadata["z_dim"] < 2):
        refuse("release", "but a cell encoder is deterministic with z_dim (its number of cells) >= 2")


def compare_metadata(found: Mapping[str, Any], expected: Mapping[str, Any], source: Path) -> None:
    """Refuse a model file whose metadata differs from the manifest's on anything the loader relies on."""
    for key in COMPARED_KEYS:
        if found[key] != expected[key]:
            raise ExportError(f"{source} does not belong with this export folder ({key} differs from {spec.MANIFEST_FILE}): re-export the run")


def safetensors_header(data: bytes, path: Path) -> tuple[dict[str, Any], dict[str, str], int]:
    """``(tensor entries, __metadata__, offset of the data)`` of a safetensors file, read without torch.

    The format: an 8-byte little-endian header length, then that many bytes of JSON.
    """
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else 0
    if not 0 < size <= min(len(data) - 8, spec.MAX_JSON_BYTES):
        raise ExportError(f"{path} is not a readable safetensors file (header length {size} out of range): re-export the run")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ExportError(f"{path} is not a readable safetensors file (header: {type(exc).__name__}): re-export the run") from exc
    if not isinstance(header, dict):
        raise ExportError(f"{path} is not a readable safetensors file (header is {short(header)}): re-export the run")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise ExportError(f"{path} field __metadata__ is {short(metadata)}, not an object: re-export the run")
    return header, metadata, 8 + size


def check_safetensors(tensors: Mapping[str, Any], metadata: Mapping[str, Any], data: bytes, offset: int, path: Path) -> None:
    """Names, float32 dtype, shapes, offsets and finite values of every tensor, from the header alone.

    Runs before any module is built, so a header that disagrees with the metadata (or
    metadata that describes a huge module) costs nothing.
    """
    expected = expected_tensors(metadata)
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ExportError(
            f"{path} holds tensors that do not match its metadata (missing {short(missing)}, unexpected {short(extra)}): re-export the run"
        )
    room = len(data) - offset
    for name, shape in expected.items():
        entry = tensors[name]
        if not isinstance(entry, dict):
            raise ExportError(f"{path} tensor '{name}' is {short(entry)}, not an object: re-export the run")
        if entry.get("dtype") != "F32":
            raise ExportError(f"{path} tensor '{name}' field dtype is {short(entry.get('dtype'))}, not F32 (float32): re-export the run")
        if entry.get("shape") != shape:
            raise ExportError(
                f"{path} tensor '{name}' field shape is {short(entry.get('shape'))}, not {shape} as the metadata "
                "(input_dim, encoder_widths, z_dim) implies: re-export the run"
            )
        count = int(np.prod(shape))
        bounds = entry.get("data_offsets")
        if not (_int_pair(bounds) and 0 <= bounds[0] and bounds[1] - bounds[0] == 4 * count and bounds[1] <= room):
            raise ExportError(f"{path} tensor '{name}' field data_offsets is {short(bounds)}, out of range: re-export the run")
        values = np.frombuffer(data, dtype="<f4", count=count, offset=offset + bounds[0])
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ExportError(f"{path} tensor '{name}' holds {bad} NaN or infinite value(s) of {count}: re-export the run")


def _int_pair(value: Any) -> bool:
    """A ``[start, end]`` pair of whole numbers, as safetensors' data_offsets."""
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def check_onnx_signature(inputs: Sequence[Any], outputs: Sequence[Any], metadata: Mapping[str, Any], path: Path) -> None:
    """The graph's declared input and outputs (onnxruntime NodeArgs): privib's names, float32, (batch, width)."""
    input_names, output_names = [i.name for i in inputs], [o.name for o in outputs]
    if input_names != [spec.INPUT_NAME] or output_names[:2] != list(spec.OUTPUT_NAMES):
        raise ExportError(f"{path} has inputs {short(input_names)} and outputs {short(output_names)}, not privib's: re-export the run")
    declared = [(inputs[0], "input", "input_dim")] + [(o, "output", "z_dim") for o in outputs[:2]]
    for arg, role, key in declared:
        if arg.type != "tensor(float)":
            raise ExportError(f"{path} {role} '{arg.name}' is declared {short(arg.type)}, not tensor(float) (float32): re-export the run")
        shape = list(arg.shape) if arg.shape is not None else None
        if shape is None or len(shape) != 2 or shape[1] != metadata[key]:
            raise ExportError(
                f"{path} {role} '{arg.name}' is declared with shape {short(shape)}, not (batch, {metadata[key]}) as "
                f"metadata field '{key}' says: re-export the run"
            )


def check_codes(
    mean: Any, log_var: Any, rows: int, z_dim: int, source: Path, row_offset: int = 0, probe: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, log_var)`` as float32 ``(rows, z_dim)`` arrays; ExportError if their shape is wrong or a code is not finite.

    The features given to the model are finite (the encoder refuses others), so non-finite
    codes are the export's fault, or come from rows so extreme that the weights overflow.
    ``probe``: the rows are the all-zero row of :func:`check_probe`.
    """
    arrays = (np.asarray(mean, dtype=np.float32), np.asarray(log_var, dtype=np.float32))
    for name, array in zip(spec.OUTPUT_NAMES, arrays):
        if array.shape != (rows, z_dim):
            raise ExportError(
                f"{source} returned '{name}' of shape {short(array.shape)} for {rows} row(s), not ({rows}, {z_dim}) "
                "as metadata field 'z_dim' says: re-export the run"
            )
    bad = ~(np.isfinite(arrays[0]).all(axis=1) & np.isfinite(arrays[1]).all(axis=1))
    if bad.any() and probe:
        raise ExportError(f"{source} returns NaN or infinite codes for an all-zero feature row: its weights are broken; re-export the run")
    if bad.any():
        batch = f" in the batch from row {row_offset}" if row_offset else ""
        raise ExportError(
            f"{source} returned NaN or infinite codes for {int(bad.sum())} of {rows} row(s){batch} (first at row "
            f"{int(np.flatnonzero(bad)[0]) + row_offset}) from finite features: the exported weights are broken, "
            "re-export the run (or check those rows for extreme values)"
        )
    return arrays


def check_probe(run: Callable[[np.ndarray], tuple[Any, Any]], metadata: Mapping[str, Any], source: Path) -> None:
    """Run the model once on an all-zero feature row at load: wrong output shapes or non-finite codes refuse the export."""
    features = np.zeros((1, int(metadata["input_dim"])), dtype=np.float32)
    check_codes(*run(features), 1, int(metadata["z_dim"]), source, probe=True)
