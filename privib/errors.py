"""Errors that reach the user as one line and exit code 2 (bad input, not a bug)."""
from __future__ import annotations

import re

MAX_MESSAGE_CHARS = 600


class PrivibError(Exception):
    """A problem with the user's input: the message names what is wrong and how to fix it."""

    exit_code: int = 2


class ConfigError(PrivibError):
    """A configuration value, key or file is invalid."""


class DataError(PrivibError):
    """A data file or column is missing, unreadable or unusable."""


class ExportError(PrivibError):
    """An export folder or an input to an exported encoder is invalid."""


class TrainingDiverged(PrivibError):
    """Training produced a non-finite loss or gradient; the run stops, its last good checkpoint kept."""

    exit_code: int = 3

    def __init__(self, message: str, epoch: int, step: int) -> None:
        super().__init__(message)
        self.details = {"epoch": epoch, "step": step}


class Terminated(BaseException):
    """The process received SIGTERM (or SIGHUP): unwind like an interrupt, mark the run, exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signum)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def one_line(message: object) -> str:
    """Whitespace (newlines included) collapsed to single spaces: a multi-line library message as one line."""
    return re.sub(r"\s+", " ", str(message)).strip()


def printable(message: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` as one printable line: control characters escaped, at most ``limit`` characters.

    Every error reaches the user through this, so a column name holding a newline, or a
    multi-megabyte value quoted by a parser, can never break or flood the one-line contract.
    """
    text = re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], str(message))
    if len(text) > limit:
        text = f"{text[: limit - 40]} ... [{len(text) - limit + 40:,} more characters]"
    return text
