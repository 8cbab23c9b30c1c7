"""``privib compare PATH... | --wandb ENTITY/PROJECT``: the table, the Pareto front and per-method figures of runs."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.compare.records import load_run_folders
from privib.compare.render import print_result, write_outputs
from privib.compare.table import (
    ACCURACY_KEY, FAIRNESS_CHOICES, LEAKAGE_CHOICES, PROBE_KEY, X_AXES, compare_records, default_accuracy_key,
    default_thresholds,
)
from privib.errors import ConfigError
from privib.parsing import flag, new_parser, parse


def parse_thresholds(text: str | None, x_axis: str = "leakage") -> tuple[float, ...]:
    """Comma-separated thresholds of the privacy axis: leakage AUCs in [0.5, 1] or DP gaps in [0, 1] (None: the defaults)."""
    if text is None:
        return default_thresholds(x_axis)
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise ConfigError(f"--thresholds must be comma-separated numbers, got '{text}'") from exc
    low, what = (0.5, "leakage AUCs") if x_axis == "leakage" else (0.0, "DP gaps (with --x dp_gap)")
    if not values or any(not low <= v <= 1.0 for v in values):
        raise ConfigError(f"--thresholds must be {what} in [{low:g}, 1], got '{text}'")
    return values


def build_parser() -> Any:
    """The parser of ``privib compare``."""
    parser = new_parser(
        "privib compare",
        "Compare finished runs: a table of mean ± std over seeds per configuration (task accuracy, leakage "
        "auc_max per attribute, DP gaps, downstream-protocol and transfer accuracy, robustness areas), the "
        "accuracy-vs-worst-leakage Pareto front per method (PNG; --x dp_gap: against the worst DP gap), and per "
        "method the best accuracy at leakage AUC (or DP gap) <= each threshold and the dominated area. Writes "
        "table.csv, runs.csv, methods.csv, compare.md, summary.json and pareto.png.",
    )
    parser.add_argument("paths", nargs="*", help="run folders, or folders holding them (e.g. a sweep folder)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: PATH/compare for a single sweep folder, else ./compare)")
    parser.add_argument("--wandb", default=None, metavar="ENTITY/PROJECT",
                        help="compare W&B runs of this project (public API, online) instead of local folders")
    parser.add_argument("--group", default=None, help="with --wandb: only runs of this W&B group (e.g. a sweep name)")
    parser.add_argument("--accuracy", default=None,
                        help=f"metric on the accuracy axis (default {ACCURACY_KEY}, or downstream/acc with --x dp_gap "
                        f"--fairness downstream; e.g. {PROBE_KEY})")
    parser.add_argument("--x", choices=X_AXES, default="leakage",
                        help="privacy axis of the plot, the fronts and the thresholds: leakage (worst leakage AUC, default) "
                        "or dp_gap (worst demographic-parity gap over attributes, see --fairness)")
    parser.add_argument("--fairness", choices=FAIRNESS_CHOICES, default="downstream",
                        help="whose DP gap --x dp_gap reads: downstream (the literature's protocol, MLP 50 x 5 seeds on the "
                        "frozen codes, downstream/<attr>/dp_gap; default) or head (the trained task head, fairness/<attr>/dp_gap)")
    parser.add_argument("--leakage", choices=LEAKAGE_CHOICES, default="released",
                        help="which representation the leakage columns attack: released (default: what each run's "
                        "exported encoder hands downstream, model.release), mean of q(z|x), or one sample z")
    parser.add_argument("--thresholds", default=None,
                        help="thresholds of the per-method best accuracy: leakage AUCs (default 0.55,0.6,0.7), or DP gaps "
                        "with --x dp_gap (default 0.05,0.1,0.2)")
    parser.add_argument(*flag("--log_wandb"), action="store_true",
                        help="also log the comparison to W&B as a run of job type 'compare' (offline unless logged in)")
    parser.add_argument(*flag("--no_plot"), action="store_true", help="skip the PNG")
    parser.add_argument("--benchmark", action="store_true",
                        help="per data set (a benchmark run's dataset:<name> tag, else data.name): a table of each method's "
                        "best accuracy at leakage AUC <= 0.55/0.6/0.7 and protocol DP <= 0.05/0.1/0.2, the transfer accuracy "
                        "above base rate there and the dominated areas (<data set>.md/.csv), a two-panel plot (.png) and "
                        "index.md; accuracy task/probe/acc_max unless --accuracy (docs/benchmark/README.md)")
    parser.add_argument("--datasets", default=None,
                        help="with --benchmark: comma-separated data sets to write (default: every one found); "
                        "the index keeps the rows of the others")
    return parser


def default_out_dir(paths: Sequence[str], name: str = "compare") -> Path:
    if len(paths) == 1:
        path = Path(paths[0]).expanduser()
        if path.is_dir() and not (path / "config.yaml").is_file():
            return path / name
    return Path(name)


def main(argv: list[str]) -> int:
    """``privib compare PATH... | --wandb ENTITY/PROJECT [--group G]``."""
    args = parse(build_parser(), argv)
    if args.benchmark and (args.thresholds is not None or args.x != "leakage" or args.log_wandb):
        raise ConfigError("privib compare --benchmark uses both axes (AUC <= 0.55/0.6/0.7, protocol DP <= 0.05/0.1/0.2): "
                          "drop --thresholds, --x and --log_wandb (privib sweep logs a benchmark to W&B)")
    if args.datasets is not None and not args.benchmark:
        raise ConfigError("privib compare: --datasets picks data sets of a benchmark and needs --benchmark")
    thresholds = parse_thresholds(args.thresholds, args.x)
    if args.wandb and args.paths:
        raise ConfigError("privib compare: give run/sweep folders or --wandb ENTITY/PROJECT, not both")
    if args.group and not args.wandb:
        raise ConfigError("privib compare: --group selects W&B runs and needs --wandb ENTITY/PROJECT")
    if args.wandb:
        from privib.compare.wandb_records import fetch_wandb_records

        records, skipped = fetch_wandb_records(args.wandb, group=args.group)
        sources = [f"wandb:{args.wandb}" + (f"?group={args.group}" if args.group else "")]
        out_dir = Path(args.out or ("benchmark" if args.benchmark else "compare"))
    else:
        if not args.paths:
            raise ConfigError("privib compare: pass run or sweep folders, or --wandb ENTITY/PROJECT")
        records, skipped = load_run_folders(args.paths)
        sources = [str(p) for p in args.paths]
        out_dir = Path(args.out) if args.out else default_out_dir(args.paths, "benchmark" if args.benchmark else "compare")
    if args.benchmark:
        return _benchmark(records, skipped, sources, out_dir, args)
    result = compare_records(records, accuracy_key=args.accuracy or default_accuracy_key(args.x, args.fairness),
                             thresholds=thresholds, skipped=skipped, sources=sources, leakage=args.leakage, x_axis=args.x,
                             fairness=args.fairness)
    paths = write_outputs(result, out_dir, plot=not args.no_plot)
    print_result(result, paths)
    if args.log_wandb:
        from privib.compare.wandb_log import log_records_run

        where = log_records_run(result, paths, records, out_dir, name=f"compare-{time.strftime('%Y%m%d-%H%M%S')}",
                                group=args.group)
        if where:
            print(f"logged to W&B: {where}")
    return 0


def _benchmark(records: Sequence[Any], skipped: int, sources: list[str], out_dir: Path, args: Any) -> int:
    from privib.compare.benchmark import BENCHMARK_ACCURACY, benchmark_records
    from privib.compare.benchmark_render import print_benchmark, write_benchmark

    if not records:
        raise ConfigError(f"no finished runs to compare: pass run or sweep folders holding finished runs ({skipped} "
                          "unfinished or unreadable run(s) skipped)")
    benchmarks = benchmark_records(records, accuracy_key=args.accuracy or BENCHMARK_ACCURACY, sources=sources,
                                   skipped=skipped, leakage=args.leakage)
    if args.datasets is not None:
        wanted = [name.strip() for name in args.datasets.split(",") if name.strip()]
        found = [b.name for b in benchmarks]
        missing = [name for name in wanted if name not in found]
        if missing or not wanted:
            raise ConfigError(f"privib compare --datasets: no finished runs of {', '.join(missing) or 'any data set'} "
                              f"here; the data sets found are {', '.join(found)}")
        benchmarks = [b for b in benchmarks if b.name in wanted]
    paths = write_benchmark(benchmarks, out_dir, plot=not args.no_plot, command="privib compare --benchmark")
    print_benchmark(benchmarks, paths)
    return 0
