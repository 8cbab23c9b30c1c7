"""Write an export folder from a trained encoder and its fitted preprocessor.

:func:`export_encoder` works on plain objects (a :class:`GaussianMLPEncoder` and a
:class:`TabularPreprocessor`), so it needs no run folder, Lightning or data files;
:func:`privib.export.run.export_run` feeds it from a run's checkpoint. The folder is built
beside its destination and renamed into place, so a reader never sees half an export and
a failed export leaves the previous one intact.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import secrets
import shutil
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

import numpy as np
import torch
import yaml

from privib.data.preprocessing import TabularPreprocessor
from privib.errors import ExportError
from privib.export import spec
from privib.export.modules import MeanLogVarEncoder, encoder_architecture
from privib.io import sha256_file
from privib.locks import process_alive
from privib.models.cells import CellEncoder
from privib.models.networks import GaussianMLPEncoder

log = logging.getLogger(__name__)

# Largest |difference| between the torch module and a written format on the parity batch
# above which the export is refused (measured errors are ~1e-6 in float32).
PARITY_TOLERANCE = 1e-4


@dataclass
class ExportResult:
    """What :func:`export_encoder` wrote: the folder, its metadata, files and export figures."""

    folder: Path
    metadata: dict[str, Any]
    files: dict[str, dict[str, Any]]
    metrics: dict[str, float] = field(default_factory=dict)


def build_metadata(
    encoder: GaussianMLPEncoder | CellEncoder,
    preprocessor: TabularPreprocessor,
    preprocess_sha: str,
    *,
    dataset: str,
    target: str,
    sensitive: list[str],
    train_rows: int,
    run_name: str,
    config: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The typed metadata stored with every model file (see :data:`privib.export.spec.METADATA_KEYS`)."""
    architecture = encoder_architecture(encoder)
    return {
        "format": spec.FORMAT,
        "format_version": spec.FORMAT_VERSION,
        "privib_version": spec.privib_version(),
        "torch_version": torch.__version__,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_name": run_name,
        "config_sha256": spec.config_sha256(config) if config is not None else "",
        "dataset": dataset,
        "target": target,
        "sensitive": list(sensitive),
        "train_rows": int(train_rows),
        "preprocess_sha256": preprocess_sha,
        "data_fingerprint": spec.data_fingerprint(dataset, train_rows, preprocess_sha, target, list(sensitive)),
        "input_columns": preprocessor.input_columns,
        "feature_names": preprocessor.feature_names,
        **architecture,
        "input_name": spec.INPUT_NAME,
        "output_names": list(spec.OUTPUT_NAMES),
        "deterministic_log_var": spec.DETERMINISTIC_LOG_VAR,
        "release": "cells" if isinstance(encoder, CellEncoder) else str(((config or {}).get("model") or {}).get("release", "mean")),
    }


def export_encoder(
    encoder: GaussianMLPEncoder | CellEncoder,
    preprocessor: TabularPreprocessor,
    out_dir: str | os.PathLike[str],
    *,
    formats: str | Iterable[str] | None = None,
    dataset: str,
    target: str,
    sensitive: list[str],
    train_rows: int,
    run_name: str = "",
    config: Mapping[str, Any] | None = None,
    config_text: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    parity_features: np.ndarray | torch.Tensor | None = None,
    notes: Mapping[str, Any] | None = None,
    sign_key: bytes | None = None,
) -> ExportResult:
    """Write ``out_dir`` (replacing any previous export there) and return what was written.

    Parameters
    ----------
    encoder: the trained encoder (copied; left untouched); a :class:`CellEncoder` exports its one-hot cells as ``mean``.
    preprocessor: the fitted preprocessor whose feature vector the encoder reads.
    formats: subset of safetensors, onnx, pt2 (a list or comma-separated string); default all.
    dataset, target, sensitive, train_rows: the training data, for metadata and the model card.
    run_name: name of the run folder the encoder comes from.
    config: the run's resolved config (hashed into the metadata, summarized in the card).
    config_text: the run's config.yaml verbatim (else ``config`` is dumped as YAML).
    metrics: the run's metrics; copied to metrics.json and quoted in the model card.
    parity_features: preprocessed rows on which every written format is checked against
        the torch module (default: 256 seeded standard-normal rows).
    notes: extra facts for the model card (e.g. the checkpoint used).
    sign_key: when given, ``manifest.sig`` signs the export (:mod:`privib.export.signing`).
    """
    started = time.perf_counter()
    chosen = spec.parse_formats(formats)
    target_dir = Path(out_dir).expanduser()
    if int(encoder.input_dim) != preprocessor.n_features:
        raise ExportError(
            f"the encoder reads {encoder.input_dim} features but the preprocessor produces {preprocessor.n_features}: "
            "the data changed since training; export from the run's own data config"
        )
    module = MeanLogVarEncoder(copy.deepcopy(encoder).cpu().float()).eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)

    # Not key-sorted: from_dict reads the column order from the order of the "numeric" / "categorical" keys.
    preprocess_text = json.dumps(preprocessor.to_dict(), indent=2) + "\n"
    preprocess_sha = spec.sha256_bytes(preprocess_text.encode())
    metadata = build_metadata(
        module.encoder, preprocessor, preprocess_sha, dataset=dataset, target=target, sensitive=sensitive,
        train_rows=train_rows, run_name=run_name, config=config,
    )
    strings = spec.metadata_to_strings(metadata)

    spec.check_replaceable(target_dir)
    try:
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target_dir)
        tmp = target_dir.parent / f".{target_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
    except OSError as exc:
        raise ExportError(f"cannot write beside {target_dir} ({exc.strerror}): choose a writable output folder") from exc
    export_metrics: dict[str, float] = {}
    try:
        writers = {"safetensors": _write_safetensors, "onnx": _write_onnx, "pt2": _write_pt2}
        for name in chosen:
            t0 = time.perf_counter()
            writers[name](module, tmp / spec.FORMAT_FILES[name], strings)
            export_metrics[f"export/{name}/seconds"] = time.perf_counter() - t0
            export_metrics[f"export/{name}/bytes"] = float((tmp / spec.FORMAT_FILES[name]).stat().st_size)
        export_metrics.update(_check_parity(module, tmp, chosen, parity_features))
        (tmp / spec.PREPROCESS_FILE).write_text(preprocess_text, encoding="utf-8")
        if config_text is None and config is not None:
            config_text = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)
        if config_text is not None:
            (tmp / spec.CONFIG_FILE).write_text(config_text, encoding="utf-8")
        export_metrics["export/seconds"] = time.perf_counter() - started
        all_metrics = {**dict(metrics or {}), **export_metrics}
        (tmp / spec.METRICS_FILE).write_text(json.dumps(all_metrics, indent=2, sort_keys=True, default=float) + "\n")

        from privib.export.model_card import render_model_card

        files_before_card = _file_table(tmp)
        card = render_model_card(
            metadata, all_metrics, config or {}, files_before_card, chosen, notes or {}, preprocessor.to_dict()
        )
        (tmp / spec.MODEL_CARD_FILE).write_text(card, encoding="utf-8")
        files = _file_table(tmp)
        manifest = {"format": spec.FORMAT, "format_version": spec.FORMAT_VERSION, "formats": chosen,
                    "metadata": metadata, "files": files}
        (tmp / spec.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if sign_key is not None:
            from privib.export.signing import sign_export

            sign_export(tmp, sign_key)
        _fsync_tree(tmp)
        _swap_into_place(tmp, target_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.debug("exported encoder to %s (%s) in %.1f s", target_dir, ", ".join(chosen), export_metrics["export/seconds"])
    return ExportResult(folder=target_dir, metadata=metadata, files=files, metrics=export_metrics)


# ----------------------------------------------------------------------------- formats
def _example_input(module: MeanLogVarEncoder) -> torch.Tensor:
    return torch.zeros(4, module.encoder.input_dim)


def _dynamic_shapes() -> dict[str, dict[int, Any]]:
    return {spec.INPUT_NAME: {0: torch.export.Dim("batch")}}


def _write_safetensors(module: MeanLogVarEncoder, path: Path, metadata: dict[str, str]) -> None:
    from safetensors.torch import save

    tensors = {name: tensor.detach().contiguous().clone() for name, tensor in module.encoder.state_dict().items()}
    path.write_bytes(save(tensors, metadata=metadata))


def _write_pt2(module: MeanLogVarEncoder, path: Path, metadata: dict[str, str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(module, (_example_input(module),), dynamic_shapes=_dynamic_shapes())
        torch.export.save(program, path, extra_files={"privib_metadata.json": json.dumps(metadata, sort_keys=True)})


def _write_onnx(module: MeanLogVarEncoder, path: Path, metadata: dict[str, str]) -> None:
    """One self-contained .onnx (weights inside, no side .onnx.data), dynamic batch, named outputs."""
    import onnx

    quiet = [logging.getLogger(name) for name in ("torch.onnx", "torch.onnx._internal.exporter._registration", "torch.export")]
    levels = [logger.level for logger in quiet]
    try:
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, (_example_input(module),), None, dynamo=True, external_data=False, verbose=False,
                input_names=[spec.INPUT_NAME], output_names=list(spec.OUTPUT_NAMES),
                dynamic_shapes=_dynamic_shapes(), opset_version=spec.ONNX_OPSET,
            )
    except Exception as exc:
        raise ExportError(f"ONNX export failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
    proto = program.model_proto
    proto.producer_name = "privib"
    proto.producer_version = metadata["privib_version"]
    proto.doc_string = (
        f"privib encoder q(z|x): input '{spec.INPUT_NAME}' = preprocessed features (see preprocess.json), "
        f"outputs 'mean' and 'log_var' of shape (batch, {metadata['z_dim']})"
    )
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    path.write_bytes(proto.SerializeToString())


# ----------------------------------------------------------------------------- checks
def _check_parity(
    module: MeanLogVarEncoder, folder: Path, formats: list[str], features: np.ndarray | torch.Tensor | None
) -> dict[str, float]:
    """Run every written format on one batch; refuse the export if any disagrees with the torch module."""
    if features is None:
        features = torch.randn(256, module.encoder.input_dim, generator=torch.Generator().manual_seed(0))
    x = torch.as_tensor(np.asarray(features, dtype=np.float32))
    with torch.no_grad():
        reference = [t.numpy() for t in module(x)]
    out: dict[str, float] = {}
    for name in formats:
        if name == "safetensors":
            continue
        if name == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1  # one batch: a thread pool only costs
            session = ort.InferenceSession(str(folder / spec.ONNX_FILE), sess_options=options,
                                           providers=["CPUExecutionProvider"])
            got = session.run(list(spec.OUTPUT_NAMES), {spec.INPUT_NAME: x.numpy()})
        else:
            program = torch.export.load(folder / spec.PT2_FILE)
            with torch.no_grad():
                got = [t.numpy() for t in program.module()(x)]
        error = max(float(np.max(np.abs(g - r))) if r.size else 0.0 for g, r in zip(got, reference))
        out[f"export/parity/{name}_max_abs_err"] = error
        if not error <= PARITY_TOLERANCE:
            raise ExportError(f"the {name} export disagrees with the torch encoder by {error:.2e} (> {PARITY_TOLERANCE}): not written")
    return out


def _file_table(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != spec.MANIFEST_FILE
    }


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def remove_stale_temporaries(target: Path) -> None:
    """Delete ``.<target>.tmp-<pid>-*`` / ``.old-<pid>-*`` folders left by an export whose process has died."""
    for path in target.parent.glob(f".{target.name}.*-*-*"):
        kind, _, rest = path.name[len(target.name) + 2 :].partition("-")
        pid = rest.split("-", 1)[0]
        if kind in ("tmp", "old") and path.is_dir() and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` folder to ``target``, moving any previous export aside first."""
    backup: Path | None = None
    if target.exists():
        spec.check_replaceable(target)
        backup = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.replace(target, backup)
    try:
        os.replace(tmp, target)
    except BaseException:
        if backup is not None:
            os.replace(backup, target)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
