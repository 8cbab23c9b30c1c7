"""Load an exported encoder and encode raw records: the downstream API.

::

    import privib
    encoder = privib.load_encoder("runs/<run>/export")            # backend="torch" (safetensors)
    z = encoder.encode(raw_dataframe)                               # (rows, z_dim) float32, what the run released
    z = encoder.encode(raw_dataframe, sample=True, seed=0)          # one draw z ~ q(z|x)
    z = encoder.encode(raw_dataframe, key=secret)                   # one draw, its noise keyed to the record
    mean, log_var = encoder.encode_distribution(raw_dataframe)
    cells = encoder.cells(raw_dataframe)                            # a cell release: (rows,) cell ids

An export of a cell release (``model.release cells``) returns from ``encode`` the one-hot cell of
each row, float32 ``(rows, n_cells)``, the same on every call (its ``log_var`` is the deterministic
constant, so ``sample=True`` returns it too); ``cells`` returns the ids, the argmax of that one-hot.

Neither backend imports Lightning, W&B or privib's training code; the ``onnx`` backend
does not import torch at all. The torch backend rebuilds the encoder from the export's
metadata and loads ``encoder.safetensors`` (no pickle). Every file is checked against the
size and sha256 in ``manifest.json`` before use, and its content against the metadata
(:mod:`privib.export.validation`): a damaged or crafted folder is refused at load, and codes
that are not finite are never returned.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from privib.data.preprocessing import UNKNOWN_POLICIES, PreprocessSpecError, TabularPreprocessor
from privib.errors import DataError, ExportError
from privib.export import noise, spec, validation
from privib.export.backends import Runner, onnx_runner, torch_runner
from privib.export.spec import short

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx")
DEFAULT_BATCH_SIZE = 65536
MIN_RUN_ROWS = 16  # every backend call runs at least this many rows (see ExportedEncoder._run_rows)


class EncoderInputError(ExportError, DataError):
    """Records given to an exported encoder are unusable (missing column, NaN, wrong width or dtype...)."""


class ExportedEncoder:
    """An exported privib encoder, ready to encode raw records or preprocessed feature arrays.

    Attributes
    ----------
    folder: the export folder.
    backend: ``torch`` or ``onnx``.
    metadata: the export metadata (privib version, config hash, data fingerprint, architecture...).
    feature_names: names of the preprocessed features, in the order the model reads them.
    input_columns: the raw columns a DataFrame must hold.
    z_dim: width of the representation.
    preprocessor: the fitted :class:`~privib.data.preprocessing.TabularPreprocessor`.
    """

    def __init__(
        self, folder: Path, backend: str, metadata: dict[str, Any], preprocessor: TabularPreprocessor, runner: Runner
    ) -> None:
        self.folder = folder
        self.backend = backend
        self.metadata = metadata
        self.preprocessor = preprocessor
        self._run = runner
        self._logged: set[str] = set()

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])

    @property
    def input_columns(self) -> list[str]:
        return list(self.metadata["input_columns"])

    @property
    def z_dim(self) -> int:
        return int(self.metadata["z_dim"])

    @property
    def input_dim(self) -> int:
        return int(self.metadata["input_dim"])

    @property
    def model_path(self) -> Path:
        """The model file this backend runs."""
        return self.folder / (spec.SAFETENSORS_FILE if self.backend == "torch" else spec.ONNX_FILE)

    @property
    def release(self) -> str:
        """The representation the run released and audited: ``mean``, ``sample`` or ``cells``."""
        return str(self.metadata.get("release", "mean"))

    def cells(self, records: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """The cell id (``0 .. z_dim - 1``, int64) of each record, for an export of a cell release."""
        if self.release != "cells":
            raise ExportError(f"{self.folder} releases a Gaussian code ({self.release}), not cells: use encode()")
        return self.encode_distribution(records, batch_size=batch_size)[0].argmax(axis=1).astype(np.int64)

    def __repr__(self) -> str:
        return (f"ExportedEncoder(folder='{self.folder}', backend='{self.backend}', input_columns={len(self.input_columns)}, "
                f"features={self.input_dim}, z_dim={self.z_dim})")

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        records: Any,
        sample: bool | None = None,
        seed: int | np.random.Generator | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        key: bytes | str | None = None,
        id_column: str | None = None,
    ) -> np.ndarray:
        """Representations of ``records`` as a float32 array ``(rows, z_dim)``.

        Parameters
        ----------
        records: a pandas DataFrame of raw columns (extra columns are ignored and named once
            in a log message), a list of dicts / one dict of raw values, or an already
            preprocessed 2-D array of width ``len(feature_names)``.
        sample: None (default) returns what the run released and was audited on
            (``metadata["release"]``: the mean of q(z|x), one sample, or the one-hot cell); False returns the mean;
            True draws one z = mean + exp(log_var / 2) * eps per row.
        seed: seed or numpy Generator for ``sample=True`` (the same seed gives the same z on both
            backends); this noise follows the row's position, so two releases of a record average.
        batch_size: rows preprocessed and encoded at a time.
        key: a secret (>= 16 bytes) keying each record's noise to the record (:mod:`privib.export.noise`):
            the same z in any row order, batch size or backend; another key, independent noise. Implies sampling.
        id_column: with ``key``, key the noise to this DataFrame column instead of the encoder's features.
        """
        if key is None:
            if id_column is not None:
                raise ExportError("id_column keys the noise to an id: pass key= as well")
            mean, log_var = self.encode_distribution(records, batch_size=batch_size)
            if sample is None:
                sample = self.release == "sample"
            if not sample:
                return mean
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
            eps = rng.standard_normal(mean.shape, dtype=np.float32)
        else:
            if sample is False:
                raise ExportError("key= keys the noise of sampled codes: drop it to encode the mean (sample=False)")
            if seed is not None:
                raise ExportError("key= and seed= both choose the noise: pass one of them")
            mean, log_var, eps = self._keyed(records, noise.check_key(key), id_column, batch_size)
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            z = (mean + np.exp(np.float32(0.5) * log_var) * eps).astype(np.float32, copy=False)
        bad = ~np.isfinite(z).all(axis=1)
        if bad.any():
            raise ExportError(
                f"sampling from {self.model_path} overflowed for {int(bad.sum())} of {len(z)} row(s) (first at row "
                f"{int(np.flatnonzero(bad)[0])}): its log_var is too large; re-export the run, or encode the mean (sample=False)"
            )
        return z

    def encode_distribution(self, records: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, log_var)`` of q(z|x), each float32 ``(rows, z_dim)``.

        A deterministic encoder's log-variance is the finite constant
        ``metadata["deterministic_log_var"]`` (its ``exp`` is exactly 0).
        """
        parts = [(mean, log_var) for _, _, mean, log_var in self._batches(_as_frame_or_array(records), batch_size)]
        return np.concatenate([mean for mean, _ in parts]), np.concatenate([log_var for _, log_var in parts])

    def _keyed(self, records: Any, key: bytes, id_column: str | None,
               batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, log_var, eps)`` with eps from ``key`` and each record's features (or its ``id_column``)."""
        data, ids = _as_frame_or_array(records), None
        if id_column is not None:
            if not isinstance(data, pd.DataFrame) or id_column not in [str(c) for c in data.columns]:
                raise EncoderInputError(f"id column {short(id_column)} is not in the records: pass a DataFrame that holds it")
            ids = data[id_column].reset_index(drop=True)
            data = data if id_column in self.input_columns else data.drop(columns=[id_column])
        parts = []
        for start, features, mean, log_var in self._batches(data, batch_size):
            try:
                batch_ids = None if ids is None else ids.iloc[start : start + len(features)]
                parts.append((mean, log_var, noise.batch_noise(key, self.z_dim, features, batch_ids, start)))
            except ValueError as exc:
                raise EncoderInputError(f"id column {short(id_column)}: {exc}") from exc
        mean, log_var, eps = (np.concatenate(arrays) for arrays in zip(*parts))
        return mean, log_var, eps

    def _batches(self, data: pd.DataFrame | np.ndarray, batch_size: int) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """``(first row, features, mean, log_var)`` per batch; one empty batch for empty input."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if len(data) == 0:
            if isinstance(data, pd.DataFrame):
                self._check_frame(data)
            empty = np.zeros((0, self.z_dim), dtype=np.float32)
            yield 0, np.zeros((0, self.input_dim), dtype=np.float32), empty, empty.copy()
            return
        for start in range(0, len(data), batch_size):
            chunk = data[start : start + batch_size] if isinstance(data, np.ndarray) else data.iloc[start : start + batch_size]
            features = self.features(chunk, row_offset=start)
            yield (start, features,
                   *validation.check_codes(*self._run_rows(features), len(features), self.z_dim, self.model_path, start))

    def _run_rows(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The backend on ``features`` padded with zero rows to MIN_RUN_ROWS: torch rounds 1-3 rows differently
        from a batch, and the padding makes a row's code independent of its batch (measured)."""
        padded = np.zeros((max(0, MIN_RUN_ROWS - len(features)), features.shape[1]), dtype=np.float32)
        mean, log_var = self._run(np.concatenate([features, padded]) if len(padded) else features)
        return mean[: len(features)], log_var[: len(features)]

    # ------------------------------------------------------------------ inputs
    def features(self, records: Any, row_offset: int = 0) -> np.ndarray:
        """The float32 feature matrix the model reads: preprocessed DataFrame rows, or a checked array."""
        data = _as_frame_or_array(records)
        if isinstance(data, pd.DataFrame):
            return self.preprocess(data, row_offset=row_offset)
        return self._check_array(data, row_offset)

    def preprocess(self, frame: pd.DataFrame, row_offset: int = 0) -> np.ndarray:
        """Raw columns -> feature matrix, by preprocess.json; EncoderInputError naming the column otherwise."""
        self._check_frame(frame)
        for column in self.preprocessor.categorical:
            self._check_categorical_dtype(frame, column)
        try:
            features = self.preprocessor.transform(frame)
        except DataError as exc:
            message = str(exc)
            if row_offset and "row" in message:
                message += f" (rows counted from {row_offset})"
            raise EncoderInputError(message) from exc
        self._report_zero_groups(frame, features)
        return features

    def _check_frame(self, frame: pd.DataFrame) -> None:
        columns = [str(c) for c in frame.columns]
        missing = [c for c in self.input_columns if c not in columns]
        if missing:
            raise EncoderInputError(
                f"input is missing column(s) {short(missing)}: this encoder reads {short(self.input_columns)}"
            )
        extra = [c for c in columns if c not in set(self.input_columns)]
        if extra:
            self._log_once(f"extra:{extra}", "ignoring %d column(s) the encoder does not read: %s", len(extra), extra)

    def _check_categorical_dtype(self, frame: pd.DataFrame, column: str) -> None:
        """Numbers in a column whose categories are all words: a wrong column or dtype, not unknown categories."""
        raw = frame[column]
        vocab = self.preprocessor.vocab[column]
        if (
            len(raw) and pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype)
            and raw.notna().any() and not any(_numeric_like(v) for v in vocab)
            and not getattr(self.preprocessor, "recode", {}).get(column)
        ):
            raise EncoderInputError(
                f"column {short(column)} holds numbers ({raw.dtype}) but the encoder expects categories such as "
                f"{short(vocab[:3])}: pass the raw category values"
            )

    def _report_zero_groups(self, frame: pd.DataFrame, features: np.ndarray) -> None:
        """Name once per column the rows that preprocess.json's policy encoded as an all-zero one-hot group."""
        start = len(self.preprocessor.numeric)
        for column in self.preprocessor.categorical:
            width = len(self.preprocessor.vocab[column])
            zero = ~features[:, start : start + width].any(axis=1)
            start += width
            if zero.any():
                values = frame[column][zero]
                missing = int(values.isna().sum())
                examples = sorted({str(v) for v in values.dropna().tolist()})[:3]
                self._log_once(
                    f"zeros:{column}",
                    "column '%s': %d row(s) encoded as an all-zero one-hot group, as preprocess.json says "
                    "(unknown_category=%s): %d with categories never seen in training%s, %d missing",
                    column, int(zero.sum()), self.preprocessor.unknown_category, len(values) - missing,
                    f" (e.g. {examples})" if examples else "", missing,
                )

    def _check_array(self, array: np.ndarray, row_offset: int) -> np.ndarray:
        if array.dtype.kind not in "biuf":
            raise EncoderInputError(
                f"array input has dtype {array.dtype}, not numbers: pass preprocessed features, or a DataFrame of raw columns"
            )
        if array.ndim != 2:
            raise EncoderInputError(
                f"array input must be 2-D (rows, {self.input_dim} features), got shape {tuple(array.shape)}"
            )
        if array.shape[1] != self.input_dim:
            raise EncoderInputError(
                f"input width {array.shape[1]} does not match the encoder's {self.input_dim} features "
                f"(encoder.feature_names lists them): pass a DataFrame of raw columns {short(self.input_columns[:3])}... instead"
            )
        features = np.ascontiguousarray(array, dtype=np.float32)
        bad = ~np.isfinite(features)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise EncoderInputError(
                f"array input has {int(bad.sum())} NaN or infinite value(s) (first at row {int(row) + row_offset}, "
                f"feature {short(self.feature_names[col])}): fill or drop them"
            )
        return features

    def _log_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.info(message, *args)


def _numeric_like(value: str) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _as_frame_or_array(records: Any) -> pd.DataFrame | np.ndarray:
    if isinstance(records, pd.DataFrame):
        return records
    if isinstance(records, Mapping):
        return pd.DataFrame([dict(records)])
    if isinstance(records, (list, tuple)) and records and all(isinstance(r, Mapping) for r in records):
        return pd.DataFrame(list(records))
    if isinstance(records, pd.Series):
        raise EncoderInputError("a pandas Series is ambiguous: pass a DataFrame (one row per record) or a 2-D array")
    if hasattr(records, "detach") and hasattr(records, "cpu"):  # a torch tensor, without importing torch
        records = records.detach().cpu().numpy()
    try:
        return np.asarray(records)
    except (TypeError, ValueError) as exc:
        raise EncoderInputError(f"cannot read input of type {type(records).__name__} as records or a feature array ({exc})") from exc


# ---------------------------------------------------------------------------- loading
def resolve_export_folder(path: str | os.PathLike[str]) -> Path:
    """An export folder from its path, a run folder holding ``export/``, or a file inside the export."""
    folder = Path(path).expanduser()
    if folder.is_file():
        folder = folder.parent
    if not (folder / spec.MANIFEST_FILE).is_file() and (folder / "export" / spec.MANIFEST_FILE).is_file():
        folder = folder / "export"
    return folder


def load_encoder(
    path: str | os.PathLike[str],
    backend: str = "torch",
    *,
    unknown_category: str | None = None,
    verify_key: bytes | None = None,
) -> ExportedEncoder:
    """Load an exported encoder.

    Parameters
    ----------
    path: the export folder (``runs/<run>/export``), or the run folder holding it.
    backend: ``torch`` (encoder.safetensors, rebuilt from metadata; no pickle) or ``onnx``
        (encoder.onnx through onnxruntime; torch is not imported).
    unknown_category: override preprocess.json's policy for categories never seen in
        training: ``error`` refuses them, ``zeros`` encodes an all-zero one-hot group.
    verify_key: when given, the folder must carry a ``manifest.sig`` made with this key
        (``privib export --sign_key FILE``); the manifest hashes every file, so the signature
        covers the whole export.

    Raises
    ------
    privib.errors.ExportError: the folder, a file in it, or its metadata is missing,
        truncated, corrupted or inconsistent (the message names the file).
    """
    if backend not in BACKENDS:
        raise ExportError(f"unknown backend '{backend}': use one of {', '.join(BACKENDS)}")
    if unknown_category is not None and unknown_category not in UNKNOWN_POLICIES:
        raise ExportError(f"unknown_category must be one of {UNKNOWN_POLICIES}, got '{unknown_category}'")
    folder = resolve_export_folder(path)
    manifest = spec.read_manifest(folder, verify_key)
    metadata = _manifest_metadata(manifest, folder)
    preprocessor = _load_preprocessor(folder, manifest, metadata)
    if unknown_category is not None:
        preprocessor.unknown_category = unknown_category
    runner = (torch_runner if backend == "torch" else onnx_runner)(folder, manifest, metadata)
    return ExportedEncoder(folder, backend, metadata, preprocessor, runner)


def _manifest_metadata(manifest: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """The manifest's metadata, checked for types (before the string round trip could hide them) and sanity."""
    source = str(folder / spec.MANIFEST_FILE)
    spec.check_metadata_types(manifest["metadata"], source)
    metadata = spec.metadata_from_strings(spec.metadata_to_strings(manifest["metadata"]), source)
    validation.check_architecture(metadata, source)
    return metadata


def _load_preprocessor(folder: Path, manifest: Mapping[str, Any], metadata: Mapping[str, Any]) -> TabularPreprocessor:
    path = folder / spec.PREPROCESS_FILE
    data = spec.verified_bytes(folder, spec.PREPROCESS_FILE, manifest)
    if spec.sha256_bytes(data) != metadata["preprocess_sha256"]:
        raise ExportError(f"{path} is not the preprocessing this encoder was exported with (sha256 differs): re-export the run")
    try:
        preprocessor = TabularPreprocessor.from_dict(json.loads(data.decode("utf-8")))
    except PreprocessSpecError as exc:
        raise ExportError(f"{path} field {exc.field} {exc.problem}: re-export the run") from exc
    except (ValueError, UnicodeDecodeError, RecursionError, DataError) as exc:
        raise ExportError(f"{path} is unreadable ({type(exc).__name__}: {short(str(exc))}): re-export the run") from exc
    if preprocessor.feature_names != list(metadata["feature_names"]):
        raise ExportError(f"{path} produces features that differ from the encoder's metadata: re-export the run")
    if preprocessor.input_columns != list(metadata["input_columns"]):
        raise ExportError(f"{path} reads columns that differ from the encoder's metadata field 'input_columns': re-export the run")
    return preprocessor
