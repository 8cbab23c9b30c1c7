"""Command lines that fail in one line: the one parser style and error conversion of every privib command.

Every command (and the run config behind ``privib run`` and each sweep point) parses with a
jsonargparse :class:`ArgumentParser` made by :func:`new_parser` and :func:`parse`: a bad argument
becomes a :class:`~privib.errors.ConfigError` (one line, exit code 2) that names the argument,
suggests the closest option for a misspelt one, says what type was expected in plain words, and
points at ``--help``. Flags are spelled with underscores (``--batch_size``, as LightningCLI does);
:func:`flag` adds the hyphenated spelling as an alias, so both work.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from privib.errors import ConfigError, one_line
from privib.io import write_text_atomic
from privib.paths import cache_dir

_TYPE_NAMES = {"float": "a number", "int": "a whole number", "bool": "true or false", "str": "a string",
               "NoneType": "null", "list": "a list", "dict": "a mapping"}


def new_parser(prog: str, description: str) -> Any:
    """A jsonargparse parser that raises instead of printing usage and exiting (``--help`` still prints)."""
    from jsonargparse import ArgumentParser

    return ArgumentParser(prog=prog, description=description, exit_on_error=False)


def flag(name: str) -> tuple[str, ...]:
    """``--batch_size`` and its alias ``--batch-size`` (just the name when it has no underscore)."""
    alias = name.replace("_", "-")
    return (name, alias) if alias != name else (name,)


def option_strings(parser: Any) -> list[str]:
    """Every ``--option`` the parser knows (nested sections included, e.g. ``--model.beta``)."""
    return [s for action in parser._actions for s in action.option_strings if s.startswith("--")]


def parse(parser: Any, argv: Sequence[str]) -> Any:
    """``parser.parse_args(argv)``; any problem is a one-line ConfigError (see :func:`describe_error`)."""
    from argparse import ArgumentError

    try:
        return parser.parse_args(list(argv))
    except (ArgumentError, ValueError, OSError, TypeError) as exc:
        raise ConfigError(describe_error(str(exc), option_strings(parser), parser.prog)) from exc


def describe_error(message: str, options: Sequence[str], prog: str) -> str:
    """A parser message as one helpful line: close matches for unknown options, types in plain words."""
    text = one_line(message)
    unknown = re.match(r"unrecognized arguments: (.*)", text)
    if unknown:
        wrong = [a.split("=", 1)[0] for a in unknown.group(1).split() if a.startswith("--")]
        hints = []
        for arg in wrong:
            close = difflib.get_close_matches(arg, options, n=2, cutoff=0.6)
            hints.append(f"{arg} (did you mean {' or '.join(close)}?)" if close else arg)
        shown = ", ".join(hints) if hints else unknown.group(1)
        return f"unknown option {shown}: run `{prog} --help` for every option"
    key = re.search(r'Parser key "([^"]+)"', text)
    given = re.search(r"(?:Got value|Given value): (.*?)(?: Given value type|$)", text)
    expected = [_TYPE_NAMES.get(name, name) for name in re.findall(r"Expected a <class '([\w.]+)'>", text)]
    if key and expected:
        wanted = " or ".join(dict.fromkeys(e for e in expected if e != "null")) or expected[0]
        value = f", got {given.group(1).strip()[:60]!r}" if given else ""
        return f"--{key.group(1)} must be {wanted}{value}: run `{prog} --help` for every option"
    if "does not accept nested key" in text or "No action for key" in text:
        return f"{text}: run `{prog} --help` for every option"
    return text


def take_option(argv: Sequence[str], option: str, needs: str) -> tuple[str | None, list[str]]:
    """Take ``--OPTION VALUE`` (or ``--OPTION=VALUE``) out of ``argv``; ``needs`` names the value in the error."""
    rest: list[str] = []
    value = None
    items = iter(argv)
    for arg in items:
        if arg == option:
            value = next(items, None)
            if value is None:
                raise ConfigError(f"{option} needs {needs}")
        elif arg.startswith(option + "="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return value, rest


def parse_with_cached_help(command: str, build: Callable[[], Any], argv: Sequence[str],
                           files: Sequence[Path] = ()) -> tuple[Any, Any]:
    """``(parser, namespace)`` of ``build()`` parsing ``argv``; ``--help`` answered from the cache when it can be.

    A cached help text is printed without building the parser (no Lightning import), and a new
    one is stored the first time (:func:`help_cache_file`).
    """
    help_file = help_cache_file(command, argv, files)
    if help_file is not None and help_file.is_file():
        sys.stdout.write(help_file.read_text(encoding="utf-8"))
        sys.stdout.flush()
        raise SystemExit(0)
    parser = build()
    return parser, (parse(parser, argv) if help_file is None else _parse_keeping_help(parser, argv, help_file))


def help_cache_file(command: str, argv: Sequence[str], files: Sequence[Path] = ()) -> Path | None:
    """Where the output of this ``privib COMMAND ... --help`` is kept; None without ``-h`` / ``--help``.

    Building the help of ``run`` or ``inspect`` imports pytorch_lightning (about 2 s, more than torch
    itself) to read signatures. The text depends only on the command line, the config ``files`` it names,
    the terminal width, and the installed code, so it is stored once under the privib cache dir
    (``$PRIVIB_CACHE_DIR``, else ``~/.cache/privib``) keyed by a sha256 of all of those, and
    printed from there afterwards. ``PRIVIB_CACHE=0`` turns it off (as it does the evaluation cache).
    """
    if not any(arg in ("-h", "--help") for arg in argv):
        return None
    if os.environ.get("PRIVIB_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    import hashlib
    import importlib.metadata
    import json
    import shutil

    digest = hashlib.sha256()
    versions = {}
    for dist in ("pytorch-lightning", "lightning-utilities", "jsonargparse", "torch", "docstring-parser", "typeshed-client"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    digest.update(json.dumps({
        "command": command, "argv": list(argv), "columns": shutil.get_terminal_size().columns, "python": sys.version, "versions": versions,
        "env": sorted((k, v) for k, v in os.environ.items() if k.startswith("JSONARGPARSE")),
    }, sort_keys=True).encode())
    for path in files:
        digest.update(Path(path).expanduser().read_bytes())
    package = Path(__file__).resolve().parent
    for source in sorted(package.rglob("*.py")):  # any change to privib's code is a new key
        digest.update(str(source.relative_to(package)).encode() + b"\0" + source.read_bytes())
    return cache_dir() / "help" / f"{command}-{digest.hexdigest()[:32]}.txt"


def _parse_keeping_help(parser: Any, argv: Sequence[str], help_file: Path) -> Any:
    """``parser.parse_args(argv)``; when it prints the help and exits 0, also store the text in ``help_file``."""
    import contextlib
    import io

    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            return parse(parser, argv)
    except SystemExit as exc:
        text = buffer.getvalue()
        if exc.code in (0, None) and text:
            with contextlib.suppress(OSError):  # a read-only cache only costs the next call the 2 s
                write_text_atomic(help_file, text)
        raise
    finally:
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()


def section_options(config: dict[str, Any], name: str, cls: type, example: str = "") -> Any:
    """Section ``name`` of a resolved config as an instance of the dataclass ``cls`` (its defaults when absent).

    A section that is not a mapping, or names an option ``cls`` does not have, is a one-line ConfigError.
    """
    from dataclasses import fields

    section = config.get(name)
    section = {} if section is None else section
    if not isinstance(section, dict):
        raise ConfigError(f"the '{name}' section of the config must be a mapping of options{example}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"unknown {name} option(s) {unknown}: use {sorted(known)}")
    return cls(**section)
