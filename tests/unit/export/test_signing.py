"""Signed exports: a signature proves who made the folder; the manifest's hashes alone do not."""
from __future__ import annotations

import json
import secrets

import numpy as np
import pytest

import privib
from privib.errors import ExportError
from privib.export import spec
from privib.export.spec import check_replaceable
from privib.export.signing import read_key_file, sign_export

from helpers.exports import export_tiny, make_frame


@pytest.fixture()
def key_file(tmp_path):
    path = tmp_path / "team.key"
    path.write_text(secrets.token_hex(32) + "\n")
    return path


def test_a_signed_export_loads_with_its_key_and_gives_the_same_codes(tmp_path, key_file):
    key = read_key_file(key_file)
    result, _, _ = export_tiny(tmp_path / "export", sign_key=key)
    frame = make_frame(50, seed=3)
    plain = privib.load_encoder(result.folder).encode(frame, sample=False)
    for backend in ("torch", "onnx"):
        verified = privib.load_encoder(result.folder, backend=backend, verify_key=key).encode(frame, sample=False)
        np.testing.assert_allclose(verified, plain, atol=1e-5)
    check_replaceable(result.folder)  # manifest.sig belongs to the export: re-exporting over it is allowed


def test_a_crafted_folder_with_recomputed_hashes_fails_the_signature(tmp_path, key_file):
    key = read_key_file(key_file)
    result, _, _ = export_tiny(tmp_path / "export", sign_key=key)
    folder = result.folder
    preprocess = json.loads((folder / spec.PREPROCESS_FILE).read_text())
    preprocess["numeric"]["age"]["mean"] += 10.0  # shifts every code, silently, with a valid manifest
    data = json.dumps(preprocess, indent=2).encode()
    (folder / spec.PREPROCESS_FILE).write_bytes(data)
    manifest = json.loads((folder / spec.MANIFEST_FILE).read_text())
    manifest["files"][spec.PREPROCESS_FILE] = {"bytes": len(data), "sha256": spec.sha256_bytes(data)}
    manifest["metadata"]["preprocess_sha256"] = spec.sha256_bytes(data)
    (folder / spec.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    with pytest.raises(ExportError, match="manifest.sig does not match"):
        privib.load_encoder(folder, verify_key=key)
    sign_export(folder, b"an attacker's own key, 32 bytes!")
    with pytest.raises(ExportError, match="manifest.sig does not match"):
        privib.load_encoder(folder, verify_key=key)


def test_an_unsigned_export_is_refused_when_a_key_is_given(tmp_path, key_file):
    result, _, _ = export_tiny(tmp_path / "export")
    with pytest.raises(ExportError, match="is not signed"):
        privib.load_encoder(result.folder, verify_key=read_key_file(key_file))


def test_short_or_missing_key_files_are_refused(tmp_path):
    short = tmp_path / "short.key"
    short.write_text("abc")
    with pytest.raises(ExportError, match="at least 16"):
        read_key_file(short)
    with pytest.raises(ExportError, match="cannot read"):
        read_key_file(tmp_path / "missing.key")
