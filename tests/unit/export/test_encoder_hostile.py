"""Hostile or corrupted export folders: refused at load with one ExportError line naming the file and the field.

Each case damages a private copy of a real export the way an attacker would: the files are
changed and the manifest's sha256 and byte counts recomputed, so the integrity check alone
cannot catch them.
"""
from __future__ import annotations

import builtins
import io
import json
import os
from pathlib import Path
from typing import Any
from collections.abc import Callable

import numpy as np
import pytest
import torch

import privib
from privib.errors import DataError, ExportError
from privib.export import spec
from privib.io import sha256_file

from helpers.exports import make_frame

BACKENDS = ["torch", "onnx"]
SPARSE_BYTES = 30 * 2**30


# ---------------------------------------------------------------------------- tampering helpers
def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / spec.MANIFEST_FILE).read_text())


def write_manifest(folder: Path, manifest: Any) -> None:
    (folder / spec.MANIFEST_FILE).write_text(json.dumps(manifest))


def rehash(folder: Path) -> None:
    """Recompute every file entry of the manifest, as an attacker who edits files would."""
    manifest = read_manifest(folder)
    for name in manifest["files"]:
        path = folder / name
        manifest["files"][name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    write_manifest(folder, manifest)


def tamper_preprocess(folder: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    """Edit preprocess.json (``change`` edits the spec in place, or returns a replacement) and fix up every hash."""
    path = folder / spec.PREPROCESS_FILE
    original = json.loads(path.read_text())
    replaced = change(original)
    path.write_text(json.dumps(original if replaced is None else replaced, indent=2) + "\n")
    manifest = read_manifest(folder)
    manifest["metadata"]["preprocess_sha256"] = sha256_file(path)
    write_manifest(folder, manifest)
    rehash(folder)


def read_safetensors(folder: Path) -> tuple[dict[str, Any], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(folder / spec.SAFETENSORS_FILE), framework="pt") as handle:
        return {k: handle.get_tensor(k) for k in handle.keys()}, dict(handle.metadata())


def write_safetensors(folder: Path, tensors: dict[str, Any], metadata: dict[str, str]) -> None:
    from safetensors.torch import save

    (folder / spec.SAFETENSORS_FILE).write_bytes(save(tensors, metadata=metadata))
    rehash(folder)


def tamper_metadata(folder: Path, **changes: Any) -> None:
    """Set metadata fields in the manifest and in the safetensors header alike (an attacker keeps them consistent)."""
    manifest = read_manifest(folder)
    manifest["metadata"].update(changes)
    write_manifest(folder, manifest)
    tensors, metadata = read_safetensors(folder)
    metadata.update({k: json.dumps(v) if isinstance(v, list) else str(v) for k, v in changes.items()})
    write_safetensors(folder, tensors, metadata)


def write_onnx(folder: Path, *, in_type: int = 1, in_width: int = 9, weight: np.ndarray | None = None,
               out_type: int = 1, tile: int = 1) -> None:
    """Replace encoder.onnx by a crafted graph ``mean = log_var = features @ weight``, keeping privib's metadata.

    Types are ONNX TensorProto codes (1 float32, 11 float64); a non-float32 input is cast first.
    ``tile`` > 1 repeats the codes that many times along a width computed at run time, so the
    graph can declare ``weight``'s width and produce another.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    original = onnx.load(str(folder / spec.ONNX_FILE))
    weight = np.ones((in_width, 4), np.float32) if weight is None else weight
    nodes = [helper.make_node("Cast", ["features"], ["x"], to=TensorProto.FLOAT) if in_type != TensorProto.FLOAT
             else helper.make_node("Identity", ["features"], ["x"]),
             helper.make_node("MatMul", ["x", "w"], ["m0"]),
             helper.make_node("ReduceMax", ["x"], ["peak"], keepdims=0),
             helper.make_node("Mul", ["peak", "zero"], ["nothing"]),
             helper.make_node("Cast", ["nothing"], ["nothing_int"], to=TensorProto.INT64),
             helper.make_node("Add", ["nothing_int", "tile"], ["width_repeats"]),
             helper.make_node("Concat", ["one", "width_repeats"], ["repeats"], axis=0),
             helper.make_node("Tile", ["m0", "repeats"], ["m"]),
             helper.make_node("Cast", ["m"], ["mean"], to=out_type),
             helper.make_node("Identity", ["m"], ["log_var"])]
    constants = {"w": weight, "zero": np.array(0.0, np.float32), "tile": np.array([tile], np.int64),
                 "one": np.array([1], np.int64)}
    graph = helper.make_graph(
        nodes, "crafted",
        [helper.make_tensor_value_info("features", in_type, ["batch", in_width])],
        [helper.make_tensor_value_info("mean", out_type, ["batch", weight.shape[1]]),
         helper.make_tensor_value_info("log_var", TensorProto.FLOAT, ["batch", weight.shape[1]])],
        initializer=[numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", spec.ONNX_OPSET)])
    model.ir_version = original.ir_version
    model.metadata_props.extend(original.metadata_props)
    (folder / spec.ONNX_FILE).write_bytes(model.SerializeToString())
    rehash(folder)


def refused(folder: Path, backend: str, *needles: str) -> str:
    """Load ``folder``; assert one ExportError line, short, holding every needle (file and field)."""
    with pytest.raises(ExportError) as info:
        privib.load_encoder(folder, backend=backend)
    message = str(info.value)
    assert "\n" not in message and len(message) < 500, message
    assert "re-export the run" in message or "copy it again" in message, message
    for needle in needles:
        assert needle in message, message
    return message


# ---------------------------------------------------------------------------- preprocess.json
def _numeric(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda s: s["numeric"]["age"].__setitem__(field, value)


def _drop_std(spec_dict: dict[str, Any]) -> None:
    del spec_dict["numeric"]["age"]["std"]


def _color(field: str, value: Callable[[list[Any]], Any]) -> Callable[[dict[str, Any]], None]:
    return lambda s: s["categorical"]["color"].__setitem__(field, value(s["categorical"]["color"][field]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("change, field", [
    (_numeric("std", 0), "numeric['age'].std is 0, not a finite number"),
    (_numeric("std", float("nan")), "numeric['age'].std is nan"),
    (_numeric("std", 1e308), "numeric['age'].std is 1e+308"),
    (_numeric("std", -1e308), "numeric['age'].std is -1e+308"),
    (_numeric("std", -2.5), "numeric['age'].std is -2.5"),
    (_numeric("std", 10**400), "numeric['age'].std is 1000"),
    (_numeric("mean", float("nan")), "numeric['age'].mean is nan"),
    (_numeric("mean", float("inf")), "numeric['age'].mean is inf"),
    (_numeric("mean", "40"), "numeric['age'].mean is '40', not a number"),
    (_numeric("std", "x" * 100_000), "numeric['age'].std is 'xxx"),
    (_drop_std, "numeric['age'].std is missing"),
    (_color("categories", lambda c: [c[0], c[0], c[2]]), "categorical['color'].categories lists 'blue' more than once"),
    (_color("frequencies", lambda f: [*f, 0.0]), "categorical['color'].frequencies has 4 entries for 3 categories"),
    (_color("frequencies", lambda f: f[:2]), "categorical['color'].frequencies has 2 entries for 3 categories"),
    (_color("frequencies", lambda f: [0.9, 0.9, 0.9]), "categorical['color'].frequencies sums to 2.7"),
    (_color("frequencies", lambda f: ["0.3", *f[1:]]), "categorical['color'].frequencies[0] is '0.3', not a number"),
    (_color("categories", lambda c: "red"), "categorical['color'].categories is 'red', not a list"),
    (_color("categories", lambda c: [1, 2, 3]), "categorical['color'].categories[0] is 1, not a string"),
    (_color("categories", lambda c: []), "categorical['color'].categories is empty"),
    (lambda s: s.__setitem__("numeric", ["age", "hours"]), "field numeric is ['age', 'hours'], not an object"),
    (lambda s: s.__setitem__("na_values", "?"), "field na_values is '?', not a list"),
    (lambda s: s.__setitem__("unknown_category", 5), "field unknown_category is 5, not a string"),
    (lambda s: s.__setitem__("missing", "ignore"), "field missing is 'ignore', not one of error, impute"),
    (lambda s: s.__setitem__("recode", {"color": ["red"]}), "field recode['color'] is ['red'], not an object"),
    (lambda s: s.__setitem__("format_version", True), "field format_version is True, not 1"),
    (lambda s: [s], "field (the whole spec) is [{"),
], ids=["std-0", "std-nan", "std-1e308", "std-minus-1e308", "std-negative", "std-huge-int", "mean-nan", "mean-inf",
        "mean-string", "std-huge-string", "std-missing", "duplicate-category", "frequencies-longer",
        "frequencies-shorter", "frequencies-sum", "frequency-string", "categories-string", "categories-numbers",
        "categories-empty", "numeric-list", "na-values-string", "policy-type", "policy-value", "recode-list",
        "format-version-bool", "spec-list"])
def test_hostile_preprocess_json_is_refused_naming_the_field(export_copy, backend, change, field):
    tamper_preprocess(export_copy, change)
    refused(export_copy, backend, f"{spec.PREPROCESS_FILE} field ", field)


# ---------------------------------------------------------------------------- manifest.json
def _files(name: str, value: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    return lambda m: m["files"].__setitem__(name, value(m["files"][name]))


def _meta(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda m: m["metadata"].__setitem__(key, value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("change, needle", [
    (_files("encoder.onnx", lambda e: "abc"), "field files['encoder.onnx'] is 'abc', not an object"),
    (_files("preprocess.json", lambda e: {**e, "bytes": str(e["bytes"])}), "field files['preprocess.json'].bytes is '"),
    (_files("preprocess.json", lambda e: {**e, "bytes": -1}), "field files['preprocess.json'].bytes is -1"),
    (_files("preprocess.json", lambda e: {"bytes": e["bytes"]}), "field files['preprocess.json'].sha256 is None"),
    (lambda m: m.__setitem__("files", ["encoder.onnx"]), "field 'files' is ['encoder.onnx'], not an object"),
    (lambda m: m.pop("metadata"), "field 'metadata' is None, not an object"),
    (_meta("format_version", "one"), "metadata field 'format_version' is 'one', not a whole number"),
    (_meta("format_version", 1.5), "metadata field 'format_version' is 1.5, not a whole number"),
    (_meta("format_version", True), "metadata field 'format_version' is True, not a whole number"),
    (lambda m: m.__setitem__("format_version", "1"), "field 'format_version' is '1', not a whole number"),
    (_meta("encoder_widths", "16,8"), "metadata field 'encoder_widths' is '16,8', not a list of whole numbers"),
    (_meta("input_dim", "9"), "metadata field 'input_dim' is '9', not a whole number"),
    (_meta("min_scale", float("nan")), "metadata field 'min_scale' is nan, not a finite number"),
    (_meta("feature_names", "age"), "metadata field 'feature_names' is 'age', not a list of strings"),
    (_meta("release", "everything"), "metadata field 'release' is 'everything', not one of mean, sample"),
], ids=["files-entry-string", "bytes-string", "bytes-negative", "sha256-missing", "files-list", "metadata-missing",
        "format-version-string", "format-version-float", "format-version-bool", "top-format-version-string",
        "widths-string", "input-dim-string", "min-scale-nan", "feature-names-string", "release-unknown"])
def test_hostile_manifest_is_refused_naming_the_field(export_copy, backend, change, needle):
    manifest = read_manifest(export_copy)
    change(manifest)
    write_manifest(export_copy, manifest)
    refused(export_copy, backend, f"{spec.MANIFEST_FILE} ", needle)


def test_a_manifest_that_is_not_an_object_is_refused(export_copy):
    write_manifest(export_copy, ["files"])
    refused(export_copy, "onnx", f"{spec.MANIFEST_FILE} is corrupted or truncated", "not a JSON object")


# ---------------------------------------------------------------------------- safetensors weights
@pytest.mark.parametrize("change, needle", [
    (lambda t: {k: v.to(torch.int8) for k, v in t.items()}, "tensor 'body.0.weight' field dtype is 'I8', not F32"),
    (lambda t: {k: v.double() for k, v in t.items()}, "tensor 'body.0.weight' field dtype is 'F64', not F32"),
    (lambda t: {k: v.half() for k, v in t.items()}, "tensor 'body.0.weight' field dtype is 'F16', not F32"),
    (lambda t: {k: v * float("nan") for k, v in t.items()}, "tensor 'body.0.weight' holds 144 NaN or infinite value(s) of 144"),
    (lambda t: {k: v * float("inf") + float("inf") for k, v in t.items()}, "tensor 'body.0.weight' holds 144 NaN or infinite"),
    (lambda t: {**t, "body.4.bias": t["body.4.bias"].index_fill(0, torch.tensor([3]), float("-inf"))},
     "tensor 'body.4.bias' holds 1 NaN or infinite value(s) of 8"),
], ids=["int8", "float64", "float16", "all-nan", "all-inf", "one-inf"])
def test_hostile_safetensors_weights_are_refused(export_copy, change, needle):
    tensors, metadata = read_safetensors(export_copy)
    write_safetensors(export_copy, change(tensors), metadata)
    refused(export_copy, "torch", f"{spec.SAFETENSORS_FILE} ", needle)


# ---------------------------------------------------------------------------- ONNX graph
@pytest.mark.parametrize("craft, needle", [
    ({"weight": np.eye(9, dtype=np.float32)}, "output 'mean' is declared with shape ['batch', 9], not (batch, 4) as metadata field 'z_dim'"),
    ({"tile": 2}, "returned 'mean' of shape (1, 8) for 1 row(s), not (1, 4)"),
    ({"in_width": 5}, "input 'features' is declared with shape ['batch', 5], not (batch, 9) as metadata field 'input_dim'"),
    ({"in_type": 11}, "input 'features' is declared 'tensor(double)', not tensor(float) (float32)"),
    ({"out_type": 11}, "output 'mean' is declared 'tensor(double)', not tensor(float) (float32)"),
    ({"weight": np.full((9, 4), np.nan, np.float32)}, "returns NaN or infinite codes for an all-zero feature row"),
], ids=["raw-features-as-codes", "lying-output-width", "input-width", "input-float64", "output-float64", "nan-weights"])
def test_hostile_onnx_graph_is_refused(export_copy, craft, needle):
    write_onnx(export_copy, **craft)
    refused(export_copy, "onnx", f"{spec.ONNX_FILE} ", needle)


# ---------------------------------------------------------------------------- sizes from metadata and header
@pytest.fixture()
def no_module_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if load_encoder builds an encoder module."""
    from privib.export import modules

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a module was built before the metadata and header were checked")

    monkeypatch.setattr(modules, "build_encoder", refuse)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("changes, needle", [
    ({"encoder_widths": [3_000_000, 128]}, "metadata field 'encoder_widths' is [3000000, 128], with a width outside the 1..65536"),
    ({"encoder_widths": [65536] * 8}, "makes 30066409480 parameters, over the 268435456 privib loads"),
    ({"encoder_widths": [8] * 65}, "deeper than the 64 layers privib loads"),
    ({"encoder_widths": [0, 8]}, "metadata field 'encoder_widths' is [0, 8], with a width outside"),
    ({"z_dim": 10**9}, "metadata field 'z_dim' is 1000000000, outside the 1..65536 privib loads"),
    ({"input_dim": 10**9}, "metadata field 'input_dim' is 1000000000, outside the 1..1048576 privib loads"),
    ({"input_dim": 12}, "which lists 9 names for input_dim 12"),
], ids=["wide", "many-parameters", "deep", "zero-width", "huge-z-dim", "huge-input-dim", "input-dim-vs-names"])
def test_absurd_sizes_in_metadata_are_refused_before_building(export_copy, no_module_built, backend, changes, needle):
    tamper_metadata(export_copy, **changes)
    refused(export_copy, backend, f"{spec.MANIFEST_FILE} ", needle)


@pytest.mark.parametrize("change, needle", [
    (lambda t: ({**t}, {"encoder_widths": [64, 8]}), "tensor 'body.0.weight' field shape is [16, 9], not [64, 9]"),
    (lambda t: ({**t, "body.0.weight": t["body.0.weight"].T.contiguous()}, {}), "tensor 'body.0.weight' field shape is [9, 16]"),
    (lambda t: ({("body.1.weight" if k == "body.0.weight" else k): v for k, v in t.items()}, {}),
     "holds tensors that do not match its metadata (missing ['body.0.weight'], unexpected ['body.1.weight'])"),
    (lambda t: ({**t, "body.6.weight": t["body.4.weight"].clone()}, {}), "unexpected ['body.6.weight']"),
], ids=["metadata-wider-than-tensors", "transposed", "renamed", "extra-tensor"])
def test_safetensors_header_is_checked_against_the_metadata_before_building(export_copy, no_module_built, change, needle):
    tensors, metadata = read_safetensors(export_copy)
    tensors, changes = change(tensors)
    write_safetensors(export_copy, tensors, metadata)
    if changes:
        tamper_metadata(export_copy, **changes)
    refused(export_copy, "torch", f"{spec.SAFETENSORS_FILE} ", needle)


# ---------------------------------------------------------------------------- huge or sparse files
@pytest.fixture()
def never_read(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``never_read(name)``: fail the test if a file of that name is opened (every Path read goes through io.open)."""
    real_open = io.open

    def arm(name: str) -> None:
        def guarded(file: Any, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(file, int) and os.path.basename(os.fsdecode(file)) == name:
                raise AssertionError(f"{name} was opened before its size was checked")
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(io, "open", guarded)
        monkeypatch.setattr(builtins, "open", guarded)

    return arm


@pytest.mark.parametrize("name, backend, listed, needle", [
    ("encoder.onnx", "onnx", None, "encoder.onnx is corrupted or truncated (32212254720 bytes on disk; manifest.json field files['encoder.onnx'].bytes says"),
    ("encoder.safetensors", "torch", None, "encoder.safetensors is corrupted or truncated (32212254720 bytes on disk"),
    ("preprocess.json", "torch", None, "preprocess.json is corrupted or truncated (32212254720 bytes on disk"),
    ("encoder.onnx", "onnx", SPARSE_BYTES, "manifest.json field files['encoder.onnx'].bytes is 32212254720, over the 2048 MiB"),
    ("preprocess.json", "onnx", SPARSE_BYTES, "manifest.json field files['preprocess.json'].bytes is 32212254720, over the 64 MiB"),
    ("manifest.json", "onnx", None, "manifest.json is 32212254720 bytes, over the 64 MiB a manifest may hold"),
], ids=["onnx", "safetensors", "preprocess", "onnx-listed-huge", "preprocess-listed-huge", "manifest"])
def test_huge_sparse_files_are_refused_by_size_before_reading(export_copy, never_read, name, backend, listed, needle):
    import onnxruntime  # noqa: F401  (imported before the guard: importing it opens files)

    if listed is not None:
        manifest = read_manifest(export_copy)
        manifest["files"][name]["bytes"] = listed
        write_manifest(export_copy, manifest)
    with open(export_copy / name, "r+b") as handle:
        handle.truncate(SPARSE_BYTES)
    never_read(name)
    refused(export_copy, backend, needle)


# ---------------------------------------------------------------------------- non-finite codes at encode time
def _overflowing_first_layer(folder: Path) -> None:
    """Finite weights that overflow float32 for rows whose first feature is not 0 (the load probe uses 0)."""
    import onnx
    from onnx import numpy_helper

    tensors, metadata = read_safetensors(folder)
    tensors["body.0.weight"][:, 0] = 3e38
    write_safetensors(folder, tensors, metadata)
    model = onnx.load(str(folder / spec.ONNX_FILE))
    for i, initializer in enumerate(model.graph.initializer):
        if initializer.name.endswith("body.0.weight"):
            weight = numpy_helper.to_array(initializer).copy()
            if weight.shape == (16, 9):
                weight[:, 0] = 3e38
            else:
                weight[0, :] = 3e38
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(weight, initializer.name))
    (folder / spec.ONNX_FILE).write_bytes(model.SerializeToString())
    rehash(folder)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_codes_are_never_returned(export_copy, backend):
    _overflowing_first_layer(export_copy)
    encoder = privib.load_encoder(export_copy, backend=backend)
    frame = make_frame(30, seed=9)
    for call in (encoder.encode, encoder.encode_distribution):
        with pytest.raises(ExportError, match=r"encoder\.(onnx|safetensors) returned NaN or infinite codes for \d+ of 30 "
                                              r"row\(s\) \(first at row \d+\) from finite features") as info:
            call(frame)
        assert "\n" not in str(info.value) and not isinstance(info.value, DataError)


def test_non_finite_codes_name_the_row_across_batches_and_sampling_overflow(tiny_export):
    encoder = privib.load_encoder(tiny_export[0], backend="onnx")
    features = encoder.features(make_frame(50, seed=1))
    real_run = encoder._run

    def nan_at_row_37(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, log_var = real_run(batch)
        rows = np.flatnonzero((batch == features[37]).all(axis=1))
        mean[rows, 1] = np.nan
        return mean, log_var

    encoder._run = nan_at_row_37
    with pytest.raises(ExportError, match=r"for 1 of 16 row\(s\) in the batch from row 32 \(first at row 37\)"):
        encoder.encode(features, batch_size=16)
    encoder._run = lambda batch: (real_run(batch)[0], np.full((len(batch), 4), 300.0, np.float32))
    assert np.isfinite(encoder.encode(features, sample=False)).all()
    with pytest.raises(ExportError, match=r"sampling from .*encoder\.onnx overflowed for 50 of 50 row\(s\) \(first at row 0\)"):
        encoder.encode(features, sample=True, seed=0)
    encoder._run = lambda batch: (real_run(batch)[0][:, :2], real_run(batch)[1][:, :2])
    with pytest.raises(ExportError, match=r"returned 'mean' of shape \(50, 2\) for 50 row\(s\), not \(50, 4\)"):
        encoder.encode(features)


def test_huge_raw_values_are_the_input_s_fault_not_the_export_s(tiny_export):
    from privib.export.encoder import EncoderInputError

    frame = make_frame(5, seed=1).astype({"hours": np.float64})
    frame.loc[3, "hours"] = 1e300
    with pytest.raises(EncoderInputError, match=r"column 'hours' has 1 value\(s\) too large to encode as float32 \(first at row 3\)"):
        privib.load_encoder(tiny_export[0], backend="onnx").encode(frame)
