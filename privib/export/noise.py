"""Noise keyed to the record: under one secret key, re-releasing a record gives back the same code.

A sampled release z = mean + scale * eps with fresh eps on every call lets whoever sees two releases of
one record average them, and the average leaks more than one draw (towards the mean of q(z|x); the
audit's ``leakage/<attr>/k<k>/...``). With a key, eps is a function of the key and the record only:
the same key and record give the same eps whatever the row order, batch size or backend, so a record
released again is released unchanged; another key gives independent noise.

The record is what the encoder reads: its float32 feature vector after ``preprocess.json`` (so a CSV
and a Parquet copy of a row, or 39 and 39.0, are one record, and two records the encoder cannot tell
apart, which have the same q(z|x), get the same code), or, with an id column, the id (a person keeps
their noise when their record changes).

Derivation, version 1: the row's seed is HMAC-SHA256(key, ``privib-noise-v1`` || payload); the first
16 * ceil(z_dim / 2) bytes of SHAKE-256(seed) are read as little-endian uint64 x, u = ((x >> 11) + 0.5) / 2^53
lies in (0, 1), and pairs (u1, u2) give the Box-Muller normals sqrt(-2 ln u1) cos(2 pi u2),
sqrt(-2 ln u1) sin(2 pi u2); the first z_dim are the row's eps. The
payload is ``features`` || 0x00 || the row's float32 little-endian bytes (-0.0 written as 0.0), or
``id`` || 0x00 || the UTF-8 id (integers and integral floats as decimal digits, other values as
``str``). The key is never written anywhere by privib.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from privib.errors import ConfigError, ExportError
from privib.export.signing import MIN_KEY_BYTES, read_key_file

__all__ = ["KEY_ENV", "batch_noise", "check_key", "feature_payloads", "id_payloads", "keyed_noise", "noise_key"]

KEY_ENV = "PRIVIB_NOISE_KEY"
_DOMAIN = b"privib-noise-v1"


def check_key(key: Any) -> bytes:
    """The key as bytes (text is UTF-8 encoded); ExportError unless it holds at least 16 bytes."""
    data = key.encode("utf-8") if isinstance(key, str) else key
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ExportError(f"a noise key must be bytes or text, got {type(key).__name__}")
    data = bytes(data)
    if len(data) < MIN_KEY_BYTES:
        raise ExportError(
            f"the noise key holds {len(data)} bytes: use at least {MIN_KEY_BYTES} random bytes, "
            "e.g. `python -c \"import secrets; print(secrets.token_hex(32))\" > noise.key`"
        )
    return data


def feature_payloads(features: np.ndarray) -> list[bytes]:
    """One payload per row of a float32 feature matrix: its bytes, with -0.0 normalized to 0.0."""
    rows = np.ascontiguousarray(np.asarray(features, dtype="<f4") + np.float32(0.0))
    width = rows.shape[1] * 4
    data = memoryview(rows.tobytes())
    return [b"features\x00" + data[i * width : (i + 1) * width].tobytes() for i in range(rows.shape[0])]


def id_payloads(ids: Iterable[Any], first_row: int = 0) -> list[bytes]:
    """One payload per id; ValueError naming the first row (counted from ``first_row``) whose id is missing."""
    return [b"id\x00" + _canonical_id(value, row).encode("utf-8") for row, value in enumerate(ids, start=first_row)]


def batch_noise(key: bytes, z_dim: int, features: np.ndarray, ids: Iterable[Any] | None = None,
                first_row: int = 0) -> np.ndarray:
    """eps of one batch of records: keyed to their features, or to their ``ids`` when given."""
    return keyed_noise(key, feature_payloads(features) if ids is None else id_payloads(ids, first_row), z_dim)


def _canonical_id(value: Any, row: int) -> str:
    if np.ndim(value) != 0 or pd.isna(value):
        raise ValueError(f"row {row} has no id" if np.ndim(value) == 0 else f"row {row} has an id that is not one value")
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def keyed_noise(key: bytes, payloads: Sequence[bytes], z_dim: int) -> np.ndarray:
    """eps ~ N(0, I) per payload, float32 ``(len(payloads), z_dim)``: a function of ``key`` and the payload only."""
    key = check_key(key)
    pairs = max(1, math.ceil(z_dim / 2))
    shake = hashlib.shake_256
    stream = b"".join(shake(hmac.digest(key, _DOMAIN + payload, hashlib.sha256)).digest(16 * pairs) for payload in payloads)
    words = np.frombuffer(stream, dtype="<u8").reshape(len(payloads), 2 * pairs)
    uniform = ((words >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    # contiguous 1-D arrays: numpy's vector loops then treat every element alike, whatever the row count
    u1 = np.ascontiguousarray(uniform[:, 0::2]).ravel()
    u2 = np.ascontiguousarray(uniform[:, 1::2]).ravel()
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = (2.0 * np.pi) * u2
    normals = np.empty((len(payloads), 2 * pairs), dtype=np.float64)
    normals[:, 0::2] = (radius * np.cos(angle)).reshape(len(payloads), -1)
    normals[:, 1::2] = (radius * np.sin(angle)).reshape(len(payloads), -1)
    return np.ascontiguousarray(normals[:, :z_dim], dtype=np.float32)


def noise_key(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The noise key of ``privib encode``: the file ``path``, else ``$PRIVIB_NOISE_KEY``, else None.

    The variable holds the key itself (at least 16 bytes of text, e.g. 64 hex digits).
    """
    if path is not None:
        return read_key_file(path, "--noise_key")
    value = (os.environ if environ is None else environ).get(KEY_ENV, "").strip()
    if not value:
        return None
    if len(value.encode("utf-8")) < MIN_KEY_BYTES:
        raise ConfigError(f"${KEY_ENV} holds {len(value)} characters: set it to at least {MIN_KEY_BYTES} random bytes of text")
    return value.encode("utf-8")
