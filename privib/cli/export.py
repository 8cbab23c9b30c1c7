"""``privib export RUN``: (re)write a run's export folder from a checkpoint; prints the folder last.

Bad input (an unknown format, an ``--out`` that is not an earlier export) is refused before
anything slow is imported or loaded.
"""
from __future__ import annotations

import logging
import sys

from privib.parsing import flag, new_parser, parse

log = logging.getLogger(__name__)


def build_parser() -> object:
    """The parser of ``privib export``."""
    from privib.export.spec import DEFAULT_FORMATS, FORMAT_FILES

    parser = new_parser(
        "privib export",
        "Export a run's trained encoder for downstream use: safetensors weights, a single-file ONNX "
        "model, a torch.export program, preprocess.json, the config, metrics and a model card. The export folder "
        "is replaced as a whole, so it holds exactly the formats asked for; only an earlier export (or a new or "
        "empty folder) is ever replaced.",
    )
    parser.add_argument("run_folder", help="a run folder printed by `privib run`")
    parser.add_argument("--format", default=",".join(DEFAULT_FORMATS),
                        help=f"comma-separated subset of {', '.join(FORMAT_FILES)} (default: all)")
    parser.add_argument("--checkpoint", default="best", help="best (default; falls back to last), last, or a checkpoint path")
    parser.add_argument("--out", default=None, help="output folder (default: RUN_FOLDER/export)")
    parser.add_argument(*flag("--no_wandb"), action="store_true", help="do not log the export to W&B as a model artifact")
    parser.add_argument(*flag("--sign_key"), default=None, metavar="FILE",
                        help="sign the export with the secret key in FILE (HMAC-SHA256 of manifest.json, in manifest.sig)")
    return parser


def main(argv: list[str]) -> int:
    """``privib export RUN_FOLDER [--format ...] [--checkpoint ...] [--out DIR] [--sign_key FILE]``."""
    from pathlib import Path

    from privib.export.signing import read_key_file
    from privib.export.spec import check_replaceable, parse_formats
    from privib.locks import FolderLock
    from privib.runs import RunFolder

    args = parse(build_parser(), argv)
    formats = parse_formats(args.format)
    folder = RunFolder.open(args.run_folder)
    check_replaceable(Path(args.out).expanduser() if args.out else folder.export_dir)
    sign_key = read_key_file(args.sign_key, "--sign_key") if args.sign_key else None

    from privib.export.run import export_run, log_export_artifact

    with FolderLock(folder.path, "exporting"):  # never beside a training run or an evaluate of it
        result = export_run(folder.path, formats=formats, checkpoint=args.checkpoint, out_dir=args.out, sign_key=sign_key)
    parity = ", ".join(f"{k.split('/')[-1].replace('_max_abs_err', '')} {v:.1e}"
                       for k, v in result.metrics.items() if k.startswith("export/parity/"))
    print(f"privib: exported {', '.join(n for n in result.files if n.startswith('encoder.'))} in "
          f"{result.metrics['export/seconds']:.1f} s" + (f" (max |diff| vs torch: {parity})" if parity else ""),
          file=sys.stderr)
    if not args.no_wandb:
        from privib.pipeline.tracking import resume_wandb_logger

        try:  # into the run's own W&B run (same id), beside its training figures
            logger = resume_wandb_logger(folder, folder.read_config())
            if logger is not None:
                log_export_artifact(logger.experiment, result)
                logger.experiment.finish()
        except Exception as exc:  # the export on disk is complete; W&B trouble must not fail the command
            log.warning("could not log the export to W&B (%s: %s); the export folder is complete", type(exc).__name__, exc)
    print(result.folder, flush=True)
    return 0
