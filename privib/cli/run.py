"""``privib run``: parse the run config (LightningCLI layout), run the pipeline, print the run folder last.

``--resume RUN_FOLDER`` continues a killed or failed run from its last checkpoint with the
config saved in that folder.
"""
from __future__ import annotations

from pathlib import Path


def main(argv: list[str]) -> int:
    """``privib run [--config FILE ...] [--method NAME] [--section.key VALUE ...] | --resume RUN``."""
    from privib.errors import ConfigError
    from privib.pipeline.config import command_line_modules, parse_run_config, split_resume

    resume, rest = split_resume(argv)
    if resume is not None:
        if rest:
            raise ConfigError(f"--resume continues a run with its saved config.yaml: drop the other options {rest}")
        from privib.pipeline.runner import resume_run

        folder = resume_run(resume)
    else:
        _, config = parse_run_config(argv)  # `--help` prints and exits here, before torch is imported
        from privib.pipeline.runner import run_pipeline

        folder = run_pipeline(config, trusted=command_line_modules(argv))
    if folder is not None:
        print_outcome(folder)
    return 0


def print_outcome(folder: Path) -> None:
    """The summary line of the run's figures and its report (when written), then the run folder as the last line."""
    from privib.cli.console import summary_line
    from privib.runs import RunFolder

    run = RunFolder(folder)
    line = summary_line(run.metrics())
    if line:
        print(line)
    if run.report_path.is_file():
        print(f"report: {run.report_path}")
    print(folder, flush=True)
