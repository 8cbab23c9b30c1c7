"""Cost of the stronger attackers and of keyed noise, each against a baseline in the same process.

    python benchmarks/bench_release_attacks.py                  # 5 repetitions, interleaved

- ``encoder holder``: :class:`privib.evaluation.encoder_attack.MixturePosteriorAttacker` fitted on
  30,162 auxiliary records (mean and scale of q(z|x), z_dim 8, the size of Adult's training file)
  and scoring 15,060 released codes (Adult's test file), against the battery's gradient-boosted
  trees (``hgb``, its default settings) fitted on one draw per record and scoring the same codes; and the
  holder in float32 (its default) against float64 (exact): time, largest posterior difference, AUC difference.
- ``keyed encode``: ``encode(records, key=...)`` on Adult's 15,060 raw test records against
  ``encode(records, sample=True)`` (fresh noise) with the same exported encoder: the default
  config's architecture, untrained (speed does not depend on the weights), all formats, torch backend.

One BLAS and one torch thread. Ratios are paired per repetition and summarized as medians.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CONFIG, base_parser, header, setup_environment, spread, summary, write_json  # noqa: E402

TRAIN_ROWS, TEST_ROWS, Z_DIM = 30162, 15060, 8
KEY = b"benchmark-noise-key-of-32-bytes!"


def _export(folder: Path):
    """An export of an untrained encoder of the default architecture, and Adult's raw test records."""
    import torch

    from privib.data.adult import read_adult_file
    from privib.data.datamodule import PrivibDataModule
    from privib.export.encoder import load_encoder
    from privib.export.exporters import export_encoder
    from privib.io import read_yaml
    from privib.models.networks import GaussianMLPEncoder

    config = read_yaml(DEFAULT_CONFIG)
    datamodule = PrivibDataModule(**config["data"])
    datamodule.setup()
    model = config["model"]
    torch.manual_seed(0)
    encoder = GaussianMLPEncoder(datamodule.preprocessor.n_features, model["z_dim"], model["encoder_widths"]).eval()
    export_encoder(encoder, datamodule.preprocessor, folder, formats="safetensors", dataset="adult", target="income",
                   sensitive=list(datamodule.spec.sensitive), train_rows=len(datamodule.splits["train"].y),
                   config={"model": {**model, "release": "sample"}})
    frame = read_adult_file(Path(os.environ["PRIVIB_DATA_DIR"]) / "adult" / "adult.test", skiprows=1).dropna()
    return load_encoder(folder), frame.reset_index(drop=True)


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], reps=5)
    args = parser.parse_args()
    setup_environment()
    import torch
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    from privib.evaluation.encoder_attack import MixturePosteriorAttacker

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    mean_train = rng.standard_normal((TRAIN_ROWS, Z_DIM)).astype(np.float32)
    scale_train = rng.uniform(0.3, 1.1, (TRAIN_ROWS, Z_DIM)).astype(np.float32)
    s_train = (mean_train[:, 0] + rng.standard_normal(TRAIN_ROWS) > 0.5).astype(np.int64)  # a weak signal
    z_train = mean_train + scale_train * rng.standard_normal((TRAIN_ROWS, Z_DIM)).astype(np.float32)
    mean_test = rng.standard_normal((TEST_ROWS, Z_DIM)).astype(np.float32)
    s_test = (mean_test[:, 0] + rng.standard_normal(TEST_ROWS) > 0.5).astype(np.int64)
    z_test = mean_test + rng.uniform(0.3, 1.1, (TEST_ROWS, Z_DIM)).astype(np.float32) * rng.standard_normal(
        (TEST_ROWS, Z_DIM)).astype(np.float32)
    aux = np.hstack([mean_train, scale_train])
    header("stronger attackers and keyed noise",
           [f"encoder holder: {TRAIN_ROWS} x {TEST_ROWS} rows, z_dim {Z_DIM}; keyed encode: Adult's test file"])
    times: dict[str, list[float]] = {"holder": [], "holder64": [], "hgb": [], "fresh": [], "keyed": []}
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        encoder, frame = _export(Path(tmp) / "export")
        steps = {
            "holder": lambda: MixturePosteriorAttacker().fit(aux, s_train).predict_proba(z_test),
            "holder64": lambda: MixturePosteriorAttacker(dtype="float64").fit(aux, s_train).predict_proba(z_test),
            "hgb": lambda: HistGradientBoostingClassifier(random_state=0).fit(z_train, s_train).predict_proba(z_test),
            "fresh": lambda: encoder.encode(frame, sample=True),
            "keyed": lambda: encoder.encode(frame, key=KEY),
        }
        for rep in range(args.reps):
            for name in (steps if rep % 2 == 0 else list(steps)[::-1]):
                started = time.perf_counter()
                steps[name]()
                times[name].append(time.perf_counter() - started)
        p32, p64 = steps["holder"]()[:, 1], steps["holder64"]()[:, 1]
    auc32, auc64 = roc_auc_score(s_test, p32), roc_auc_score(s_test, p64)
    holder_ratio = [h / b for h, b in zip(times["holder"], times["hgb"])]
    precision_ratio = [h / d for h, d in zip(times["holder"], times["holder64"])]
    keyed_ratio = [k / f for k, f in zip(times["keyed"], times["fresh"])]
    rows = len(frame)
    print(f"encoder holder (fit + predict_proba): {spread(times['holder'])} s")
    print(f"gradient-boosted trees (fit + predict_proba, same codes): {spread(times['hgb'])} s")
    print(f"  holder / hgb: {spread(holder_ratio)}")
    print(f"encoder holder in float64 (exact): {spread(times['holder64'])} s; float32 / float64 time: {spread(precision_ratio)}")
    print(f"  float32 vs float64: largest posterior difference {np.abs(p32 - p64).max():.2e}, "
          f"AUC {auc32:.6f} vs {auc64:.6f} (difference {auc32 - auc64:+.1e})")
    print(f"encode, fresh noise: {spread([rows / t for t in times['fresh']], '{:,.0f}')} rows/s")
    print(f"encode, keyed noise: {spread([rows / t for t in times['keyed']], '{:,.0f}')} rows/s")
    print(f"  keyed / fresh time: {spread(keyed_ratio)}")
    write_json(args.json, {name: summary(values) for name, values in times.items()}
               | {"holder_over_hgb": summary(holder_ratio), "keyed_over_fresh": summary(keyed_ratio),
                  "holder_float32_over_float64": summary(precision_ratio),
                  "holder_float32_max_posterior_difference": float(np.abs(p32 - p64).max()),
                  "holder_float32_auc_difference": float(auc32 - auc64)})


if __name__ == "__main__":
    main()
