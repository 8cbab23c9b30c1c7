"""Memory: peak resident memory of the standard run and of a 4-worker sweep.

    python benchmarks/bench_memory.py                   # one standard run, one 4-worker sweep

Each command runs in a fresh process tree, sampled every 0.2 s through ``/proc``: the peak of
the summed resident set (RSS) and proportional set (PSS: shared library pages divided
among the processes that map them, so the sum does not count torch's libraries once per
process) over the command and all its descendants (sweep children, attacker worker
processes), and the largest single process. The standard run is ``privib run`` with the
default config; the sweep is 4 runs (2 epochs, light audit) with ``--workers 4``.
Linux only.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CONFIG, base_parser, header, privib_command, setup_environment, spread, summary, write_json  # noqa: E402
from bench_sweep import spec_file  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _tree(root: int) -> list[int]:
    children, out, stack = _children_map(), [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes; zeros for a process that is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        return int(fields["Rss"].split()[0]) * 1024, int(fields["Pss"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return 0, 0


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"rss_sum": 0, "pss_sum": 0, "rss_max_process": 0, "processes": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            sizes = [_memory(pid) for pid in _tree(process.pid)]
            peak["rss_sum"] = max(peak["rss_sum"], sum(r for r, _ in sizes))
            peak["pss_sum"] = max(peak["pss_sum"], sum(p for _, p in sizes))
            peak["rss_max_process"] = max(peak["rss_max_process"], max((r for r, _ in sizes), default=0))
            peak["processes"] = max(peak["processes"], sum(1 for r, _ in sizes if r))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed ({process.returncode}): {stderr[-3000:]}")
    mib = 1024 * 1024
    return {"seconds": time.perf_counter() - started, "rss_sum_mib": peak["rss_sum"] / mib, "pss_sum_mib": peak["pss_sum"] / mib,
            "rss_max_process_mib": peak["rss_max_process"] / mib, "processes": peak["processes"]}


def main() -> int:
    setup_environment()
    parser = base_parser(__doc__.split("\n")[0], reps=1)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    args, extra = parser.parse_known_args()
    if not Path("/proc/self/smaps_rollup").exists():
        raise SystemExit("needs Linux /proc (smaps_rollup)")
    with tempfile.TemporaryDirectory(prefix="privib-bench-memory-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "WANDB_MODE": "disabled", "PRIVIB_CACHE_DIR": str(work / "cache")}
        header("memory: peak resident memory", [f"config {args.config}; extra run flags: {' '.join(extra) or 'none'}"])
        spec = spec_file(work, args.config, epochs=2, points=4)
        figures: dict[str, list[dict[str, float]]] = {"standard run": [], "sweep, 4 workers": []}
        for rep in range(args.reps):
            figures["standard run"].append(measure(
                [*privib_command(), "run", "--config", args.config, "--runs_dir", str(work / "runs"),
                 "--trainer.enable_progress_bar", "false", *extra], env, work))
            figures["sweep, 4 workers"].append(measure(
                [*privib_command(), "sweep", str(spec), "--workers", "4", "--no-compare", "--dir", str(work / f"sweep-{rep}")],
                env, work))
        print("peak MiB (median [min, max]):")
        for name, rows in figures.items():
            print(f"   {name}: summed RSS {spread([r['rss_sum_mib'] for r in rows], '{:.0f}')}, "
                  f"summed PSS {spread([r['pss_sum_mib'] for r in rows], '{:.0f}')}, "
                  f"largest process {spread([r['rss_max_process_mib'] for r in rows], '{:.0f}')}, "
                  f"up to {max(r['processes'] for r in rows)} processes, {rows[-1]['seconds']:.0f}s")
        write_json(args.json, {name: {k: summary([r[k] for r in rows]) for k in rows[0]} for name, rows in figures.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
