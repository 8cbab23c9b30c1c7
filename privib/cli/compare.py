"""``privib compare PATH... | --wandb ENTITY/PROJECT``: the table, the Pareto front and per-method figures of runs."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.compare.records import load_run_folders
from privib.compare.render import print_result, write_outputs
from privib.compare.table import ACCURACY_KEY, DEFAULT_THRESHOLDS, LEAKAGE_CHOICES, PROBE_KEY, compare_records
from privib.errors import ConfigError
from privib.parsing import flag, new_parser, parse


def parse_thresholds(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise ConfigError(f"--thresholds must be comma-separated numbers, got '{text}'") from exc
    if not values or any(not 0.5 <= v <= 1.0 for v in values):
        raise ConfigError(f"--thresholds must be leakage AUCs in [0.5, 1], got '{text}'")
    return values


def build_parser() -> Any:
    """The parser of ``privib compare``."""
    parser = new_parser(
        "privib compare",
        "Compare finished runs: a table of mean ± std over seeds per configuration (task accuracy, leakage "
        "auc_max per attribute, DP gap, robustness areas), the accuracy-vs-worst-leakage Pareto front per method "
        "(PNG), and per method the best accuracy at leakage AUC <= each threshold and the dominated area. Writes "
        "table.csv, runs.csv, methods.csv, compare.md, summary.json and pareto.png.",
    )
    parser.add_argument("paths", nargs="*", help="run folders, or folders holding them (e.g. a sweep folder)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: PATH/compare for a single sweep folder, else ./compare)")
    parser.add_argument("--wandb", default=None, metavar="ENTITY/PROJECT",
                        help="compare W&B runs of this project (public API, online) instead of local folders")
    parser.add_argument("--group", default=None, help="with --wandb: only runs of this W&B group (e.g. a sweep name)")
    parser.add_argument("--accuracy", default=ACCURACY_KEY,
                        help=f"metric on the accuracy axis (default {ACCURACY_KEY}; e.g. {PROBE_KEY})")
    parser.add_argument("--leakage", choices=LEAKAGE_CHOICES, default="released",
                        help="which representation the leakage columns attack: released (default: what each run's "
                        "exported encoder hands downstream, model.release), mean of q(z|x), or one sample z")
    parser.add_argument("--thresholds", default=",".join(f"{t:g}" for t in DEFAULT_THRESHOLDS),
                        help="leakage AUC thresholds of the per-method best accuracy (default 0.55,0.6,0.7)")
    parser.add_argument(*flag("--log_wandb"), action="store_true",
                        help="also log the comparison to W&B as a run of job type 'compare' (offline unless logged in)")
    parser.add_argument(*flag("--no_plot"), action="store_true", help="skip the PNG")
    return parser


def default_out_dir(paths: Sequence[str]) -> Path:
    if len(paths) == 1:
        path = Path(paths[0]).expanduser()
        if path.is_dir() and not (path / "config.yaml").is_file():
            return path / "compare"
    return Path("compare")


def main(argv: list[str]) -> int:
    """``privib compare PATH... | --wandb ENTITY/PROJECT [--group G]``."""
    args = parse(build_parser(), argv)
    thresholds = parse_thresholds(args.thresholds)
    if args.wandb and args.paths:
        raise ConfigError("privib compare: give run/sweep folders or --wandb ENTITY/PROJECT, not both")
    if args.group and not args.wandb:
        raise ConfigError("privib compare: --group selects W&B runs and needs --wandb ENTITY/PROJECT")
    if args.wandb:
        from privib.compare.wandb_records import fetch_wandb_records

        records, skipped = fetch_wandb_records(args.wandb, group=args.group)
        sources = [f"wandb:{args.wandb}" + (f"?group={args.group}" if args.group else "")]
        out_dir = Path(args.out or "compare")
    else:
        if not args.paths:
            raise ConfigError("privib compare: pass run or sweep folders, or --wandb ENTITY/PROJECT")
        records, skipped = load_run_folders(args.paths)
        sources = [str(p) for p in args.paths]
        out_dir = Path(args.out) if args.out else default_out_dir(args.paths)
    result = compare_records(records, accuracy_key=args.accuracy, thresholds=thresholds, skipped=skipped, sources=sources,
                             leakage=args.leakage)
    paths = write_outputs(result, out_dir, plot=not args.no_plot)
    print_result(result, paths)
    if args.log_wandb:
        from privib.compare.wandb_log import log_records_run

        where = log_records_run(result, paths, records, out_dir, name=f"compare-{time.strftime('%Y%m%d-%H%M%S')}",
                                group=args.group)
        if where:
            print(f"logged to W&B: {where}")
    return 0
