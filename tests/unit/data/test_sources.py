"""Finding a dataset's files: every missing file named at once, and the <dataset>/ subfolder honoured."""
from __future__ import annotations

import hashlib

import pytest

from privib.data.sources import RemoteFile, resolve_files
from privib.errors import DataError


def _remote(name: str, content: bytes) -> RemoteFile:
    return RemoteFile(name, f"https://example.invalid/{name}", hashlib.sha256(content).hexdigest())


@pytest.fixture()
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("PRIVIB_OFFLINE", "1")
    monkeypatch.setenv("PRIVIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PRIVIB_DATA_DIR", raising=False)


def test_offline_every_missing_file_is_named_in_one_error(tmp_path, offline):
    files = (_remote("a.data", b"train"), _remote("a.test", b"test"))
    with pytest.raises(DataError) as info:
        resolve_files("toy", files, root=tmp_path)
    message = str(info.value)
    assert "a.data and a.test" in message and "under toy/" in message and "--data.root" in message
    (tmp_path / "a.data").write_bytes(b"train")
    with pytest.raises(DataError, match="a.test") as info:
        resolve_files("toy", files, root=tmp_path)
    assert "a.data" not in str(info.value).split("not found")[0]


def test_files_are_found_directly_or_under_the_dataset_folder(tmp_path, offline):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.data").write_bytes(b"train")
    (tmp_path / "a.test").write_bytes(b"test")
    paths = resolve_files("toy", (_remote("a.data", b"train"), _remote("a.test", b"test")), root=tmp_path)
    assert paths == [tmp_path / "toy" / "a.data", tmp_path / "a.test"]
