"""Optional signatures of export folders: who made this encoder, not only whether it is intact.

``manifest.json`` lists the sha256 of every file, which proves integrity but not origin:
whoever crafts an export folder recomputes the hashes. A signature is an HMAC-SHA256 of the
manifest's bytes under a secret key, written to ``manifest.sig``; since the manifest hashes
every file, it covers the whole folder. HMAC is symmetric: anyone who can verify can also
sign, so share the key only with the people whose exports you accept.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from privib.errors import ExportError
from privib.io import write_text_atomic

SIGNATURE_FILE = "manifest.sig"
ALGORITHM = "hmac-sha256"
MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 1 << 16


def read_key_file(path: str | os.PathLike[str], what: str = "key") -> bytes:
    """A secret key: the bytes of a file (surrounding whitespace stripped), at least 16 of them."""
    file = Path(path).expanduser()
    try:
        if file.stat().st_size > MAX_KEY_BYTES:
            raise ExportError(f"{what} file {file} is over {MAX_KEY_BYTES} bytes: a key file holds one secret")
        key = file.read_bytes().strip()
    except OSError as exc:
        raise ExportError(f"cannot read {what} file {file} ({exc.strerror}): pass a readable file") from exc
    if len(key) < MIN_KEY_BYTES:
        raise ExportError(
            f"{what} file {file} holds {len(key)} bytes: use at least {MIN_KEY_BYTES} random bytes, "
            "e.g. `python -c \"import secrets; print(secrets.token_hex(32))\" > KEYFILE`"
        )
    return key


def manifest_hmac(manifest_bytes: bytes, key: bytes) -> str:
    return hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()


def sign_export(folder: Path, key: bytes, manifest_name: str = "manifest.json") -> Path:
    """Write ``manifest.sig`` for the export in ``folder``."""
    manifest_bytes = (folder / manifest_name).read_bytes()
    record = {"algorithm": ALGORITHM, "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
              "hmac": manifest_hmac(manifest_bytes, key)}
    return write_text_atomic(folder / SIGNATURE_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")


def verify_export(folder: Path, manifest_bytes: bytes, key: bytes) -> None:
    """Raise ExportError unless ``manifest.sig`` in ``folder`` is a valid signature of ``manifest_bytes`` under ``key``."""
    path = folder / SIGNATURE_FILE
    if not path.is_file():
        raise ExportError(f"{folder} is not signed (no {SIGNATURE_FILE}): refusing it because a verify key was given")
    try:
        record = json.loads(path.read_bytes()[:4096].decode("utf-8"))
        algorithm, signature = record["algorithm"], record["hmac"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ExportError(f"{path} is not a privib signature ({type(exc).__name__}): re-sign the export") from exc
    if algorithm != ALGORITHM or not isinstance(signature, str):
        raise ExportError(f"{path} uses algorithm {str(algorithm)[:40]!r}, not {ALGORITHM}: re-sign the export")
    if not hmac.compare_digest(signature, manifest_hmac(manifest_bytes, key)):
        raise ExportError(
            f"{path} does not match: the export was changed after signing, or signed with another key; do not use it"
        )
