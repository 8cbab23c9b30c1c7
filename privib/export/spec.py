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
import math
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

from privib.errors import ExportError
from privib.export.signing import SIGNATURE_FILE, verify_export

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

# Largest files the loader reads into memory; a manifest may not list a larger one. A privib
# encoder's JSON is kilobytes, and 2 GiB is protobuf's limit for one ONNX file.
MAX_JSON_BYTES = 64 * 2**20
MAX_MODEL_BYTES = 2 * 2**30
_HEX = set("0123456789abcdef")


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message never echoes a huge or multi-line value."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def file_limit(name: str) -> int:
    """The largest size, in bytes, that the loader accepts for export file ``name``."""
    return MAX_JSON_BYTES if name.endswith(".json") else MAX_MODEL_BYTES


def privib_version() -> str:
    """The installed privib version (``0+unknown`` when run from an uninstalled checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("privib")
    except PackageNotFoundError:
        return "0+unknown"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
        raise ExportError(f"{source} lacks privib metadata {short(missing[:4])}: it was not written by `privib export`; re-export the run")
    out: dict[str, Any] = {}
    for key in METADATA_KEYS:
        value = raw[key]
        try:
            if not isinstance(value, str):
                raise TypeError("not a string")
            if key in _JSON_KEYS:
                out[key] = json.loads(value)
            elif key in _INT_KEYS:
                out[key] = int(value)
            elif key in _FLOAT_KEYS:
                out[key] = float(value)
            elif key in _BOOL_KEYS:
                if value not in ("true", "false"):
                    raise ValueError("not true or false")
                out[key] = value == "true"
            else:
                out[key] = value
        except (ValueError, TypeError, RecursionError) as exc:
            raise ExportError(
                f"{source} metadata field '{key}' is {short(value)}, which does not parse ({type(exc).__name__}): re-export the run"
            ) from exc
    check_metadata_types(out, source)
    check_format(out, source)
    return out


def check_metadata_types(metadata: Mapping[str, Any], source: str) -> None:
    """Every :data:`METADATA_KEYS` entry present with its JSON type; ExportError naming ``source`` and the field."""
    for key in METADATA_KEYS:
        if key not in metadata:
            raise ExportError(f"{source} lacks metadata field '{key}': it was not written by `privib export`; re-export the run")
        value = metadata[key]
        if key == "encoder_widths":
            ok, want = isinstance(value, list) and all(_is_int(w) for w in value), "a list of whole numbers"
        elif key in _JSON_KEYS:
            ok, want = isinstance(value, list) and all(isinstance(v, str) for v in value), "a list of strings"
        elif key in _INT_KEYS:
            ok, want = _is_int(value), "a whole number"
        elif key in _FLOAT_KEYS:
            ok, want = _is_int(value) or isinstance(value, float) and math.isfinite(value), "a finite number"
        elif key in _BOOL_KEYS:
            ok, want = isinstance(value, bool), "true or false"
        else:
            ok, want = isinstance(value, str), "a string"
        if not ok:
            raise ExportError(f"{source} metadata field '{key}' is {short(value)}, not {want}: re-export the run")


def _is_int(value: Any) -> bool:
    """A JSON whole number in the int64 range (booleans are ints in Python, not here)."""
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def check_format(metadata: Mapping[str, Any], source: str) -> None:
    """Refuse metadata that is not privib's, or of a format version this privib cannot read."""
    if metadata.get("format") != FORMAT:
        raise ExportError(
            f"{source} is not a privib encoder export (format {short(metadata.get('format'))}): pass a folder written by `privib export`"
        )
    version = metadata.get("format_version")
    if not _is_int(version) or version < 1:
        raise ExportError(f"{source} metadata field 'format_version' is {short(version)}, not a whole number >= 1: re-export the run")
    if version > FORMAT_VERSION:
        raise ExportError(
            f"{source} uses export format {version}, newer than this privib "
            f"({privib_version()}) reads ({FORMAT_VERSION}): upgrade privib"
        )


def read_manifest(folder: Path, verify_key: bytes | None = None) -> dict[str, Any]:
    """The manifest of an export folder, checked for shape; ExportError naming the file and field otherwise.

    Its size is checked before it is read, and every ``files`` entry must hold a sha256 and a
    byte count, so that :func:`verified_bytes` can compare sizes before reading anything. With
    ``verify_key``, the bytes read must carry a valid ``manifest.sig`` (:mod:`privib.export.signing`).
    """
    path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise ExportError(f"export folder {folder} does not exist: pass the export/ folder of a run (`privib export RUN` writes it)")
    if not path.is_file():
        raise ExportError(f"{folder} is not a privib export folder (no {MANIFEST_FILE}): pass the export/ folder of a run, or re-export it")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ExportError(f"{path} is {size} bytes, over the {MAX_JSON_BYTES >> 20} MiB a manifest may hold: re-export the run")
    with path.open("rb") as handle:
        text = handle.read(MAX_JSON_BYTES + 1)
    try:
        if len(text) > MAX_JSON_BYTES:
            raise ValueError("it grew while being read")
        if verify_key is not None:
            verify_export(folder, text, verify_key)
        manifest = json.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ExportError(f"{path} is corrupted or truncated ({type(exc).__name__}: {short(str(exc))}): re-export the run") from exc
    if not isinstance(manifest, dict):
        raise ExportError(f"{path} is corrupted or truncated (it holds {short(manifest)}, not a JSON object): re-export the run")
    for key in ("files", "metadata"):
        if not isinstance(manifest.get(key), dict):
            raise ExportError(f"{path} field '{key}' is {short(manifest.get(key))}, not an object: re-export the run")
    for name, entry in manifest["files"].items():
        where = f"files[{short(name)}]"
        if not isinstance(entry, dict):
            raise ExportError(f"{path} field {where} is {short(entry)}, not an object with sha256 and bytes: re-export the run")
        if not _is_int(entry.get("bytes")) or entry["bytes"] < 0:
            raise ExportError(f"{path} field {where}.bytes is {short(entry.get('bytes'))}, not a byte count: re-export the run")
        digest = entry.get("sha256")
        if not (isinstance(digest, str) and len(digest) == 64 and set(digest) <= _HEX):
            raise ExportError(f"{path} field {where}.sha256 is {short(digest)}, not a sha256 hex digest: re-export the run")
    if "format_version" in manifest and not _is_int(manifest["format_version"]):
        raise ExportError(f"{path} field 'format_version' is {short(manifest['format_version'])}, not a whole number: re-export the run")
    check_format(manifest["metadata"], str(path))
    return manifest


def verified_bytes(folder: Path, name: str, manifest: Mapping[str, Any]) -> bytes:
    """Read ``name`` from an export folder, checked against the manifest's size and sha256.

    The size on disk is compared with the manifest (and the manifest's with :func:`file_limit`)
    before a byte is read, so a huge or sparse file is refused without reading it.
    """
    path = folder / name
    entry = manifest["files"].get(name)
    if entry is None:
        raise ExportError(f"{folder} has no {name} listed in its manifest: re-export with a format that writes it")
    if not path.is_file():
        raise ExportError(f"{path} is missing (listed in {MANIFEST_FILE}): copy the whole export folder, or re-export the run")
    expected, limit = int(entry["bytes"]), file_limit(name)
    if expected > limit:
        raise ExportError(
            f"{folder / MANIFEST_FILE} field files[{short(name)}].bytes is {expected}, over the {limit >> 20} MiB privib reads for "
            f"{name}: it was not written by `privib export`; re-export the run"
        )
    size = path.stat().st_size
    if size != expected:
        raise ExportError(
            f"{path} is corrupted or truncated ({size} bytes on disk; {MANIFEST_FILE} field files[{short(name)}].bytes "
            f"says {expected}): copy it again or re-export the run"
        )
    with path.open("rb") as handle:
        data = handle.read(expected + 1)
    if len(data) != expected or sha256_bytes(data) != entry["sha256"]:
        raise ExportError(
            f"{path} is corrupted or truncated ({len(data)} bytes, sha256 differs from {MANIFEST_FILE}): "
            "copy it again or re-export the run"
        )
    return data


def parse_formats(formats: str | Iterable[str] | None) -> list[str]:
    """``"onnx,safetensors"`` or a list -> known format names in canonical order; ExportError otherwise."""
    if formats is None:
        return list(DEFAULT_FORMATS)
    items = formats.split(",") if isinstance(formats, str) else [str(f) for f in formats]
    names = [item.strip().lower().lstrip(".") for item in items if item and item.strip()]
    if "all" in names:
        return list(DEFAULT_FORMATS)
    unknown = [n for n in names if n not in FORMAT_FILES]
    if unknown or not names:
        raise ExportError(
            f"unknown export format(s) {unknown or names}: use a comma-separated subset of {', '.join(FORMAT_FILES)} (or all)"
        )
    return [f for f in DEFAULT_FORMATS if f in names]


def check_replaceable(target: Path) -> None:
    """Refuse to write an export over anything but nothing, an empty folder, or an earlier privib export.

    An export replaces its folder as a whole, so a folder given as the output must hold nothing a
    user could lose: a folder is an earlier export when its manifest says so and it holds no file
    that the manifest does not list (a run folder, a home folder or a runs folder never passes).
    """
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or not target.is_dir():
        raise ExportError(f"{target} exists and is not a folder: choose another output folder (--out)")
    entries = sorted(p.name for p in target.iterdir())
    if not entries:
        return
    manifest_path = target / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else None
    except (OSError, ValueError, UnicodeDecodeError):
        manifest = None
    listed = manifest.get("files") if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None
    if not isinstance(listed, dict):
        raise ExportError(
            f"{target} is not an earlier privib export (no privib {MANIFEST_FILE}) and holds {len(entries)} "
            f"{'entry' if len(entries) == 1 else 'entries'}: privib replaces an export folder whole, so it refuses to write there; choose a new or empty --out folder"
        )
    foreign = [name for name in entries if name not in (MANIFEST_FILE, SIGNATURE_FILE) and name not in listed]
    if foreign:
        raise ExportError(
            f"{target} holds {len(foreign)} {'entry that is' if len(foreign) == 1 else 'entries that are'} not part of its export ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}): move them away or choose another --out folder; nothing was changed"
        )
