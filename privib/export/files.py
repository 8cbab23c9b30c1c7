"""Encode records from a CSV or Parquet file of any size, in batches, into Parquet, CSV or ``.npy``.

The output is written to a temporary file beside the target and renamed when complete, so a
failure (or an interrupt) never leaves a half-written output and never touches an earlier one.
"""
from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import numpy as np

from privib.errors import ConfigError, DataError

log = logging.getLogger(__name__)

INPUT_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
OUTPUT_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npy": "npy"}


@dataclass
class EncodeResult:
    """What :func:`encode_file` wrote: rows, seconds, and whether the codes are sampled."""

    target: Path
    rows: int
    seconds: float
    sampled: bool
    keyed: bool = False


def check_paths(source: Path, target: Path, keep: list[str]) -> tuple[str, str]:
    """The input and output kinds (csv, parquet, npy) of an encode job; ConfigError / DataError when unusable."""
    in_kind = INPUT_SUFFIXES.get(source.suffix.lower())
    out_kind = OUTPUT_SUFFIXES.get(target.suffix.lower())
    if in_kind is None:
        raise ConfigError(f"input {source} must end in .csv or .parquet")
    if out_kind is None:
        raise ConfigError(f"output {target} must end in .parquet, .csv or .npy")
    if out_kind == "npy" and keep:
        raise ConfigError("a .npy output holds only the codes: write .parquet or .csv to keep columns")
    if not source.is_file():
        raise DataError(f"input file {source} not found")
    if target.resolve() == source.resolve():
        raise ConfigError("the output must not overwrite the input file")
    if target.is_dir():
        raise ConfigError(f"output {target} is a folder: name a file to write, e.g. {target / 'z.parquet'}")
    return in_kind, out_kind


def encode_file(encoder: Any, source: Path, target: Path, *, keep: list[str] | None = None, batch_size: int = 65536,
                sample: bool | None = None, seed: int | None = None, progress: bool = True, key: bytes | None = None,
                id_column: str | None = None, require_key: bool = False) -> EncodeResult:
    """Encode every record of ``source`` with ``encoder`` (an ExportedEncoder) into ``target``, batch by batch.

    ``keep`` columns are copied before the codes ``z_0 ... z_{k-1}``; ``sample`` / ``seed`` / ``key`` /
    ``id_column`` are as for ``encoder.encode`` (a keyed row gets the same code in any batch). With
    ``require_key``, sampled codes without a key are refused (after the columns are checked). A progress
    bar goes to stderr when ``progress`` and stderr is a terminal.
    """
    from privib.export.encoder import EncoderInputError

    keep = list(keep or [])
    if batch_size < 1:
        raise ConfigError(f"--batch_size must be at least 1, got {batch_size}")
    in_kind, out_kind = check_paths(source, target, keep)
    reader = _Reader(source, in_kind, batch_size)
    columns = reader.columns()
    missing = [c for c in encoder.input_columns if c not in columns]
    if missing:
        raise EncoderInputError(f"{source} is missing column(s) {missing}: this encoder reads {encoder.input_columns}")
    absent = [c for c in keep if c not in columns]
    if absent:
        raise DataError(f"--keep column(s) {absent} are not in {source}: its columns are {columns}")
    if id_column is not None and id_column not in columns:
        raise DataError(f"--id_column {id_column!r} is not in {source}: its columns are {columns}")
    sampled = (encoder.release == "sample" if sample is None else bool(sample)) or key is not None
    if require_key and key is None and sampled and not encoder.metadata.get("deterministic"):
        raise ConfigError(
            "this encoder releases sampled codes: pass --noise_key FILE (or set $PRIVIB_NOISE_KEY) so that a record "
            "released again gets the same code, or --fresh_noise to draw new noise (two releases of a record then average)"
        )
    z_names = [f"z_{i}" for i in range(encoder.z_dim)]
    clash = [c for c in keep if c in z_names]
    if clash:
        raise ConfigError(f"--keep column(s) {clash} clash with the output's code columns {z_names[0]}..{z_names[-1]}")
    ignored = [c for c in columns if c not in set(encoder.input_columns) | set(keep) | {id_column}]
    if ignored:
        log.info("ignoring %d column(s) the encoder does not read: %s", len(ignored), ignored)
    ids = [id_column] if id_column else []
    needed = list(dict.fromkeys([*encoder.input_columns, *keep, *ids]))
    read = list(dict.fromkeys([*encoder.input_columns, *ids]))  # what encode() is given

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{secrets.token_hex(4)}"
    writer = _Writer(tmp, out_kind, z_names, keep, encoder.z_dim)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    rows = 0
    try:
        with _progress(reader.total_rows(), disabled=not progress) as advance:
            for frame in reader.batches(needed, categorical=encoder.preprocessor.categorical):
                try:
                    z = (encoder.encode(frame[read], key=key, id_column=id_column, batch_size=max(1, len(frame)))
                         if key is not None else encoder.encode(frame[read], sample=sample, seed=rng, batch_size=max(1, len(frame))))
                except EncoderInputError as exc:
                    raise EncoderInputError(f"{source}, rows {rows}-{rows + len(frame) - 1}: {exc}") from exc
                writer.write(frame, z)
                rows += len(frame)
                advance(len(frame))
        writer.close()
        os.replace(writer.finish(rows), target)
    except BaseException:
        writer.abort()
        raise
    return EncodeResult(target=target, rows=rows, seconds=time.perf_counter() - started, sampled=sampled, keyed=key is not None)


class _Reader:
    """Batches of a CSV or Parquet file, reading only the needed columns."""

    def __init__(self, path: Path, kind: str, batch_size: int) -> None:
        self.path, self.kind, self.batch_size = path, kind, batch_size
        self._parquet: Any = None
        if kind == "parquet":
            import pyarrow.parquet as pq

            try:
                self._parquet = pq.ParquetFile(path)
            except Exception as exc:
                raise DataError(f"{path} is not a readable Parquet file ({type(exc).__name__}: {exc})") from exc

    def columns(self) -> list[str]:
        if self._parquet is not None:
            return [str(n) for n in self._parquet.schema_arrow.names]
        import pandas as pd

        try:
            return [str(c) for c in pd.read_csv(self.path, nrows=0, skipinitialspace=True).columns]
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{self.path} is not a readable CSV file ({exc})") from exc

    def total_rows(self) -> int | None:
        return int(self._parquet.metadata.num_rows) if self._parquet is not None else None

    def batches(self, columns: list[str], categorical: list[str]) -> Iterator[Any]:
        import pandas as pd

        if self._parquet is not None:
            for batch in self._parquet.iter_batches(batch_size=self.batch_size, columns=columns):
                yield batch.to_pandas()
            return
        dtypes = {c: str for c in categorical if c in columns}
        try:
            for chunk in pd.read_csv(self.path, usecols=columns, dtype=dtypes, chunksize=self.batch_size, skipinitialspace=True):
                yield chunk.reset_index(drop=True)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"{self.path} could not be parsed ({str(exc).splitlines()[0]})") from exc


class _Writer:
    """Append batches of codes (plus kept columns) to a temporary file of the output's format."""

    def __init__(self, tmp: Path, kind: str, z_names: list[str], keep: list[str], z_dim: int) -> None:
        self.tmp, self.kind, self.z_names, self.keep, self.z_dim = tmp, kind, z_names, keep, z_dim
        self._parquet: Any = None
        self._schema: Any = None
        self._raw: Any = None
        self._first = True
        if kind == "npy":
            self._raw_path = tmp.with_name(tmp.name + ".raw")
            self._raw = open(self._raw_path, "wb")

    def _frame(self, frame: Any, z: np.ndarray) -> Any:
        import pandas as pd

        codes = pd.DataFrame(z, columns=self.z_names)
        if not self.keep:
            return codes
        return pd.concat([frame[self.keep].reset_index(drop=True), codes], axis=1)

    def write(self, frame: Any, z: np.ndarray) -> None:
        if self.kind == "npy":
            self._raw.write(np.ascontiguousarray(z, dtype=np.float32).tobytes())
            return
        out = self._frame(frame, z)
        if self.kind == "csv":
            out.to_csv(self.tmp, mode="w" if self._first else "a", header=self._first, index=False, float_format="%.9g")
            self._first = False
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(out, preserve_index=False)
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(self.tmp, self._schema)
        elif not table.schema.equals(self._schema):
            try:
                table = table.cast(self._schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                raise DataError(f"a --keep column changes type between batches ({exc}): keep a column of one type") from exc
        self._parquet.write_table(table)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._raw is not None:
            self._raw.close()

    def finish(self, rows: int) -> Path:
        """Complete the temporary file (an empty table when no rows were read) and return its path."""
        if self.kind == "npy":
            out = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=np.float32, shape=(rows, self.z_dim))
            if rows:
                out[:] = np.memmap(self._raw_path, dtype=np.float32, mode="r", shape=(rows, self.z_dim))
            out.flush()
            del out
            self._raw_path.unlink(missing_ok=True)
        elif rows == 0:
            import pandas as pd

            empty = pd.DataFrame({**{c: [] for c in self.keep}, **{c: np.zeros(0, np.float32) for c in self.z_names}})
            if self.kind == "csv":
                empty.to_csv(self.tmp, index=False)
            else:
                empty.to_parquet(self.tmp, index=False)
        return self.tmp

    def abort(self) -> None:
        try:
            self.close()
        except Exception:
            pass
        self.tmp.unlink(missing_ok=True)
        if self.kind == "npy":
            self._raw_path.unlink(missing_ok=True)


class _progress:
    """A rich progress bar on stderr (only on a terminal); ``advance(n)`` per batch."""

    def __init__(self, total: int | None, disabled: bool) -> None:
        self.total = total
        self.enabled = not disabled and sys.stderr.isatty()
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("encoding"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                                  TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self._progress.start()
        task = self._progress.add_task("encode", total=self.total)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
