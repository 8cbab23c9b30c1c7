"""``privib inspect``: print what privib makes of a data config (schema, splits, balances), without training.

Takes the same ``--data.*`` options as ``privib run``; ``--config FILE`` reads a run config's
``data`` section.
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Any

from privib.errors import ConfigError
from privib.parsing import new_parser, parse_with_cached_help, take_option

USAGE_EXAMPLE = "privib inspect --data.path FILE --data.target COLUMN --data.sensitive COLUMN[,COLUMN]"


def build_inspect_parser() -> Any:
    """The parser of ``privib inspect``: ``--config``, ``--json`` and every ``--data.*`` option."""
    from privib.data.datamodule import PrivibDataModule

    parser = new_parser(
        "privib inspect",
        "Show the inferred schema, split sizes, class balances and majority baselines of a data config, "
        f"without training. Example: {USAGE_EXAMPLE}. Without --config, data.name is tabular.",
    )
    parser.add_argument("--config", type=str, help="A run config (YAML); only its data section is read.")
    parser.add_argument("--json", action="store_true", help="Print the summary as JSON instead of text.")
    parser.add_class_arguments(PrivibDataModule, "data")
    parser.set_defaults({"data.name": "tabular"})
    return parser


def _config_data_section(argv: list[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """Pull ``--config FILE`` out of ``argv``: the file's ``data`` mapping, and the other arguments."""
    from privib.pipeline.config import load_yaml_mapping

    path, rest = take_option(argv, "--config", "a YAML file")
    if path is None:
        return None, rest
    loaded = load_yaml_mapping(path, fix="pass an existing YAML file (e.g. configs/tabular.yaml)")
    data = loaded.get("data") if isinstance(loaded, dict) else None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} has no data section: inspect reads the data section of a run config")
    return data, rest


def parse_inspect_args(argv: list[str]) -> tuple[dict[str, Any], bool]:
    """The datamodule keyword arguments and the ``--json`` flag."""
    import yaml

    data, rest = _config_data_section(argv)
    args = (["--data", yaml.safe_dump(data)] if data is not None else []) + rest
    _, namespace = parse_with_cached_help("inspect", build_inspect_parser, args)  # --help without Lightning's import
    return namespace.data.as_dict(), bool(namespace.json)


def main(argv: list[str]) -> int:
    """``privib inspect``: print what privib makes of a data config, without training."""
    from privib.data.datamodule import PrivibDataModule
    from privib.data.inspect import render_text, summarize

    data, as_json = parse_inspect_args(argv)
    datamodule = PrivibDataModule(**data)
    data_log = logging.getLogger("privib.data")
    level = data_log.level
    data_log.setLevel(logging.ERROR)  # the summary says it all, warnings included
    try:
        datamodule.setup()
    finally:
        data_log.setLevel(level)
    summary = summarize(datamodule)
    if as_json:
        json.dump(summary, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(render_text(summary))
    return 0
