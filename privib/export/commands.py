"""``privib export`` and ``privib encode``: the command-line side of privib.export.

Bad input ends as a :class:`~privib.errors.PrivibError` (one line, exit code 2, printed by
``privib.cli``). ``privib encode`` streams its input in batches, so files larger than memory
work; it writes to a temporary file beside the output and renames it when complete.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from privib.errors import ConfigError, DataError

log = logging.getLogger("privib.export")
INPUT_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
OUTPUT_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npy": "npy"}


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (one line, exit 2) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _show_privib_logs() -> None:
    """Make sure privib.export's INFO lines (ignored columns, unknown categories) reach stderr.

    ``privib.cli`` normally configures the ``privib`` logger; this is the fallback when
    nothing handles it (e.g. the command functions called from Python).
    """
    logger = logging.getLogger("privib.export")
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("privib: %(message)s"))
        logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)


# ---------------------------------------------------------------------------- export
def export_command(argv: list[str]) -> int:
    """``privib export RUN_FOLDER``: (re)write ``RUN_FOLDER/export`` from a checkpoint; prints the folder."""
    from privib.export.spec import DEFAULT_FORMATS, FORMAT_FILES

    parser = _Parser(
        prog="privib export",
        description="Export a run's trained encoder for downstream use: safetensors weights, a single-file ONNX "
        "model, a torch.export program, preprocess.json, the config, metrics and a model card. The export folder "
        "is replaced as a whole, so it holds exactly the formats asked for.",
    )
    parser.add_argument("run_folder", help="a run folder printed by `privib run`")
    parser.add_argument("--format", default=",".join(DEFAULT_FORMATS),
                        help=f"comma-separated subset of {', '.join(FORMAT_FILES)} (default: all)")
    parser.add_argument("--checkpoint", default="best", help="best (default; falls back to last), last, or a checkpoint path")
    parser.add_argument("--out", default=None, help="output folder (default: RUN_FOLDER/export)")
    parser.add_argument("--no-wandb", action="store_true", help="do not log the export to W&B as a model artifact")
    parser.add_argument("--sign-key", default=None, metavar="FILE",
                        help="sign the export with the secret key in FILE (HMAC-SHA256 of manifest.json, in manifest.sig)")
    args = parser.parse_args(argv)
    _show_privib_logs()

    from privib.export.run import export_run, log_export_artifact, read_run_config, start_export_wandb_run
    from privib.pipeline.runs import RunFolder

    from privib.locks import FolderLock

    from privib.export.signing import read_key_file

    sign_key = read_key_file(args.sign_key, "--sign-key") if args.sign_key else None
    folder = RunFolder.open(args.run_folder)
    with FolderLock(folder.path, "exporting"):  # never beside a training run or an evaluate of it
        result = export_run(folder.path, formats=args.format, checkpoint=args.checkpoint, out_dir=args.out,
                            sign_key=sign_key)
    parity = ", ".join(f"{k.split('/')[-1].replace('_max_abs_err', '')} {v:.1e}"
                       for k, v in result.metrics.items() if k.startswith("export/parity/"))
    print(f"privib: exported {', '.join(n for n in result.files if n.startswith('encoder.'))} in "
          f"{result.metrics['export/seconds']:.1f} s" + (f" (max |diff| vs torch: {parity})" if parity else ""),
          file=sys.stderr)
    if not args.no_wandb:
        config, _ = read_run_config(folder)
        try:
            run = start_export_wandb_run(folder, config)
            if run is not None:
                log_export_artifact(run, result)
                run.finish()
        except Exception as exc:
            log.warning("could not log the export to W&B (%s: %s); the export folder is complete", type(exc).__name__, exc)
    print(result.folder, flush=True)
    return 0


# ---------------------------------------------------------------------------- encode
def encode_command(argv: list[str]) -> int:
    """``privib encode EXPORT INPUT -o OUT``: encode a CSV / Parquet file in batches."""
    parser = _Parser(
        prog="privib encode",
        description="Encode the raw records of a CSV or Parquet file with an exported encoder, in batches, "
        "and write the representations (columns z_0 ... z_{k-1}) to Parquet, CSV or .npy. Releases what the run "
        "released and was audited on (the mean of q(z|x) or one sample, per its metadata) unless --sample / --mean say otherwise.",
    )
    parser.add_argument("export_folder", help="an export folder (runs/<run>/export) or the run folder holding it")
    parser.add_argument("input", help="input records: .csv or .parquet with the raw columns the encoder reads")
    parser.add_argument("-o", "--output", required=True, help="output file: .parquet, .csv or .npy")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="inference backend (default torch)")
    parser.add_argument("--keep", action="append", default=[], metavar="COLUMN",
                        help="copy this input column to the output (e.g. an id); repeat or comma-separate")
    parser.add_argument("--batch-size", type=int, default=65536, help="rows read and encoded at a time (default 65536)")
    release = parser.add_mutually_exclusive_group()
    release.add_argument("--sample", dest="sample", action="store_const", const=True, default=None,
                         help="draw z ~ q(z|x) (default: what the run released, `release` in its metadata)")
    release.add_argument("--mean", dest="sample", action="store_const", const=False,
                         help="output the mean of q(z|x) (default: what the run released)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the draws with --sample")
    parser.add_argument("--unknown-category", choices=("zeros", "error"), default=None,
                        help="override preprocess.json's policy for categories never seen in training")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--verify-key", default=None, metavar="FILE",
                        help="refuse the export unless manifest.sig was made with the secret key in FILE (privib export --sign-key)")
    args = parser.parse_args(argv)
    _show_privib_logs()
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    keep = list(dict.fromkeys(c.strip() for item in args.keep for c in item.split(",") if c.strip()))
    source = Path(args.input).expanduser()
    target = Path(args.output).expanduser()
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

    from privib.export.encoder import EncoderInputError, load_encoder

    from privib.export.signing import read_key_file

    verify_key = read_key_file(args.verify_key, "--verify-key") if args.verify_key else None
    encoder = load_encoder(args.export_folder, backend=args.backend, unknown_category=args.unknown_category,
                           verify_key=verify_key)
    reader = _Reader(source, in_kind, args.batch_size)
    columns = reader.columns()
    missing = [c for c in encoder.input_columns if c not in columns]
    if missing:
        raise EncoderInputError(f"{source} is missing column(s) {missing}: this encoder reads {encoder.input_columns}")
    absent = [c for c in keep if c not in columns]
    if absent:
        raise DataError(f"--keep column(s) {absent} are not in {source}: its columns are {columns}")
    z_names = [f"z_{i}" for i in range(encoder.z_dim)]
    clash = [c for c in keep if c in z_names]
    if clash:
        raise ConfigError(f"--keep column(s) {clash} clash with the output's code columns {z_names[0]}..{z_names[-1]}")
    ignored = [c for c in columns if c not in set(encoder.input_columns) | set(keep)]
    if ignored:
        log.info("ignoring %d column(s) the encoder does not read: %s", len(ignored), ignored)
    needed = list(dict.fromkeys([*encoder.input_columns, *keep]))

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{secrets.token_hex(4)}"
    writer = _Writer(tmp, out_kind, z_names, keep, encoder.z_dim)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    rows = 0
    try:
        with _progress(reader.total_rows(), disabled=args.no_progress) as advance:
            for frame in reader.batches(needed, categorical=encoder.preprocessor.categorical):
                try:
                    z = encoder.encode(frame[encoder.input_columns], sample=args.sample, seed=rng, batch_size=max(1, len(frame)))
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
    seconds = time.perf_counter() - started
    rate = rows / seconds if seconds > 0 else float("inf")
    print(f"privib: encoded {rows} rows ({encoder.backend} backend, {'sampled z' if (encoder.release == 'sample' if args.sample is None else args.sample) else 'mean of q(z|x)'}) "
          f"in {seconds:.1f} s, {rate:,.0f} rows/s", file=sys.stderr)
    print(target, flush=True)
    return 0


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
