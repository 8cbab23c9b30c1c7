"""``encode(records, key=...)``: noise keyed to the record, the same code in any order, batch size and backend.

The ``tiny_export`` fixture (a stochastic encoder, all formats) is in tests/unit/conftest.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import privib
from privib.errors import ExportError
from privib.export.encoder import EncoderInputError
from privib.export.noise import batch_noise
from privib.io import sha256_file

from helpers.exports import make_frame, unique_messages

KEY = b"a-team-secret-of-32-bytes-------"
OTHER = b"another-secret-of-32-bytes------"


@pytest.fixture(params=["torch", "onnx"])
def encoder(request, tiny_export):
    return privib.load_encoder(tiny_export[0], backend=request.param)


def test_keyed_codes_do_not_depend_on_row_order_or_batch_size(encoder) -> None:
    frame = make_frame(700, seed=8)
    z = encoder.encode(frame, key=KEY)
    assert z.dtype == np.float32 and z.shape == (700, 4)
    assert np.abs(z - encoder.encode(frame, sample=False)).max() > 0.1  # sampled, not the mean
    order = np.random.default_rng(0).permutation(700)
    np.testing.assert_array_equal(encoder.encode(frame.iloc[order], key=KEY), z[order])
    for batch_size in (1, 2, 3, 7, 64):  # torch rounds 1-3 rows apart from a batch unless padded
        np.testing.assert_array_equal(encoder.encode(frame.head(40), key=KEY, batch_size=batch_size), z[:40])
    np.testing.assert_array_equal(encoder.encode(frame, key=KEY, batch_size=333), z)
    np.testing.assert_array_equal(encoder.encode(frame.iloc[5].to_dict(), key=KEY), z[5:6])
    np.testing.assert_array_equal(encoder.encode(encoder.features(frame), key=KEY), z)  # preprocessed input
    np.testing.assert_array_equal(encoder.encode(frame, key=KEY.decode()), z)  # the same key as text


def test_a_record_re_released_in_another_table_gets_the_same_code(encoder) -> None:
    first, second = make_frame(300, seed=1), make_frame(200, seed=2)
    table = pd.concat([second.iloc[:50], first.iloc[[17]], second.iloc[50:]], ignore_index=True)
    np.testing.assert_array_equal(encoder.encode(table, key=KEY)[50], encoder.encode(first, key=KEY)[17])
    twice = [encoder.encode(first, key=KEY) for _ in range(2)]
    np.testing.assert_array_equal(*twice)  # averaging releases gains nothing: they are one release
    other = encoder.encode(first, key=OTHER)
    assert not np.array_equal(other, twice[0])


def test_both_backends_use_the_same_noise(tiny_export) -> None:
    frame = make_frame(400, seed=4)
    codes = {}
    for backend in ("torch", "onnx"):
        enc = privib.load_encoder(tiny_export[0], backend=backend)
        mean, log_var = enc.encode_distribution(frame)
        eps = batch_noise(KEY, enc.z_dim, enc.features(frame))
        codes[backend] = enc.encode(frame, key=KEY)
        expected = (mean + np.exp(np.float32(0.5) * log_var) * eps).astype(np.float32)
        np.testing.assert_array_equal(codes[backend], expected)
    np.testing.assert_allclose(codes["torch"], codes["onnx"], rtol=0, atol=1e-5)  # the backends' own parity


def test_keyed_noise_is_standard_normal_and_independent_across_keys(tiny_export) -> None:
    enc = privib.load_encoder(tiny_export[0], backend="onnx")
    frame = make_frame(5000, seed=6)
    mean, log_var = enc.encode_distribution(frame)
    scale = np.exp(0.5 * log_var.astype(np.float64))
    eps = (enc.encode(frame, key=KEY) - mean) / scale
    other = (enc.encode(frame, key=OTHER) - mean) / scale
    assert np.abs(eps.mean(axis=0)).max() < 0.06 and np.abs(eps.std(axis=0) - 1).max() < 0.04
    assert np.abs(np.corrcoef(eps.ravel(), other.ravel())[0, 1]) < 0.03


def test_an_id_column_keys_the_noise_to_the_person(tiny_export, export_log) -> None:
    enc = privib.load_encoder(tiny_export[0])
    frame = make_frame(100, seed=3)
    changed = frame.assign(hours=frame["hours"] + 5.0)  # the same people, their records updated
    z = enc.encode(changed, key=KEY, id_column="id")
    assert all("'id'" not in m for m in unique_messages(export_log, "ignoring"))  # the id is read, not ignored
    mean, log_var = enc.encode_distribution(changed)
    eps = batch_noise(KEY, enc.z_dim, enc.features(frame), ids=frame["id"])
    np.testing.assert_array_equal(z, (mean + np.exp(np.float32(0.5) * log_var) * eps).astype(np.float32))
    np.testing.assert_array_equal(enc.encode(changed.iloc[::-1], key=KEY, id_column="id", batch_size=9), z[::-1])
    assert not np.array_equal(z, enc.encode(changed, key=KEY))  # keyed to the features instead
    with pytest.raises(EncoderInputError, match="id column 'id': row 3 has no id"):
        enc.encode(changed.assign(id=changed["id"].astype(float).where(changed.index != 3)), key=KEY, id_column="id")
    with pytest.raises(EncoderInputError, match="id column 'person' is not in the records"):
        enc.encode(changed, key=KEY, id_column="person")
    with pytest.raises(EncoderInputError, match="is not in the records"):
        enc.encode(enc.features(changed), key=KEY, id_column="id")


@pytest.mark.parametrize("kwargs, match", [
    ({"key": KEY, "sample": False}, "drop it to encode the mean"),
    ({"key": KEY, "seed": 3}, "both choose the noise"),
    ({"id_column": "id"}, "pass key= as well"),
    ({"key": b"short"}, "holds 5 bytes: use at least 16"),
])
def test_misuse_is_one_line(tiny_export, kwargs, match) -> None:
    with pytest.raises(ExportError, match=match):
        privib.load_encoder(tiny_export[0]).encode(make_frame(5), **kwargs)


def test_a_deterministic_encoder_returns_its_mean_and_the_key_touches_no_file(tiny_deterministic_export,
                                                                               tiny_export) -> None:
    enc = privib.load_encoder(tiny_deterministic_export[0])
    frame = make_frame(50, seed=9)
    np.testing.assert_array_equal(enc.encode(frame, key=KEY), enc.encode(frame, sample=False))
    before = {p.name: sha256_file(p) for p in tiny_export[0].iterdir()}
    privib.load_encoder(tiny_export[0]).encode(frame, key=KEY)
    assert {p.name: sha256_file(p) for p in tiny_export[0].iterdir()} == before
    assert not any(KEY in p.read_bytes() for p in tiny_export[0].iterdir())
