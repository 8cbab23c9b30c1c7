"""Read a user's table through Hugging Face ``datasets``: CSV / TSV / Parquet / JSON lines files,
local dataset folders and (cached, or online) Hugging Face Hub datasets.

Delimited text is read with every column as a string, so no value is lost to a type guessed
from the first rows; :mod:`privib.data.tabular` infers the types afterwards from all rows.
Every failure becomes one :class:`~privib.errors.DataError` line that names the file and the fix.
"""
from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import difflib
import gzip
import io
import lzma
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pandas as pd

from privib.errors import ConfigError, DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
COMPRESSION_SUFFIXES = (*OPENERS, ".zip", ".zst")
SAMPLE_BYTES = 1 << 18
DELIMITERS = (",", "\t", ";", "|")
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe", " ": "space"}
HF_DISK_MARKERS = ("dataset_dict.json", "state.json")


@dataclass
class ReadTable:
    """One table read from a source, with how it was read."""

    frame: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- locating the source


def locate(path: str, root: str | None) -> Path | None:
    """``path`` as given, else under ``root`` (``data.root``) when relative; None when neither exists."""
    given = Path(path).expanduser()
    if given.exists():
        return given
    if root and not given.is_absolute():
        under = Path(root).expanduser() / given
        if under.exists():
            return under
    return None


def looks_like_a_file(path: str) -> bool:
    """True when ``path`` reads as a file path rather than a Hugging Face dataset name."""
    lowered = path.lower()
    known = (*TEXT_SUFFIXES, *PARQUET_SUFFIXES, *JSON_SUFFIXES, *COMPRESSION_SUFFIXES, ".data", ".test", ".xlsx", ".xls")
    return lowered.endswith(known) or path.startswith((".", "/", "~")) or "\\" in path or path.count("/") > 1


def file_not_found(path: str, root: str | None, option: str = "data.path") -> DataError:
    """The error for a missing file, with close file names from its folder."""
    given = Path(path).expanduser()
    folder = given.parent if str(given.parent) else Path(".")
    hint = ""
    if folder.is_dir():
        close = difflib.get_close_matches(given.name, [p.name for p in folder.iterdir()], n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(str(folder / c)) for c in close)}? " if close else ""
    where = f"in {Path.cwd()}" + (f" or under data.root {root}" if root else "")
    return DataError(f"{option} file {path} not found ({where}): {hint}pass an existing CSV, TSV, Parquet or JSON-lines file")


def file_format(path: Path) -> tuple[str, str | None]:
    """``(format, compression suffix)``: format is csv, parquet or json, from the suffix, else the first bytes."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = suffixes[-1] if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES else None
    inner = (suffixes[-2] if len(suffixes) > 1 else "") if compression else (suffixes[-1] if suffixes else "")
    if inner in PARQUET_SUFFIXES:
        return "parquet", compression
    if inner in JSON_SUFFIXES:
        return "json", compression
    if inner in (".xlsx", ".xls", ".ods"):
        raise DataError(f"{path} is a spreadsheet: export the sheet as CSV (or Parquet) and pass that file")
    if compression is None and path.is_file():
        with open(path, "rb") as handle:
            head = handle.read(512)
        if head[:4] == b"PAR1":
            return "parquet", None
        if head[:4] == b"PK\x03\x04":
            raise DataError(f"{path} is a zip archive or an Excel workbook, not a table: export it as CSV or Parquet")
        if head.lstrip()[:1] == b"{" and inner not in TEXT_SUFFIXES:
            return "json", None
    return "csv", compression


# ---------------------------------------------------------------- reading


def _datasets() -> Any:
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


@contextlib.contextmanager
def _scratch_cache() -> Iterator[str]:
    """A private, throw-away ``datasets`` cache: local files are re-read each time, never served stale."""
    with tempfile.TemporaryDirectory(prefix="privib-datasets-", ignore_cleanup_errors=True) as folder:
        yield folder


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        nxt = current.__cause__ or current.__context__
        if nxt is None:
            break
        current = nxt
    return current


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _encoding_error(path: Path, exc: UnicodeDecodeError, encoding: str) -> DataError:
    byte = exc.object[exc.start : exc.start + 1] if isinstance(exc.object, (bytes, bytearray)) else b""
    shown = f"byte 0x{byte[0]:02x} " if byte else ""
    return DataError(
        f"{path} is not readable as {encoding} text ({shown}at position {exc.start}): pass the file's encoding with "
        "--data.encoding (e.g. latin-1, cp1252, utf-16) or re-save it as UTF-8"
    )


def _read_error(path: Path, exc: BaseException, what: str, encoding: str) -> DataError:
    cause = _root_cause(exc)
    if isinstance(cause, UnicodeDecodeError):
        return _encoding_error(path, cause, encoding)
    if isinstance(cause, pd.errors.EmptyDataError):
        return DataError(f"{path} is empty: it needs a header row and at least one data row")
    if "corresponds to no data" in str(exc) or "corresponds to no data" in str(cause):
        return DataError(f"{path} has no data rows: it needs a header row and at least one data row")
    if isinstance(cause, pd.errors.ParserError):
        return DataError(f"could not parse {path} as {what} ({_first_line(cause)}): fix the file, or set data.delimiter")
    return DataError(f"could not read {path} as {what} ({type(cause).__name__}: {_first_line(cause)}): check the file's format")


def _normal_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise ConfigError(f"data.encoding '{encoding}' is not a known text encoding: use e.g. utf-8, latin-1, cp1252") from exc
    return "utf-8-sig" if name == "utf-8" else name


def _sample_text(path: Path, compression: str | None, encoding: str, shown: str) -> tuple[str, bool]:
    """The decoded start of a text file and whether it is the whole file (``shown``: the encoding as the user named it)."""
    opener = OPENERS.get(compression or "", open)
    try:
        with opener(path, "rb") as handle:
            raw = handle.read(SAMPLE_BYTES + 1)
    except OSError as exc:
        raise DataError(f"could not open {path} ({exc}): check the file and its compression") from exc
    complete = len(raw) <= SAMPLE_BYTES
    raw = raw[:SAMPLE_BYTES]
    if b"\x00" in raw and not encoding.startswith("utf-16") and not encoding.startswith("utf-32"):
        raise DataError(
            f"{path} looks like a binary file, not text (it holds NUL bytes): export the table as CSV or Parquet, "
            "or if it is UTF-16 text pass --data.encoding utf-16"
        )
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        return decoder.decode(raw, final=complete), complete
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, exc, shown) from exc


def sniff_delimiter(text: str, suffix: str, complete: bool) -> str:
    """The delimiter giving the same number (> 1) of fields on at least 90% of the first lines."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    lines = lines[:50]
    default = "\t" if suffix in (".tsv", ".tab") else ","
    for delimiter in (default, *[d for d in DELIMITERS if d != default]):
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts:
            return default
        mode = max(set(counts), key=counts.count)
        if mode > 1 and counts.count(mode) >= 0.9 * len(counts):
            return delimiter
    return default


def _field_count(text: str, delimiter: str, complete: bool) -> int:
    lines = [line for line in text.splitlines() if line.strip()]
    lines = lines[:-1] if not complete and len(lines) > 1 else lines
    counts = [len(row) for row in csv.reader(lines[:50], delimiter=delimiter)]
    return max(set(counts), key=counts.count) if counts else 0


def read_delimited(
    path: Path, compression: str | None, column_names: list[str] | None, delimiter: str | None, encoding: str
) -> ReadTable:
    """CSV / TSV (any single-character delimiter, sniffed unless given), every column read as strings."""
    datasets = _datasets()
    codec = _normal_encoding(encoding)
    text, complete = _sample_text(path, compression, codec, encoding)
    if not text.strip():
        raise DataError(f"{path} is empty: it needs a header row and at least one data row")
    if complete and not column_names and len([line for line in text.splitlines() if line.strip()]) < 2:
        raise DataError(f"{path} has a header row but no data rows: it needs at least one data row")
    inner_suffix = Path(path.stem).suffix.lower() if compression else path.suffix.lower()
    sep = delimiter if delimiter else sniff_delimiter(text, inner_suffix, complete)
    if len(sep) != 1:
        raise ConfigError(f"data.delimiter must be one character, got {sep!r}")
    fields = _field_count(text, sep, complete)
    if column_names:
        if fields and len(column_names) != fields:
            raise ConfigError(
                f"data.column_names has {len(column_names)} names but {path} has {fields} fields per row "
                f"(delimiter {sep!r}): give one name per field"
            )
        names = list(column_names)
    else:
        try:
            names = [str(c) for c in pd.read_csv(io.StringIO(text), sep=sep, nrows=0).columns]
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise _read_error(path, exc, "delimited text", encoding) from exc
        header = next(csv.reader([next(line for line in text.splitlines() if line.strip())], delimiter=sep))
        names = [name.strip() for name in header] if len(header) == len(names) else names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        where = "data.column_names" if column_names else f"the header row of {path}"
        raise DataError(f"{where} names column(s) {repeated} more than once: give every column a distinct name")
    features = datasets.Features({name: datasets.Value("string") for name in names})
    kwargs: dict[str, Any] = {"sep": sep, "encoding": codec, "features": features}
    if column_names:
        kwargs["column_names"] = list(column_names)
    try:
        with _scratch_cache() as cache:
            table = datasets.load_dataset(
                "csv", data_files={"train": str(path)}, split="train", cache_dir=cache, **kwargs
            )
            frame = table.to_pandas()
            del table
    except (ConfigError, DataError):
        raise
    except Exception as exc:  # datasets wraps pandas / arrow errors in its own types
        raise _read_error(path, exc, f"delimited text (delimiter {sep!r})", encoding) from exc
    info: dict[str, Any] = {
        "path": str(path.resolve()), "format": "tsv" if sep == "\t" else "csv", "delimiter": sep,
        "delimiter_sniffed": delimiter is None, "encoding": encoding, "header": not column_names,
    }
    if column_names and len(frame) and [str(v).strip() for v in frame.iloc[0].tolist()] == names:
        frame = frame.iloc[1:].reset_index(drop=True)
        info["header_row_dropped"] = True
    numbers = [n for n in names if _is_number(n)] if not column_names else []
    if numbers:
        info["warning"] = (
            f"the header row of {path.name} holds numbers ({', '.join(numbers[:3])}): if the file has no header row, "
            "pass data.column_names"
        )
    return ReadTable(frame, info)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_builder_file(path: Path, fmt: str, encoding: str) -> ReadTable:
    """Parquet or JSON (lines, or an array of records) through the matching ``datasets`` builder."""
    datasets = _datasets()
    what = "Parquet" if fmt == "parquet" else "JSON lines"
    try:
        with _scratch_cache() as cache:
            table = datasets.load_dataset(fmt, data_files={"train": str(path)}, split="train", cache_dir=cache)
            frame, converted = to_frame(table)
            del table
    except Exception as exc:
        raise _read_error(path, exc, what, encoding) from exc
    info: dict[str, Any] = {"path": str(path.resolve()), "format": fmt}
    if converted:
        info["class_label_names"] = converted
    return ReadTable(frame, info)


def read_file(
    path: Path, *, column_names: list[str] | None = None, delimiter: str | None = None, encoding: str = "utf-8"
) -> ReadTable:
    """One local file, whatever its supported format."""
    if path.is_dir():
        raise DataError(f"{path} is a folder: pass a file, or the folder as data.path to read it as a Hugging Face dataset")
    fmt, compression = file_format(path)
    if fmt == "csv":
        return read_delimited(path, compression, column_names, delimiter, encoding)
    if column_names:
        raise ConfigError(f"data.column_names applies to headerless CSV / TSV files; {path} is {fmt}: drop it")
    return read_builder_file(path, fmt, encoding)


def to_frame(table: Any) -> tuple[pd.DataFrame, list[str]]:
    """A ``datasets.Dataset`` as a DataFrame, ``ClassLabel`` integer columns turned into their names."""
    import datasets

    frame = table.to_pandas()
    converted: list[str] = []
    for name, feature in table.features.items():
        if isinstance(feature, datasets.ClassLabel):
            names = list(feature.names)
            frame[name] = frame[name].map(
                lambda i, names=names: names[int(i)] if pd.notna(i) and 0 <= int(i) < len(names) else None
            )
            converted.append(name)
    return frame, converted


def _offline_hint() -> str:
    if os.environ.get("HF_DATASETS_OFFLINE", "") in ("1", "true", "TRUE", "True") or os.environ.get("HF_HUB_OFFLINE", "") == "1":
        return (
            "; offline (HF_DATASETS_OFFLINE=1), only datasets already in the Hugging Face cache and local files "
            "or folders can be read: pass a local file or folder, or load the dataset once online"
        )
    return ""


def read_hf(name: str, folder: Path | None, config_name: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """All splits of a Hugging Face dataset (hub name or local folder): ``({split: Dataset}, info)``."""
    datasets = _datasets()
    label = str(folder) if folder is not None else name
    info: dict[str, Any] = {"path": str(folder.resolve()) if folder is not None else name, "format": "huggingface",
                            "config_name": config_name}
    try:
        if folder is not None and any((folder / marker).is_file() for marker in HF_DISK_MARKERS):
            if config_name:
                raise ConfigError(f"data.config_name does not apply to {folder}, a dataset saved with save_to_disk: drop it")
            loaded = datasets.load_from_disk(str(folder))
            info["format"] = "huggingface (save_to_disk folder)"
        else:
            loaded = datasets.load_dataset(str(folder) if folder is not None else name, config_name)
    except ConfigError:
        raise
    except Exception as exc:
        cause = _root_cause(exc)
        message = _first_line(exc) if _first_line(exc) != "An error occurred while generating the dataset" else _first_line(cause)
        if "config" in message.lower():
            raise DataError(f"could not load Hugging Face dataset '{label}' ({message}): set data.config_name") from exc
        raise DataError(
            f"could not load '{label}' as a Hugging Face dataset ({type(cause).__name__}: {message}): pass an existing "
            f"file or folder, or a dataset name{_offline_hint()}"
        ) from exc
    splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    if not splits:
        raise DataError(f"Hugging Face dataset '{label}' has no splits")
    info["splits"] = {split: int(table.num_rows) for split, table in splits.items()}
    return splits, info


def pick_split(splits: dict[str, Any], wanted: str | None, label: str, option: str) -> str:
    """The split name ``wanted`` (close names suggested when absent), else ``train`` or the only split."""
    names = list(splits)
    if wanted is not None:
        if wanted in splits:
            return wanted
        close = difflib.get_close_matches(wanted, names, n=2, cutoff=0.5)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ConfigError(f"{option} '{wanted}' is not a split of {label}: {hint}(splits: {', '.join(names)})")
    if "train" in splits:
        return "train"
    if len(names) == 1:
        return names[0]
    raise ConfigError(f"{label} has splits {', '.join(names)} and none is called train: set data.train_split")
