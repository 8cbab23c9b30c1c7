"""Find a dataset's files: explicit folder, then PRIVIB_DATA_DIR, then the cache, then a download."""
from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from privib.errors import DataError
from privib.io import sha256_file
from privib.paths import cache_dir

DATA_DIR_ENV = "PRIVIB_DATA_DIR"
OFFLINE_ENV = "PRIVIB_OFFLINE"
DOWNLOAD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RemoteFile:
    """A public file with its canonical address and checksum.

    ``url`` None: never downloaded, only found locally. ``sha256`` None: no published checksum
    exists, so the dataset's loader checks the file's content instead.
    """

    name: str
    url: str | None
    sha256: str | None


def _candidates(folder: Path, dataset: str, file: RemoteFile) -> list[Path]:
    return [folder / dataset / file.name, folder / file.name]


def _checked(path: Path, file: RemoteFile) -> Path:
    if file.sha256 is None:
        return path
    actual = sha256_file(path)
    if actual != file.sha256:
        raise DataError(
            f"{path} does not match the published {file.name} (sha256 {actual[:12]}... instead of "
            f"{file.sha256[:12]}...): replace it with the original{f' from {file.url}' if file.url else ''}"
        )
    return path


def resolve_file(dataset: str, file: RemoteFile, root: str | os.PathLike[str] | None = None) -> Path:
    """Return a local, checksum-verified path to ``file``.

    Order: ``root`` (the config's ``data.root``), ``$PRIVIB_DATA_DIR``, the cache, then a
    download into the cache. Each folder may hold the file directly or under ``<dataset>/``.
    """
    return resolve_any(dataset, (file,), root)[0]


def resolve_files(dataset: str, files: tuple[RemoteFile, ...], root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Local, checked paths to every one of ``files``, in :func:`resolve_file`'s order.

    Offline, one error names every file that is missing (not only the first), with the ways
    to provide them; online, the missing ones are downloaded.
    """
    found = {file.name: _local(dataset, file, root) for file in files}
    missing = [file for file in files if found[file.name] is None]
    offline = os.environ.get(OFFLINE_ENV, "") not in ("", "0") or os.environ.get("HF_DATASETS_OFFLINE", "") == "1"
    if len(missing) > 1 and (offline or any(file.url is None for file in missing)):
        names = " and ".join(file.name for file in missing)
        raise DataError(
            f"{dataset} files {names} not found (searched: {_searched(root)}"
            f"{'; offline mode' if offline else ''}): put them in a folder (directly or under {dataset}/) and pass "
            f"--data.root FOLDER or set {DATA_DIR_ENV}=FOLDER"
            + (", or go online so privib can download them" if all(file.url for file in missing) else "")
        )
    return [found[file.name] or resolve_file(dataset, file, root) for file in files]


def _local(dataset: str, file: RemoteFile, root: str | os.PathLike[str] | None) -> Path | None:
    """``file`` from ``root``, ``$PRIVIB_DATA_DIR`` or the cache (checked), or None when none holds it."""
    for folder in _folders(root):
        for candidate in _candidates(folder, dataset, file):
            if candidate.is_file():
                return _checked(candidate, file)
    cached = cache_dir() / dataset / file.name
    return _checked(cached, file) if cached.is_file() else None


def _folders(root: str | os.PathLike[str] | None) -> list[Path]:
    """The folders searched before the cache: ``data.root``, then ``$PRIVIB_DATA_DIR``."""
    folders = [Path(root).expanduser()] if root else []
    env_root = os.environ.get(DATA_DIR_ENV)
    return folders + ([Path(env_root).expanduser()] if env_root else [])


def _searched(root: str | os.PathLike[str] | None) -> str:
    return ", ".join(str(f) for f in _folders(root)) or "no data folder set"


def resolve_any(
    dataset: str, files: tuple[RemoteFile, ...], root: str | os.PathLike[str] | None = None
) -> tuple[Path, RemoteFile]:
    """The first of ``files`` (interchangeable copies, preferred first) found, and which one it is.

    Each place of :func:`resolve_file`'s order is searched for every file before the next
    place; when none is found, the first file with a ``url`` is downloaded into the cache.
    """
    folders = _folders(root)
    for folder in folders:
        for file in files:
            for candidate in _candidates(folder, dataset, file):
                if candidate.is_file():
                    return _checked(candidate, file), file
    for file in files:
        cached = cache_dir() / dataset / file.name
        if cached.is_file():
            return _checked(cached, file), file
    remote = next((file for file in files if file.url), files[0])
    names = " or ".join(file.name for file in files)
    return _download(dataset, remote, cache_dir() / dataset / remote.name, folders, names), remote


def _download(dataset: str, file: RemoteFile, destination: Path, searched: list[Path], names: str | None = None) -> Path:
    names = names or file.name
    where = ", ".join(str(f) for f in searched) or "no data folder set"
    how = f"put {names} in a folder (directly or under {dataset}/) and pass --data.root FOLDER or set {DATA_DIR_ENV}=FOLDER"
    if file.url is None:
        raise DataError(f"{dataset} file {names} not found (searched: {where}): {how}")
    how += f", or connect to the internet so privib can download it from {file.url} into {destination.parent}"
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0") or os.environ.get("HF_DATASETS_OFFLINE", "") == "1":
        raise DataError(f"{dataset} file {names} not found (searched: {where}; offline mode): {how}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(file.url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"{dataset} file {names} not found (searched: {where}) and download failed ({exc}): {how}") from exc
    try:
        _checked(partial, file)
    except DataError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, destination)
    return destination
