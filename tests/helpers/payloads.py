"""What a hostile checkpoint would carry: an object whose unpickling runs code."""
from __future__ import annotations

import subprocess


class Payload:
    """Unpickling this runs ``touch marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (subprocess.call, (["touch", self.marker],))
