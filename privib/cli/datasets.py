"""``privib datasets``: one line per registered dataset."""
from __future__ import annotations

from privib.parsing import new_parser, parse


def main(argv: list[str]) -> int:
    """List the registered datasets and their sensitive attributes."""
    parse(new_parser("privib datasets", "List the registered datasets."), argv)
    from privib.data.registry import list_datasets

    for entry in list_datasets():
        choices = ", ".join(entry.sensitive_choices) or "any column"
        print(f"{entry.name:12s} {entry.description} (sensitive: {choices})")
    return 0
