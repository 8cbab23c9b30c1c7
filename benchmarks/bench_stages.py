"""Stage costs: each stage of the standard pipeline as a share of a whole ``privib run``.

    python benchmarks/bench_stages.py                   # default config, 3 runs
    python benchmarks/bench_stages.py --evaluation.n_jobs 2   # any `privib run` flag is passed on

Runs ``privib run`` (the default config and pipeline, W&B disabled) in fresh processes and
reads each run's ``timings.json``: ``stage/<name>_s`` for every stage and
``time/evaluate/<part>_s`` for the parts of the evaluation (encode, task head, probes,
leakage attackers, raw reference, robustness, and any other part the run records, such as
the downstream protocol or the stronger attackers). ``start-up + load`` is the rest of the
command's wall time: interpreter, imports, config, data loading and preprocessing, model,
run folder. With ``evaluation.n_jobs`` > 1 the parts overlap and each part's figure is the
summed duration of its fits.

The raw reference is cached across runs (see ``privib/evaluation/cache.py``): the first run
uses an empty cache (``cold``: what the first run on a data set / split / seed pays), the
following ones find it (``warm``: every later run with the same data and evaluation
options). Target: evaluation at most 0.5 of the fit stage's time (median over warm runs;
the cold run is reported beside it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, header, privib_command, setup_environment, spread, summary, verdict, write_json  # noqa: E402

PARTS = ("encode", "task", "probes", "leakage", "raw_reference", "robustness")


def run_once(extra: list[str], work: Path, env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run([*privib_command(), "run", "--runs_dir", str(work / "runs"),
                             "--trainer.enable_progress_bar", "false", *extra],
                            env=env, cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"privib run failed ({result.returncode}): {result.stderr[-3000:]}")
    folder = Path(result.stdout.strip().splitlines()[-1])
    folder = folder if folder.is_absolute() else work / folder
    timings = json.loads((folder / "timings.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    stages = {k[len("stage/"):-2]: v for k, v in timings.items() if k.startswith("stage/")}
    out = {"wall": wall, **{f"stage/{k}": v for k, v in stages.items()}}
    out["stage/start-up + load"] = wall - sum(stages.values())
    out.update({f"evaluate/{p}": timings.get(f"time/evaluate/{p}_s", 0.0) for p in PARTS})
    out.update({f"evaluate/{k[len('time/evaluate/'):-2]}": v for k, v in timings.items()  # parts added since, e.g. downstream
                if k.startswith("time/evaluate/") and k.endswith("_s")})
    out["raw_reference_cache_hit"] = timings.get("time/evaluate/raw_reference_cache_hit", float("nan"))
    out["epochs"] = metrics.get("fit/epochs", float("nan"))
    return out


def main() -> int:
    setup_environment()
    parser = base_parser(__doc__.split("\n")[0], reps=3)
    args, extra = parser.parse_known_args()
    if args.reps < 2:
        raise SystemExit("--reps must be at least 2 (one cold-cache run, then warm ones)")
    with tempfile.TemporaryDirectory(prefix="privib-bench-stages-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "PRIVIB_CACHE_DIR": str(work / "cache"), "WANDB_MODE": "disabled"}
        header("stage costs of `privib run` (standard pipeline, default config)", [
            f"extra flags: {' '.join(extra) or 'none'}; {args.reps} runs: the first with an empty privib cache (cold), "
            "then warm",
        ])
        runs = []
        for rep in range(args.reps):
            runs.append(run_once(extra, work, env))
            r = runs[-1]
            print(f"   run {rep + 1} ({'cold' if rep == 0 else 'warm'} cache, {r['epochs']:.0f} epochs): wall {r['wall']:.1f}s, "
                  f"fit {r['stage/fit']:.1f}s, evaluate {r['stage/evaluate']:.1f}s "
                  f"(raw reference {'cached' if r['raw_reference_cache_hit'] == 1.0 else 'computed'})", flush=True)
        warm = runs[1:]
        keys = [k for k in runs[0] if k.startswith("stage/")]
        print("share of the whole run, warm runs (median seconds [min, max]; share of the median wall time):")
        wall = sorted(r["wall"] for r in warm)[len(warm) // 2]
        parts = [k for k in runs[0] if k.startswith("evaluate/")]
        for key in keys + parts:
            values = [r[key] for r in warm]
            indent = "     " if key.startswith("evaluate/") else "   "
            print(f"{indent}{key:26s} {spread(values)}  {100 * sorted(values)[len(values) // 2] / wall:5.1f}%")
        print(f"   {'wall':26s} {spread([r['wall'] for r in warm])}")
        cold = runs[0]
        ratio_cold = cold["stage/evaluate"] / cold["stage/fit"]
        ratios = [r["stage/evaluate"] / r["stage/fit"] for r in warm]
        print(f"cold cache run: evaluate {cold['stage/evaluate']:.1f}s / fit {cold['stage/fit']:.1f}s = {ratio_cold:.2f} "
              f"(raw reference {cold['evaluate/raw_reference']:.1f}s)")
        result = {
            "extra_flags": extra, "runs": runs, "cold_ratio": ratio_cold,
            "warm": {k: summary([r[k] for r in warm]) for k in runs[0]},
            "target": verdict("evaluate / fit (warm cache)", ratios, 0.5, higher_is_better=False),
        }
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
