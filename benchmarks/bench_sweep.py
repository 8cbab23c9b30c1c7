"""Sweep scaling: wall time of a small ``privib sweep`` with 1 and with 2 workers, warm forks and new interpreters.

    python benchmarks/bench_sweep.py                    # 4 points, 2 repetitions of each worker count

The sweep is a tiny grid on the default config (``model.beta`` x 2 values x 2 seeds = 4
runs of ``fit``, ``test``, ``evaluate``; 2 epochs each and a light audit: logistic
regression and gradient boosting on the released representation, one probe, no second
representation, no raw reference, no robustness grid, so that one repetition of both worker
counts stays around a minute and a half). Each
measurement is the whole ``privib sweep ... --workers W --no-compare`` command in a fresh
folder: spec validation, the child ``privib run`` processes, the summary. The worker
counts alternate (1, 2, then 2, 1, ...). Speed-up = wall(1 worker) / wall(2 workers),
paired per repetition. Target: at least 1.7 on this 2-core machine. A third variant per repetition runs
2 workers with ``PRIVIB_SWEEP_WARM=0`` (every point a new interpreter, as before points were forked
from the warm helper): warm gain = wall(new interpreters) / wall(warm forks), paired.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CONFIG, base_parser, header, privib_command, setup_environment, spread, summary, verdict, write_json  # noqa: E402


# A light audit (one linear and one tree attacker, one probe, released representation only), so that the runs
# stay short and one repetition of both worker counts fits in about a minute and a half.
LIGHT_AUDIT = {
    "evaluation.attackers": [
        {"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"max_iter": 500},
         "standardize": True},
        {"name": "hgb", "class_path": "sklearn.ensemble.HistGradientBoostingClassifier", "init_args": {"max_iter": 50}}],
    "evaluation.probes": [
        {"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "init_args": {"max_iter": 500},
         "standardize": True}],
    "evaluation.attack_both": False, "evaluation.raw_reference": False, "evaluation.robustness": {},
}


def spec_file(folder: Path, config: str, epochs: int, points: int) -> Path:
    seeds = list(range(max(1, points // 2)))
    betas = [0.01, 0.1][: max(1, min(2, points))]
    spec = {
        "stages": ["fit", "test", "evaluate"],
        "sweep": {
            "name": "bench", "config": config, "seeds": seeds,
            "fixed": {"trainer.max_epochs": epochs, "trainer.enable_progress_bar": False, "wandb.enabled": False,
                      **LIGHT_AUDIT},
            "grid": {"model.beta": betas},
        },
    }
    path = folder / "bench-sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def sweep(spec: Path, workers: int, folder: Path, env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run([*privib_command(), "sweep", str(spec), "--workers", str(workers), "--no-compare",
                             "--dir", str(folder)], env=env, cwd=folder.parent, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"privib sweep failed ({result.returncode}): {result.stderr[-3000:]}")
    attempts = [json.loads(line) for line in (folder / "attempts.jsonl").read_text().splitlines() if line.strip()]
    return {"wall": wall, "runs": len(attempts), "run_seconds": sum(a.get("seconds", 0.0) for a in attempts)}


def main() -> int:
    setup_environment()
    parser = base_parser(__doc__.split("\n")[0], reps=2)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--points", type=int, default=4, help="grid points (2 betas x points/2 seeds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="privib-bench-sweep-") as tmp:
        work = Path(tmp)
        spec = spec_file(work, args.config, args.epochs, args.points)
        env = {**os.environ, "WANDB_MODE": "disabled", "PRIVIB_CACHE_DIR": str(work / "cache")}
        header("sweep scaling: privib sweep with 1 and 2 workers", [
            f"{args.points} points x {args.epochs} epochs, stages fit/test/evaluate (light audit), {os.cpu_count()} cores"])
        walls: dict[int, list[float]] = {1: [], 2: []}
        fresh: list[float] = []
        details: list[dict[str, float]] = []
        for rep in range(args.reps):
            for workers in ((1, 2, 0) if rep % 2 == 0 else (0, 2, 1)):  # 0: 2 workers, new interpreters
                variant_env = {**env, "PRIVIB_SWEEP_WARM": "0"} if workers == 0 else env
                out = sweep(spec, workers or 2, work / f"sweep-w{workers}-r{rep}", variant_env)
                (fresh if workers == 0 else walls[workers]).append(out["wall"])
                details.append({"workers": workers or 2, "warm": workers != 0, **out})
                label = "2 worker(s), new interpreters" if workers == 0 else f"{workers} worker(s)"
                print(f"   rep {rep + 1}, {label}: {out['wall']:.1f}s wall for {out['runs']} runs "
                      f"({out['run_seconds']:.1f}s of run time summed)", flush=True)
        print("wall seconds (median [min, max]):")
        for workers, values in walls.items():
            print(f"   {workers} worker(s): {spread(values)}")
        print(f"   2 worker(s), new interpreters: {spread(fresh)}")
        speedups = [a / b for a, b in zip(walls[1], walls[2])]
        gains = [a / b for a, b in zip(fresh, walls[2])]
        print(f"warm gain, wall(new interpreters) / wall(warm forks), 2 workers: {spread(gains)}")
        result = {"walls": {str(k): summary(v) for k, v in walls.items()}, "fresh_interpreters": summary(fresh),
                  "warm_gain": summary(gains), "details": details,
                  "target": verdict("sweep speed-up, 2 workers vs 1", speedups, 1.7, higher_is_better=True)}
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
