"""Keyed noise: standard normal, a function of the key and the record only, checked against a plain-Python derivation."""
from __future__ import annotations

import hashlib
import hmac
import math
import struct

import numpy as np
import pytest
from scipy import stats

from privib.errors import ConfigError, ExportError
from privib.export.noise import KEY_ENV, batch_noise, check_key, feature_payloads, id_payloads, keyed_noise, noise_key

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"


def _reference(key: bytes, payload: bytes, z_dim: int) -> list[float]:
    """The documented derivation, one value at a time with hmac, hashlib, struct and math."""
    pairs = (z_dim + 1) // 2
    seed = hmac.new(key, b"privib-noise-v1" + payload, hashlib.sha256).digest()
    words = struct.unpack(f"<{2 * pairs}Q", hashlib.shake_256(seed).digest(16 * pairs))
    normals: list[float] = []
    for x1, x2 in zip(words[0::2], words[1::2]):
        u1, u2 = ((x1 >> 11) + 0.5) / 2**53, ((x2 >> 11) + 0.5) / 2**53
        radius = math.sqrt(-2.0 * math.log(u1))
        normals += [radius * math.cos(2 * math.pi * u2), radius * math.sin(2 * math.pi * u2)]
    return normals[:z_dim]


@pytest.fixture(scope="module")
def payloads() -> list[bytes]:
    features = np.random.default_rng(0).standard_normal((20000, 6)).astype(np.float32)
    return feature_payloads(features)


def test_the_derivation_matches_a_plain_python_reference() -> None:
    for z_dim in (1, 3, 8, 9):
        for payload in (b"features\x00" + b"\x00" * 24, b"id\x00person-17"):
            np.testing.assert_allclose(keyed_noise(KEY, [payload], z_dim)[0], _reference(KEY, payload, z_dim),
                                       rtol=0, atol=1e-6)


def test_noise_is_standard_normal_and_independent_across_dims_and_keys(payloads) -> None:
    eps = keyed_noise(KEY, payloads, 8)
    assert eps.dtype == np.float32 and eps.shape == (20000, 8)
    assert np.abs(eps.mean(axis=0)).max() < 0.03 and np.abs(eps.std(axis=0) - 1).max() < 0.02
    for d in (0, 5):
        assert stats.kstest(eps[:, d], "norm").pvalue > 0.01
    assert np.abs(np.corrcoef(eps.T) - np.eye(8)).max() < 0.04
    other = keyed_noise(OTHER, payloads, 8)
    assert np.abs(np.corrcoef(eps.ravel(), other.ravel())[0, 1]) < 0.01


def test_noise_depends_on_the_record_only_not_on_its_batch_or_position(payloads) -> None:
    rows = payloads[:500]
    full = keyed_noise(KEY, rows, 8)
    order = np.random.default_rng(1).permutation(500)
    np.testing.assert_array_equal(keyed_noise(KEY, [rows[i] for i in order], 8), full[order])
    for size in (1, 2, 3, 7, 16, 33, 100):
        parts = [keyed_noise(KEY, rows[i : i + size], 8) for i in range(0, 500, size)]
        np.testing.assert_array_equal(np.concatenate(parts), full)


def test_feature_payloads_are_canonical() -> None:
    a = np.array([[0.0, 39.0, 1.5]], np.float32)
    b = np.array([[-0.0, 39, 1.5]], np.float64)
    assert feature_payloads(a) == feature_payloads(b)
    assert feature_payloads(a) != feature_payloads(a + np.float32(1e-6))
    np.testing.assert_array_equal(batch_noise(KEY, 4, a), keyed_noise(KEY, feature_payloads(b), 4))


def test_ids_are_compared_as_text_and_a_missing_id_names_its_row() -> None:
    same = id_payloads([7, np.int64(7), 7.0, "7", np.float32(7)])
    assert len(set(same)) == 1
    assert len(set(id_payloads(["007", 7, 7.5, "p-7", True]))) == 5
    with pytest.raises(ValueError, match="row 12 has no id"):
        id_payloads(["a", None], first_row=11)
    with pytest.raises(ValueError, match="row 0 has no id"):
        id_payloads([float("nan")])
    np.testing.assert_array_equal(batch_noise(KEY, 3, np.zeros((2, 1)), ids=["x", "x"])[0],
                                  batch_noise(KEY, 3, np.ones((2, 1)), ids=["x", "y"])[0])


def test_keys_are_checked_and_read_from_a_file_or_the_environment(tmp_path) -> None:
    assert check_key("a" * 16) == b"a" * 16 and check_key(bytearray(KEY)) == KEY
    with pytest.raises(ExportError, match="holds 5 bytes: use at least 16"):
        check_key(b"short")
    with pytest.raises(ExportError, match="must be bytes or text"):
        check_key(12345678901234567890)
    path = tmp_path / "noise.key"
    path.write_text(KEY.decode() + "\n")
    assert noise_key(path, environ={}) == KEY
    assert noise_key(None, environ={KEY_ENV: f"  {OTHER.decode()} "}) == OTHER
    assert noise_key(path, environ={KEY_ENV: OTHER.decode()}) == KEY  # the file wins
    assert noise_key(None, environ={}) is None and noise_key(None, environ={KEY_ENV: ""}) is None
    with pytest.raises(ConfigError, match="PRIVIB_NOISE_KEY holds 3 characters"):
        noise_key(None, environ={KEY_ENV: "abc"})
