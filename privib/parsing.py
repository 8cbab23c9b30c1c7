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
import re
from collections.abc import Sequence
from typing import Any

from privib.errors import ConfigError, one_line

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
