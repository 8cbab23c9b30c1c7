"""Errors that reach the user as one line and exit code 2 (bad input, not a bug)."""
from __future__ import annotations


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
