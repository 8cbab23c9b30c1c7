"""Start-up: wall time of ``privib --help`` and ``privib run --help`` against ``python -c "import torch"``.

    python benchmarks/bench_startup.py                  # 7 repetitions, interleaved

Each command runs in a fresh process, the three one after the other within a repetition;
ratios are paired per repetition. ``privib run --help`` builds its options from Lightning's
Trainer signature, which imports pytorch_lightning (about 2 s, more than torch itself); its
text is therefore kept in the privib cache after the first call (keyed by the command line,
the config files, the terminal width and the installed code). The benchmark reports that
first call separately, against an empty cache (``cold``), and the repeated calls (``warm``).
Target: each at most 1.3 times ``import torch``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, header, privib_command, setup_environment, spread, summary, verdict, write_json  # noqa: E402


def timed(argv: list[str], env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds


def main() -> int:
    setup_environment()
    args = base_parser(__doc__.split("\n")[0], reps=7).parse_args()
    privib = privib_command()
    torch_cmd = [sys.executable, "-c", "import torch"]
    with tempfile.TemporaryDirectory(prefix="privib-bench-startup-") as tmp:
        env = {**os.environ, "PRIVIB_CACHE_DIR": str(Path(tmp) / "cache"), "COLUMNS": "100"}
        header("start-up: privib --help, privib run --help vs python -c 'import torch'", [
            f"commands run from an empty folder; privib cache in a fresh temporary folder; {args.reps} repetitions",
        ])
        timed(torch_cmd, env, tmp)  # warm the OS file cache for every variant alike
        timed([*privib, "--help"], env, tmp)
        timed([*privib, "run", "--help"], env, tmp)  # fills the cache the warm calls read
        times: dict[str, list[float]] = {"import torch": [], "privib --help": [], "privib run --help (cold)": [],
                                          "privib run --help (warm)": []}
        for rep in range(args.reps):
            cold_env = {**env, "PRIVIB_CACHE_DIR": str(Path(tmp) / f"cold-{rep}")}
            times["import torch"].append(timed(torch_cmd, env, tmp))
            times["privib --help"].append(timed([*privib, "--help"], env, tmp))
            times["privib run --help (cold)"].append(timed([*privib, "run", "--help"], cold_env, tmp))
            times["privib run --help (warm)"].append(timed([*privib, "run", "--help"], env, tmp))
            print(f"   rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
        print("wall seconds (median [min, max]):")
        for name, values in times.items():
            print(f"   {name:26s} {spread(values)}")
        base = times["import torch"]
        ratios = {name: [t / b for t, b in zip(values, base)] for name, values in times.items() if name != "import torch"}
        result = {"seconds": {k: summary(v) for k, v in times.items()}, "targets": {}}
        for name, values in ratios.items():
            result["targets"][name] = verdict(f"{name} / import torch", values, 1.3, higher_is_better=False)
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
