"""``privib encode EXPORT INPUT -o OUT``: encode a CSV / Parquet file of any size with an exported encoder."""
from __future__ import annotations

import logging
import sys
from typing import Any

from privib.errors import ConfigError
from privib.parsing import flag, new_parser, parse

log = logging.getLogger(__name__)


def build_parser() -> object:
    """The parser of ``privib encode``."""
    parser = new_parser(
        "privib encode",
        "Encode the raw records of a CSV or Parquet file with an exported encoder, in batches, "
        "and write the representations (columns z_0 ... z_{k-1}) to Parquet, CSV or .npy. Releases what the run "
        "released and was audited on (the mean of q(z|x) or one sample, per its metadata) unless --sample / --mean say otherwise. "
        "Sampled codes need a noise key (--noise_key FILE or $PRIVIB_NOISE_KEY), so that a record released again gets the "
        "same code, unless --fresh_noise accepts new noise on every run.",
    )
    parser.add_argument("export_folder", help="an export folder (runs/<run>/export) or the run folder holding it")
    parser.add_argument("input", help="input records: .csv or .parquet with the raw columns the encoder reads")
    parser.add_argument("-o", "--output", required=True, help="output file: .parquet, .csv or .npy")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="inference backend (default torch)")
    parser.add_argument("--keep", action="append", default=[], metavar="COLUMN",
                        help="copy this input column to the output (e.g. an id); repeat or comma-separate")
    parser.add_argument(*flag("--batch_size"), type=int, default=65536, help="rows read and encoded at a time (default 65536)")
    release = parser.add_mutually_exclusive_group()
    release.add_argument("--sample", dest="sample", action="store_const", const=True, default=None,
                         help="draw z ~ q(z|x) (default: what the run released, `release` in its metadata)")
    release.add_argument("--mean", dest="sample", action="store_const", const=False,
                         help="output the mean of q(z|x) (default: what the run released)")
    parser.add_argument(*flag("--noise_key"), default=None, metavar="FILE",
                        help="secret key (>= 16 bytes) keying each record's noise to the record: the same record gets the "
                             "same code in every run; default $PRIVIB_NOISE_KEY. Never written anywhere")
    parser.add_argument(*flag("--id_column"), default=None, metavar="COLUMN",
                        help="key the noise to this id column instead of the columns the encoder reads (needs a key)")
    parser.add_argument(*flag("--fresh_noise"), action="store_true",
                        help="sample without a key: new noise on every run (two releases of a record can be averaged)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the draws with --fresh_noise")
    parser.add_argument(*flag("--unknown_category"), choices=("zeros", "error"), default=None,
                        help="override preprocess.json's policy for categories never seen in training")
    parser.add_argument(*flag("--no_progress"), action="store_true", help="no progress bar")
    parser.add_argument(*flag("--verify_key"), default=None, metavar="FILE",
                        help="refuse the export unless manifest.sig was made with the secret key in FILE (privib export --sign_key)")
    return parser


def main(argv: list[str]) -> int:
    """Encode ``INPUT`` into ``OUT``; the last stdout line is the output file."""
    from pathlib import Path

    from privib.export.files import check_paths, encode_file
    from privib.export.signing import read_key_file

    args = parse(build_parser(), argv)
    keep = list(dict.fromkeys(c.strip() for item in args.keep for c in item.split(",") if c.strip()))
    source, target = Path(args.input).expanduser(), Path(args.output).expanduser()
    check_paths(source, target, keep)  # before the encoder is loaded
    verify_key = read_key_file(args.verify_key, "--verify_key") if args.verify_key else None
    key = _noise_key(args)

    from privib.export.encoder import load_encoder

    encoder = load_encoder(args.export_folder, backend=args.backend, unknown_category=args.unknown_category,
                           verify_key=verify_key)
    sampling = encoder.release == "sample" if args.sample is None else args.sample
    if args.noise_key and not sampling:
        raise ConfigError("--noise_key keys the noise of sampled codes, and this command writes the mean of q(z|x) "
                          f"({'--mean' if args.sample is False else 'what the export releases'}): add --sample, or drop --noise_key")
    if args.fresh_noise and sampling and not encoder.metadata.get("deterministic"):
        log.warning("--fresh_noise: every run draws new noise, so two releases of a record can be averaged, and the "
                    "average leaks more than one release (the model card's k-release figures); --noise_key avoids it")
    result = encode_file(encoder, source, target, keep=keep, batch_size=args.batch_size, sample=args.sample,
                         seed=args.seed, progress=not args.no_progress, key=key if sampling else None,
                         id_column=args.id_column, require_key=not args.fresh_noise)
    rate = result.rows / result.seconds if result.seconds > 0 else float("inf")
    what = ("sampled z, noise keyed to the record" if result.keyed else "sampled z, fresh noise") if result.sampled else "mean of q(z|x)"
    print(f"privib: encoded {result.rows} rows ({encoder.backend} backend, {what}) in {result.seconds:.1f} s, "
          f"{rate:,.0f} rows/s", file=sys.stderr)
    print(result.target, flush=True)
    return 0


def _noise_key(args: Any) -> bytes | None:
    """The noise key of the command line (``--noise_key`` file, else ``$PRIVIB_NOISE_KEY``); conflicting flags refused."""
    from privib.export.noise import noise_key

    if args.fresh_noise and args.noise_key:
        raise ConfigError("--fresh_noise and --noise_key both choose the noise: pass one of them")
    if args.seed is not None and not args.fresh_noise:
        raise ConfigError("--seed seeds fresh noise by row position: add --fresh_noise, or key the noise with --noise_key")
    key = None if args.fresh_noise else noise_key(args.noise_key)
    if args.id_column and key is None:
        raise ConfigError("--id_column keys the noise to an id: pass --noise_key FILE (or set $PRIVIB_NOISE_KEY)")
    return key
