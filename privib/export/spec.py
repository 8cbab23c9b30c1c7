"""The export folder's layout and metadata contract, shared by the exporters and the loader.

Nothing here imports torch, Lightning or W&B: the loader of an exported encoder (and a
downstream service that only has onnxruntime) reads this module.

Layout of an export folder::

    encoder.safetensors   encoder weights only, with :data:`METADATA_KEYS` in its header
    encoder.onnx          one file, input ``features`` (batch, n_features),
                          outputs ``mean`` and ``log_var`` (batch, z_dim); dynamic batch
    encoder.pt2           a ``torch.export`` program with the same signature, dynamic batch
    preprocess.json       raw records -> feature vector (see TabularPreprocessor.to_dict)
    config.yaml           the run's full resolved config
    metrics.json          the run's metrics at export time, plus export/* figures
    MODEL_CARD.md         intended use, data, figures with intervals, attackers, limitations
    manifest.json         metadata plus the sha256 and size of every file above

``log_var`` of a deterministic encoder (scale exactly 0) is the finite constant
:data:`DETERMINISTIC_LOG_VAR`: ``exp(0.5 * log_var)`` is then exactly 0 in float32 and
float64, so ``mean + exp(0.5 * log_var) * eps`` returns the mean, and nothing downstream
meets ``-inf`` or NaN.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from privib.errors import ExportError

FORMAT = "privib-encoder"
FORMAT_VERSION = 1

SAFETENSORS_FILE = "encoder.safetensors"
ONNX_FILE = "encoder.onnx"
PT2_FILE = "encoder.pt2"
PREPROCESS_FILE = "preprocess.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
MANIFEST_FILE = "manifest.json"

# --format name -> file written
FORMAT_FILES: dict[str, str] = {"safetensors": SAFETENSORS_FILE, "onnx": ONNX_FILE, "pt2": PT2_FILE}
DEFAULT_FORMATS: tuple[str, ...] = ("safetensors", "onnx", "pt2")

INPUT_NAME = "features"
OUTPUT_NAMES: tuple[str, str] = ("mean", "log_var")
DETERMINISTIC_LOG_VAR = -1.0e4
ONNX_OPSET = 18

# Metadata written into every model file (safetensors header, ONNX metadata_props, pt2
# extra file) and into manifest.json. Values are strings there; lists are JSON.
METADATA_KEYS: tuple[str, ...] = (
    "format",
    "format_version",
    "privib_version",
    "torch_version",
    "created",
    "run_name",
    "config_sha256",
    "dataset",
    "target",
    "sensitive",
    "train_rows",
    "preprocess_sha256",
    "data_fingerprint",
    "input_columns",
    "feature_names",
    "input_dim",
    "z_dim",
    "encoder_widths",
    "activation",
    "deterministic",
    "min_scale",
    "input_name",
    "output_names",
    "deterministic_log_var",
    "release",
)
_JSON_KEYS = {"sensitive", "input_columns", "feature_names", "encoder_widths", "output_names"}
_INT_KEYS = {"format_version", "train_rows", "input_dim", "z_dim"}
_FLOAT_KEYS = {"min_scale", "deterministic_log_var"}
_BOOL_KEYS = {"deterministic"}


def privib_version() -> str:
    """The installed privib version (``0+unknown`` when run from an uninstalled checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("privib")
    except PackageNotFoundError:
        return "0+unknown"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_json(obj: Any) -> str:
    """Key-sorted, whitespace-free JSON: the form that hashes are computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_sha256(config: Mapping[str, Any]) -> str:
    """Hash of a resolved run config (as read back from the run's config.yaml)."""
    return sha256_bytes(canonical_json(dict(config)).encode())


def data_fingerprint(dataset: str, train_rows: int, preprocess_sha: str, target: str, sensitive: list[str]) -> str:
    """One hash naming the training data as the encoder saw it: dataset, split size, fitted preprocessing."""
    payload = {"dataset": dataset, "train_rows": int(train_rows), "preprocess_sha256": preprocess_sha,
               "target": target, "sensitive": list(sensitive)}
    return sha256_bytes(canonical_json(payload).encode())


def metadata_to_strings(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Typed metadata -> the string map stored in safetensors / ONNX headers."""
    out: dict[str, str] = {}
    for key in METADATA_KEYS:
        value = metadata[key]
        if key in _JSON_KEYS:
            out[key] = json.dumps(list(value))
        elif key in _BOOL_KEYS:
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def metadata_from_strings(raw: Mapping[str, str], source: str) -> dict[str, Any]:
    """Parse the string map back into typed metadata; ExportError naming ``source`` if it is not privib's."""
    missing = [key for key in METADATA_KEYS if key not in raw]
    if missing:
        raise ExportError(f"{source} lacks privib metadata {missing[:4]}: it was not written by `privib export`; re-export the run")
    out: dict[str, Any] = {}
    try:
        for key in METADATA_KEYS:
            value = raw[key]
            if key in _JSON_KEYS:
                out[key] = json.loads(value)
            elif key in _INT_KEYS:
                out[key] = int(value)
            elif key in _FLOAT_KEYS:
                out[key] = float(value)
            elif key in _BOOL_KEYS:
                if value not in ("true", "false"):
                    raise ValueError(f"{key}={value!r}")
                out[key] = value == "true"
            else:
                out[key] = str(value)
    except (ValueError, TypeError) as exc:
        raise ExportError(f"{source} has malformed privib metadata ({exc}): re-export the run") from exc
    check_format(out, source)
    return out


def check_format(metadata: Mapping[str, Any], source: str) -> None:
    if metadata.get("format") != FORMAT:
        raise ExportError(f"{source} is not a privib encoder export (format {metadata.get('format')!r})")
    if int(metadata.get("format_version", -1)) > FORMAT_VERSION:
        raise ExportError(
            f"{source} uses export format {metadata.get('format_version')}, newer than this privib "
            f"({privib_version()}) reads ({FORMAT_VERSION}): upgrade privib"
        )


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an export folder, checked for shape; ExportError naming the file otherwise."""
    path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise ExportError(f"export folder {folder} does not exist: pass the export/ folder of a run (`privib export RUN` writes it)")
    if not path.is_file():
        raise ExportError(f"{folder} is not a privib export folder (no {MANIFEST_FILE}): pass the export/ folder of a run, or re-export it")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        metadata = manifest["metadata"]
        if not isinstance(files, dict) or not isinstance(metadata, dict):
            raise TypeError("'files' and 'metadata' must be objects")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path} is corrupted or truncated ({type(exc).__name__}: {exc}): re-export the run") from exc
    check_format(metadata, str(path))
    return manifest


def verified_bytes(folder: Path, name: str, manifest: Mapping[str, Any]) -> bytes:
    """Read ``name`` from an export folder and check its size and sha256 against the manifest."""
    path = folder / name
    entry = manifest["files"].get(name)
    if entry is None:
        raise ExportError(f"{folder} has no {name} listed in its manifest: re-export with a format that writes it")
    if not path.is_file():
        raise ExportError(f"{path} is missing (listed in {MANIFEST_FILE}): copy the whole export folder, or re-export the run")
    data = path.read_bytes()
    if len(data) != int(entry.get("bytes", -1)) or sha256_bytes(data) != entry.get("sha256"):
        raise ExportError(
            f"{path} is corrupted or truncated ({len(data)} bytes, sha256 differs from {MANIFEST_FILE}): "
            "copy it again or re-export the run"
        )
    return data
