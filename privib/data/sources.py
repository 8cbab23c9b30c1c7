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
    """A public file with its canonical address and checksum."""

    name: str
    url: str
    sha256: str


def _candidates(folder: Path, dataset: str, file: RemoteFile) -> list[Path]:
    return [folder / dataset / file.name, folder / file.name]


def _checked(path: Path, file: RemoteFile) -> Path:
    actual = sha256_file(path)
    if actual != file.sha256:
        raise DataError(
            f"{path} does not match the published {file.name} (sha256 {actual[:12]}... instead of "
            f"{file.sha256[:12]}...): replace it with the original from {file.url}"
        )
    return path


def resolve_file(dataset: str, file: RemoteFile, root: str | os.PathLike[str] | None = None) -> Path:
    """Return a local, checksum-verified path to ``file``.

    Order: ``root`` (the config's ``data.root``), ``$PRIVIB_DATA_DIR``, the cache, then a
    download into the cache. Each folder may hold the file directly or under ``<dataset>/``.
    """
    folders: list[Path] = []
    if root:
        folders.append(Path(root).expanduser())
    env_root = os.environ.get(DATA_DIR_ENV)
    if env_root:
        folders.append(Path(env_root).expanduser())
    cached = cache_dir() / dataset / file.name
    for folder in folders:
        for candidate in _candidates(folder, dataset, file):
            if candidate.is_file():
                return _checked(candidate, file)
    if cached.is_file():
        return _checked(cached, file)
    return _download(dataset, file, cached, folders)


def _download(dataset: str, file: RemoteFile, destination: Path, searched: list[Path]) -> Path:
    where = ", ".join(str(f) for f in searched) or "no data folder set"
    how = (
        f"put {file.name} in a folder and pass --data.root FOLDER or set {DATA_DIR_ENV}=FOLDER, "
        f"or connect to the internet so privib can download it from {file.url} into {destination.parent}"
    )
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0") or os.environ.get("HF_DATASETS_OFFLINE", "") == "1":
        raise DataError(f"{dataset} file {file.name} not found (searched: {where}; offline mode): {how}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(file.url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"{dataset} file {file.name} not found (searched: {where}) and download failed ({exc}): {how}") from exc
    try:
        _checked(partial, file)
    except DataError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, destination)
    return destination
