"""``privib evaluate RUN``: re-run the evaluation stages and the report on a trained run folder.

It reads only the run folder (config.yaml, checkpoints/, history.json) plus the data its
config names. ``--evaluation.*`` options override the run's evaluation section (e.g. a
stronger attacker list); the section actually used is written back to config.yaml, so
config.yaml always describes metrics.json. Figures of the previous evaluation that this one
no longer produces are dropped; status.json is left as it is.
"""
from __future__ import annotations

from typing import Any

from privib.errors import ConfigError
from privib.parsing import new_parser, parse

DEFAULT_STAGES = "test,evaluate,report"


def build_parser(defaults: dict[str, Any] | None = None) -> Any:
    """The parser of ``privib evaluate``; ``defaults``: the run's evaluation section, so flags override it."""
    from privib.evaluation.options import EvaluationOptions

    parser = new_parser(
        "privib evaluate",
        "Re-run the evaluation stages (task, leakage, robustness, information plane) and the report on a "
        "trained run folder; --evaluation.* options override the run's evaluation section.",
    )
    parser.add_argument("run", type=str, help="A run folder printed by `privib run` (holds config.yaml and checkpoints/).")
    parser.add_argument("--stages", type=str, default=DEFAULT_STAGES,
                        help="Comma-separated stages to run, in order (e.g. report alone redraws the report).")
    parser.add_argument("--threads", type=int | None, default=None, help="Torch CPU threads (default: the run's).")
    parser.add_class_arguments(EvaluationOptions, "evaluation")
    if defaults:
        parser.set_defaults({f"evaluation.{k}": v for k, v in defaults.items()})
    return parser


def main(argv: list[str]) -> int:
    """``privib evaluate RUN_FOLDER [--stages ...] [--evaluation.* ...]``; prints the summary, then report.md."""
    from privib.locks import FolderLock
    from privib.runs import RunFolder

    folder = RunFolder.open(parse(build_parser(), argv).run)  # finds the run folder (and answers --help)
    with FolderLock(folder.path, "evaluating"):  # never beside a training run, or another evaluate
        config = folder.read_config()
        args = parse(build_parser(config.get("evaluation")), argv)
        names = [name.strip() for name in str(args.stages).strip("[]").split(",") if name.strip()]
        if not names:
            raise ConfigError(f"--stages names no stage: pass e.g. --stages {DEFAULT_STAGES}")
        threads = args.threads if args.threads is not None else int(config.get("threads") or 1)
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        config["evaluation"] = args.evaluation.as_dict()

        import torch

        from privib.pipeline.config import command_line_modules
        from privib.pipeline.runner import evaluate_run

        torch.set_num_threads(threads)
        evaluate_run(folder, config, names, trusted=command_line_modules(argv))
    from privib.cli.console import summary_line

    line = summary_line(folder.metrics())
    if line:
        print(line, flush=True)
    print(folder.report_path if folder.report_path.is_file() else folder.path, flush=True)  # the last line, for scripts
    return 0
