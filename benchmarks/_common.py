"""Shared helpers of the benchmarks: environment, the default config, repetitions, medians.

The machine these figures come from is shared and noisy, so every benchmark repeats its
measurements, interleaves the variants it compares (A, B, A, B ... rather than A, A, B, B),
and reports the median with the min-max spread. Ratios are computed per repetition
(paired) and then summarized the same way.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Sequence

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "adult.yaml"


def setup_environment() -> None:
    """W&B off, quiet libraries, Adult from ``../shared/data`` unless ``PRIVIB_DATA_DIR`` says otherwise."""
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    shared = REPO.parent / "shared" / "data"
    if not os.environ.get("PRIVIB_DATA_DIR") and (shared / "adult" / "adult.data").is_file():
        os.environ["PRIVIB_DATA_DIR"] = str(shared)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def base_parser(description: str, reps: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--reps", type=int, default=reps, help=f"repetitions (default {reps}); medians are reported")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    return parser


def privib_command() -> list[str]:
    """The ``privib`` console script of this interpreter's environment (else ``python -m privib.cli``)."""
    script = Path(sys.executable).parent / "privib"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "privib.cli"]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``median [min, max] (n=k)``."""
    if not values:
        return "n/a"
    return f"{fmt.format(median(values))} [{fmt.format(min(values))}, {fmt.format(max(values))}] (n={len(values)})"


def summary(values: Sequence[float]) -> dict[str, Any]:
    return {"median": median(values), "min": min(values), "max": max(values), "n": len(values), "values": list(values)}


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
        return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
    except OSError:
        return "load average unknown"


def header(title: str, notes: Iterable[str] = ()) -> None:
    print(f"== {title} ==", flush=True)
    print(f"   {time.strftime('%Y-%m-%d %H:%M:%S')}, {load_average()}", flush=True)
    for note in notes:
        print(f"   {note}", flush=True)


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
        print(f"figures written to {path}", flush=True)


def verdict(name: str, ratios: Sequence[float], target: float, higher_is_better: bool, fmt: str = "{:.2f}") -> dict[str, Any]:
    """Print one target line: the median ratio with its spread, and whether it holds."""
    value = median(ratios)
    holds = value >= target if higher_is_better else value <= target
    sign = ">=" if higher_is_better else "<="
    print(f"TARGET {name}: {spread(ratios, fmt)} (target {sign} {target}) -> {'MET' if holds else 'NOT MET'}", flush=True)
    return {"ratio": summary(ratios), "target": target, "met": holds}
