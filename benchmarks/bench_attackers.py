"""MLP attackers and probe: privib's TorchMLPClassifier against scikit-learn's MLPClassifier, strength and cost.

    python benchmarks/bench_attackers.py                  # trains a default run (fit only), 3 seeds
    python benchmarks/bench_attackers.py --run runs/X     # the codes of an existing run folder instead

On three representations of Adult, the preprocessed input features (``raw``, what the raw reference
attacks), one sample z ~ q(z|x) of the default encoder (``sample``, what it releases) and the mean of
q(z|x) (``mean``, the other representation the audit attacks), each MLP job of the audit is fitted
both ways, interleaved, for the same widths: ``mlp_64`` and ``mlp_128_64`` attackers of the sensitive
attribute, the ``mlp`` probe (128, 64) of the task. ``sklearn`` is the battery before this change
(``MLPClassifier``, early stopping on the validation accuracy, batches of 200, patience 10); ``torch``
is the spec of ``default_attackers()`` today. Both are standardized and single-threaded, as in the audit.
Reported per job: test AUC (mean over seeds) and fit + predict seconds (CPU time of the process).
Targets: every torch AUC within 0.01 of the sklearn one, or above; and the summed seconds as a ratio.
``--downstream`` adds the literature's downstream classifier (one hidden layer of 50 units, FARE's
settings: at most 1000 epochs, stopping on the training loss) on the three representations: task accuracy
and demographic-parity gap of the sensitive attribute (the protocol's two figures), scikit-learn's
``MLPClassifier`` (the protocol's classifier before) against ``TorchMLPClassifier(early_stopping=False)``
(``default_downstream()`` today).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CONFIG, base_parser, header, median, setup_environment, spread, verdict, write_json  # noqa: E402

SKLEARN_MLP = {"early_stopping": True, "max_iter": 200, "n_iter_no_change": 10}
JOBS = [("s", "mlp_64", [64]), ("s", "mlp_128_64", [128, 64]), ("y", "mlp", [128, 64])]


def parse_args() -> argparse.Namespace:
    parser = base_parser(__doc__.split("\n")[0], reps=3)
    parser.add_argument("--run", type=Path, default=None, help="run folder whose best checkpoint is encoded (default: train one)")
    parser.add_argument("--downstream", action="store_true", help="also compare the downstream protocol's MLP (50 units)")
    return parser.parse_args()


def trained_run(work: Path) -> Path:
    """A run of the default config, fit stage only, W&B off (its folder)."""
    import contextlib
    import io

    from privib.pipeline.config import parse_run_config
    from privib.pipeline.runner import run_pipeline

    pipeline = work / "fit-only.yaml"
    pipeline.write_text("stages: [fit]\n")
    _, config = parse_run_config(["--config", str(DEFAULT_CONFIG), "--name", "bench", "--runs_dir", str(work / "runs"),
                                  "--pipeline", str(pipeline), "--wandb.enabled", "false",
                                  "--trainer.enable_progress_bar", "false"])
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return Path(run_pipeline(config))


def representations(run: Path) -> tuple[dict[str, tuple[Any, Any]], dict[str, tuple[Any, Any]]]:
    """``{raw, sample, mean}`` -> (train, test) arrays as the audit builds them, and the labels ``{s, y}``."""
    import numpy as np

    from privib.data.datamodule import PrivibDataModule
    from privib.io import read_yaml
    from privib.models.checkpoint import load_trained_model
    from privib.evaluation.robustness import encode

    config = read_yaml(run / "config.yaml")
    datamodule = PrivibDataModule(**config["data"])
    datamodule.setup()
    encoder = load_trained_model(run / "checkpoints" / "best.ckpt").model.encoder
    train, test = datamodule.splits["train"], datamodule.splits["test"]
    (mean_tr, scale_tr), (mean_te, scale_te) = encode(encoder, train.x), encode(encoder, test.x)
    rng = np.random.default_rng(int(config.get("seed_everything") or 0))  # the audit's draw of the released sample
    sample_tr = mean_tr + scale_tr * rng.standard_normal(mean_tr.shape, dtype=np.float32)
    sample_te = mean_te + scale_te * rng.standard_normal(mean_te.shape, dtype=np.float32)
    reps = {"raw": (train.x.numpy(), test.x.numpy()), "sample": (sample_tr, sample_te), "mean": (mean_tr, mean_te)}
    labels = {"s": (train.s[:, 0].numpy(), test.s[:, 0].numpy()), "y": (train.y.numpy(), test.y.numpy())}
    return reps, labels


def estimators(name: str, widths: list[int], seed: int) -> dict[str, Any]:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from privib.evaluation.attackers import build_estimator, default_attackers, default_probes

    spec = next(s for s in [*default_attackers(seed), *default_probes(seed)] if s["name"] == name)
    return {"sklearn": make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=widths, random_state=seed, **SKLEARN_MLP)),
            "torch": build_estimator(spec)[1]}


def downstream_estimators(seed: int) -> dict[str, Any]:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from privib.evaluation.torch_mlp import TorchMLPClassifier

    fare = {"hidden_layer_sizes": [50], "max_iter": 1000, "n_iter_no_change": 10, "random_state": seed}
    return {"sklearn": make_pipeline(StandardScaler(), MLPClassifier(**fare)),
            "torch": make_pipeline(StandardScaler(), TorchMLPClassifier(early_stopping=False, **fare))}


def score(model: Any, data: tuple[Any, Any], labels: tuple[Any, Any], metric: str,
          groups: Any = None) -> tuple[float, float, float]:
    """(test AUC or accuracy, CPU seconds of fit + predict, DP gap of the predictions over ``groups`` or NaN)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    started = time.process_time()
    with threadpool_limits(1):
        model.fit(data[0], labels[0])
        proba = model.predict_proba(data[1])[:, 1]
    seconds = time.process_time() - started
    value = roc_auc_score(labels[1], proba) if metric == "auc" else float(np.mean((proba > 0.5) == labels[1]))
    gap = float("nan")
    if groups is not None:
        from privib.evaluation.metrics import dp_gap

        gap = float(dp_gap(None, (proba > 0.5).astype(int), sensitive_features=groups))
    return float(value), seconds, gap


def main() -> int:
    setup_environment()
    args = parse_args()
    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="privib-bench-attackers-") as tmp:
        header("MLP attackers and probe: TorchMLPClassifier vs scikit-learn's MLPClassifier, same widths", [
            f"codes of {'run ' + str(args.run) if args.run else 'a freshly trained default run (fit stage)'}; "
            f"{args.reps} seeds per job, interleaved; CPU seconds of fit + predict, one thread",
        ])
        run = args.run or trained_run(Path(tmp))
        reps, labels = representations(run)
        rows: list[dict[str, Any]] = []
        jobs = [(rep, target, name, widths) for rep in reps for target, name, widths in JOBS]
        jobs += [(rep, "y", "downstream_mlp_50", [50]) for rep in reps] if args.downstream else []
        for rep, target, name, widths in jobs:
            figures: dict[str, dict[str, list[float]]] = {k: {"value": [], "s": [], "dp": []} for k in ("sklearn", "torch")}
            metric = "acc" if name.startswith("downstream") else "auc"
            for seed in range(args.reps):
                models = downstream_estimators(seed) if metric == "acc" else estimators(name, widths, seed)
                order = ["sklearn", "torch"] if seed % 2 == 0 else ["torch", "sklearn"]
                for kind in order:
                    value, seconds, gap = score(models[kind], reps[rep], labels[target], metric,
                                                groups=labels["s"][1] if metric == "acc" else None)
                    figures[kind]["value"].append(value)
                    figures[kind]["s"].append(seconds)
                    figures[kind]["dp"].append(gap)
            sk, to = figures["sklearn"], figures["torch"]
            row = {"rep": rep, "target": target, "job": name, "metric": metric,
                   "sklearn": sum(sk["value"]) / len(sk["value"]), "torch": sum(to["value"]) / len(to["value"]),
                   "sklearn_s": sum(sk["s"]), "torch_s": sum(to["s"]),
                   "time_ratios": [t / s for t, s in zip(to["s"], sk["s"])]}
            row["diff"] = row["torch"] - row["sklearn"]
            if metric == "acc":
                row["sklearn_dp_gap"], row["torch_dp_gap"] = median(sk["dp"]), median(to["dp"])
            rows.append(row)
            print(f"   {rep:6s} {target} {name:18s} {metric} sklearn {row['sklearn']:.4f}  torch {row['torch']:.4f}  "
                  f"diff {row['diff']:+.4f}   seconds sklearn {row['sklearn_s']:6.2f}  torch {row['torch_s']:6.2f}  "
                  f"(torch / sklearn {spread(row['time_ratios'])})"
                  + (f"   DP gap sklearn {row['sklearn_dp_gap']:.4f}  torch {row['torch_dp_gap']:.4f}" if metric == "acc" else ""),
                  flush=True)
        audit_rows = [r for r in rows if r["metric"] == "auc"]
        total_sk, total_to = sum(r["sklearn_s"] for r in audit_rows), sum(r["torch_s"] for r in audit_rows)
        print(f"summed over the audit's MLP jobs: sklearn {total_sk:.1f}s, torch {total_to:.1f}s = {total_to / total_sk:.2f}x")
        protocol_rows = [r for r in rows if r["metric"] == "acc"]
        if protocol_rows:
            sk_s, to_s = sum(r["sklearn_s"] for r in protocol_rows), sum(r["torch_s"] for r in protocol_rows)
            print(f"downstream protocol: sklearn {sk_s:.1f}s, torch {to_s:.1f}s = {to_s / sk_s:.2f}x; worst |accuracy "
                  f"difference| {max(abs(r['diff']) for r in protocol_rows):.4f}, worst |DP gap difference| "
                  f"{max(abs(r['torch_dp_gap'] - r['sklearn_dp_gap']) for r in protocol_rows):.4f}")
        result = {
            "run": str(run), "reps": args.reps, "rows": rows,
            "target_strength": verdict("torch AUC - sklearn AUC, worst job", [min(r["diff"] for r in audit_rows)], -0.01, True,
                                       "{:+.4f}"),
            "target_cost": verdict("torch / sklearn seconds, summed over the audit's MLP jobs",
                                   [total_to / total_sk], 1.0, False),
            "median_time_ratio": median([x for r in audit_rows for x in r["time_ratios"]]),
        }
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
