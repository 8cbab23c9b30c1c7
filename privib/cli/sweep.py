"""``privib sweep SPEC``: a grid of runs (methods x values x seeds) here in parallel, resumable, then compare;
or W&B sweep configs for agents on many machines. The last stdout line is the sweep folder."""
from __future__ import annotations

from typing import Any

from privib.errors import ConfigError
from privib.parsing import flag, new_parser, parse


def build_parser() -> Any:
    """The parser of ``privib sweep``."""
    parser = new_parser(
        "privib sweep",
        "Run a grid of `privib run`s (methods x grid values x seeds) under one sweep folder, WORKERS at a "
        "time, then compare them (table, Pareto plot, W&B summary run). Re-running the same command runs only the "
        "points without a finished run. A spec with sweep.datasets is a benchmark: every method on every data set, "
        "then one table and plot per data set (benchmark/). --backend wandb writes W&B sweep configs instead and prints "
        "the commands; --optuna searches each method's knobs with NSGA-II instead of the grid.",
    )
    parser.add_argument("spec", nargs="?", default="pipelines/pareto.yaml",
                        help="pipeline YAML with a 'sweep' section (default: pipelines/pareto.yaml)")
    parser.add_argument("--workers", type=int, default=None,
                        help="runs at a time (default: the spec's, else CPU cores / threads)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch / BLAS / OpenMP threads of each run (default 1: small MLPs, and two threads on a "
                        "busy core ran 13x slower here)")
    parser.add_argument("--name", default=None, help="sweep name: folder runs/NAME and W&B group (default: the spec's)")
    parser.add_argument("--dir", default=None, help="sweep folder (default: runs/NAME)")
    parser.add_argument("--config", default=None, help="base config of every run (default: the spec's, else configs/adult.yaml)")
    parser.add_argument("--methods", default=None, help="comma-separated subset of methods (presets in configs/methods/)")
    parser.add_argument("--datasets", default=None,
                        help="comma-separated subset of the spec's data sets (sweep.datasets, e.g. adult)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                        help="grid values of a config key; replaces the spec's values of KEY (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="fixed override of every run, e.g. --set trainer.max_epochs=5 (repeatable)")
    parser.add_argument("--backend", choices=("local", "wandb"), default="local",
                        help="local: run here; wandb: write W&B sweep configs and print the wandb commands")
    parser.add_argument(*flag("--dry_run"), action="store_true",
                        help="list the points (and which are done) without running anything")
    parser.add_argument(*flag("--no_compare"), action="store_true",
                        help="skip the comparison at the end")
    parser.add_argument("--optuna", action="store_true",
                        help="instead of the grid: Optuna's NSGA-II over each method's knobs (the grid read as ranges), "
                        "maximizing task/probe/acc_max and minimizing the worst leakage AUC, on the first seed; needs "
                        "pip install 'privib[optuna]'")
    parser.add_argument("--trials", type=int, default=None, help="with --optuna: completed trials per data set and method (default 12)")
    parser.add_argument("--storage", default=None,
                        help="with --optuna: Optuna storage URL (default sqlite:///<sweep dir>/optuna.db; a shared database, "
                        "e.g. postgresql://..., lets many machines work on the same studies)")
    return parser


def main(argv: list[str]) -> int:
    """``privib sweep SPEC``: run or describe a sweep; the last stdout line is the sweep folder."""
    from privib.sweep.local import done_points
    from privib.sweep.points import expand_points, validate_points
    from privib.sweep.runner import run_sweep
    from privib.sweep.spec import load_sweep_spec

    args = parse(build_parser(), argv)
    if args.optuna and (args.backend == "wandb" or args.dry_run):
        raise ConfigError("privib sweep --optuna runs here: drop --backend wandb and --dry_run (several machines share "
                          "a study through --storage DATABASE_URL)")
    if (args.storage is not None or args.trials is not None) and not args.optuna:
        raise ConfigError("--trials and --storage belong to --optuna: add --optuna or drop them")
    spec = load_sweep_spec(args.spec, name=args.name, config=args.config, directory=args.dir, methods=args.methods,
                           seeds=args.seeds, grid=args.grid, sets=args.set, workers=args.workers, threads=args.threads,
                           datasets=args.datasets)
    points = expand_points(spec)
    runs_dir = spec.dir / "runs"
    first_config = validate_points(spec, points, runs_dir.resolve())
    if args.backend == "wandb":
        return _wandb_backend(spec, first_config)
    if args.optuna:
        from privib.sweep.search import run_search

        trials = 12 if args.trials is None else args.trials
        return run_search(spec, trials, args.storage, runs_dir, first_config, no_compare=args.no_compare)
    done = done_points(points, runs_dir)
    todo = [p for p in points if p.id not in done]
    if args.dry_run:
        for point in points:
            print(f"{'done   ' if point.id in done else 'pending'} {point.run_name}  {point.describe()}")
        print(f"{len(points)} points, {len(done)} done, {len(todo)} to run")
        print(spec.dir)
        return 0
    return run_sweep(spec, points, todo, done, first_config, runs_dir, no_compare=args.no_compare)


def _wandb_backend(spec: Any, first_config: dict[str, Any]) -> int:
    wandb_section = first_config.get("wandb") or {}
    project, entity = wandb_section.get("project") or "privib", wandb_section.get("entity")
    from privib.sweep.wandb import write_wandb_sweeps

    written = write_wandb_sweeps(spec, project, entity)
    where = f" --entity {entity}" if entity else ""
    print(f"Wrote {len(written)} W&B sweep config(s) for sweep {spec.name} ({sum(n for _, n in written)} runs). "
          "Create each sweep, then start agents on any machines with a privib checkout and the data:")
    for path, runs in written:
        print(f"  wandb sweep --project {project}{where} {path}    # {runs} runs; prints the SWEEP_ID")
    print(f"  wandb agent {entity or '<entity>'}/{project}/<SWEEP_ID>    # per machine and per sweep, run from the checkout")
    print(f"Then compare: privib compare --wandb {entity or '<entity>'}/{project} --group {spec.name}")
    print(spec.dir / "wandb_sweep", flush=True)
    return 0
