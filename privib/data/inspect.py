"""What privib makes of a table, before any training (the report behind ``privib inspect``).

The summary holds the schema (each column's role and type, listed or inferred, and why), the split
sizes, the class balance of the target and of each sensitive attribute with their majority
baselines (the accuracy to beat, and for an attacker, the accuracy that means no leakage),
and the missing-value policies, for a set-up datamodule.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["summarize", "render_text"]


def _balance(codes: dict[str, np.ndarray], classes: list[str]) -> dict[str, Any]:
    """Per-class counts and shares in each split, the training majority class and its test accuracy."""
    counts = {split: np.bincount(c, minlength=len(classes)) for split, c in codes.items()}
    majority = int(np.argmax(counts["train"]))
    rows = []
    for i, name in enumerate(classes):
        row: dict[str, Any] = {"class": name}
        for split, count in counts.items():
            total = max(int(count.sum()), 1)
            row[split] = int(count[i])
            row[f"{split}_share"] = float(count[i]) / total
        rows.append(row)
    test_total = max(int(counts["test"].sum()), 1)
    return {
        "classes": rows,
        "majority_class": classes[majority],
        "majority_baseline": {"train": float(counts["train"][majority]) / max(int(counts["train"].sum()), 1),
                              "test": float(counts["test"][majority]) / test_total},
    }


def summarize(datamodule: Any) -> dict[str, Any]:
    """A JSON-ready summary of a set-up datamodule: schema, splits, balances, baselines, policies."""
    table, spec, splits = datamodule.table, datamodule.spec, datamodule.splits
    notes = table.notes
    target_codes = {name: split.y.numpy() for name, split in splits.items()}
    summary: dict[str, Any] = {
        "dataset": table.name,
        "source": notes.get("source"),
        "test_split": (notes.get("split") or {}).get("test", f"{table.name}'s own test file"),
        "splits": {name: len(split) for name, split in splits.items()},
        "columns": (notes.get("schema") or {}).get("columns", []),
        "dropped": (notes.get("schema") or {}).get("dropped", {}),
        "id_column": table.id_column,
        "inputs": notes.get("inputs"),
        "target": {"column": spec.target, "positive": table.positive_label if len(spec.target_classes) == 2 else None,
                   **_balance(target_codes, spec.target_classes)},
        "sensitive": {},
        "missing": notes.get("missing", {"numeric": table.missing_numeric, "categorical": table.missing_categorical}),
        "warnings": list(notes.get("warnings", [])),
    }
    sensitive_notes = notes.get("sensitive") or {}
    for i, attribute in enumerate(spec.sensitive):
        codes = {name: split.s[:, i].numpy() for name, split in splits.items()}
        classes = spec.sensitive_classes[attribute]
        note = sensitive_notes.get(attribute, {})
        kind = note.get("kind") or ("binary" if len(classes) == 2 else "multi-class")
        entry = {"kind": kind, **_balance(codes, classes)}
        if "bins" in note:
            entry["bins"] = note["bins"]
        summary["sensitive"][attribute] = entry
    return summary


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}%"


def _balance_lines(entry: dict[str, Any], splits: list[str]) -> list[str]:
    width = max([len("class"), *(len(str(r["class"])) for r in entry["classes"])])
    head = f"    {'class':<{width}}" + "".join(f"  {s:>14}" for s in splits)
    lines = [head]
    for row in entry["classes"]:
        cells = "".join(f"  {row[s]:>7,} {_pct(row[s + '_share'])}" for s in splits)
        lines.append(f"    {row['class']:<{width}}{cells}")
    base = entry["majority_baseline"]
    lines.append(
        f"    majority baseline: always '{entry['majority_class']}' scores {base['test']:.3f} on test "
        f"({base['train']:.3f} on train)"
    )
    return lines


def render_text(summary: dict[str, Any]) -> str:
    """The summary as aligned text for the terminal."""
    out: list[str] = []
    source = summary.get("source") or {}
    train_src = source.get("train", {}) if isinstance(source, dict) else {}
    where = train_src.get("path", summary["dataset"])
    how = ", ".join(f"{k} {v!r}" for k, v in (("format", train_src.get("format")), ("delimiter", train_src.get("delimiter")),
                                                  ("split", train_src.get("split"))) if v)
    out.append(f"dataset {summary['dataset']}: {where}" + (f" ({how})" if how else ""))
    sizes = summary["splits"]
    out.append(f"splits: train {sizes['train']:,}, val {sizes['val']:,}, test {sizes['test']:,} (test: {summary['test_split']})")
    columns = summary["columns"]
    if columns:
        out.append("")
        out.append("columns:")
        width = max(len("column"), *(len(str(c["name"])) for c in columns))
        out.append(f"  {'column':<{width}}  {'role':<9}  {'kind':<11}  {'missing':>7}  {'distinct':>8}  how")
        for c in columns:
            missing = "" if c.get("missing") is None else f"{c['missing']:,}"
            distinct = "" if c.get("distinct") is None else f"{c['distinct']:,}"
            out.append(f"  {c['name']:<{width}}  {c['role']:<9}  {c.get('kind') or '-':<11}  {missing:>7}  {distinct:>8}  {c['how']}")
    inputs = summary.get("inputs") or {}
    if inputs:
        note = " (sensitive columns included)" if inputs.get("sensitive_as_input") else " (sensitive columns not inputs)"
        out.append(
            f"inputs: {len(inputs['numeric'])} numeric, {len(inputs['categorical'])} categorical -> "
            f"{inputs['features']} features{note}"
        )
    if summary.get("id_column"):
        out.append(f"id column: {summary['id_column']} (carried through encode)")
    split_names = [s for s in ("train", "val", "test") if s in sizes]
    target = summary["target"]
    out.append("")
    positive = f", positive class '{target['positive']}'" if target.get("positive") else ""
    out.append(f"target {target['column']}: {len(target['classes'])} classes{positive}")
    out.extend(_balance_lines(target, split_names))
    for attribute, entry in summary["sensitive"].items():
        out.append("")
        extra = ""
        if "bins" in entry:
            edges = ", ".join(f"{e:g}" for e in entry["bins"]["edges"])
            extra = f", {entry['bins']['made']} quantile bins of the training rows (edges {edges})"
        out.append(f"sensitive {attribute}: {entry['kind']}, {len(entry['classes'])} classes{extra}")
        out.extend(_balance_lines(entry, split_names))
    missing = summary.get("missing") or {}
    if missing:
        out.append("")
        line = f"missing values: numeric {missing.get('numeric')}, categorical {missing.get('categorical')}"
        if missing.get("na_values"):
            line += f", also missing: {missing['na_values']}"
        out.append(line)
        for split, counts in (missing.get("rows_dropped") or {}).items():
            for reason, count in counts.items():
                out.append(f"  {split} rows dropped, {reason}: {count:,}")
    for warning in summary.get("warnings") or []:
        out.append(f"warning: {warning}")
    return "\n".join(out)
