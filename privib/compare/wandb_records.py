"""W&B run records -> :class:`~privib.compare.records.RunRecord` s, and fetching them with the public API.

The transformation is a pure function of plain run records (``name``, ``state``,
``config``, ``summary``, optionally ``id``, ``group``, ``job_type``, ``url``), so it is
tested on recorded records without network; :func:`fetch_wandb_records` only adds the
``wandb.Api().runs(...)`` call.

What W&B hands back and how it is read:

- ``config`` is the full resolved run config privib pushed (nested sections). Raw API
  configs wrap each value as ``{"value": ..., "desc": ...}``, and a W&B sweep adds its
  parameters as flat dotted keys (``model.beta``); both are unwrapped / folded into the
  nested form (the sweep's value wins, as it is what the run was started with).
- ``summary`` holds the final figures under the same flat keys as metrics.json; W&B
  internals (``_runtime``, ``_step``, ``_wandb`` ...), media and non-numbers are dropped,
  and "NaN" / "Infinity" strings become floats.
- Only runs in state ``finished`` that look like privib training runs (a ``model`` and a
  ``data`` section) count; compare summary runs (job type ``compare``) are skipped.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Iterable, Mapping

from privib.errors import ConfigError
from privib.compare.records import RunRecord, numeric_metrics

__all__ = ["record_from_wandb", "records_from_wandb", "fetch_wandb_records", "unwrap_config"]


def _get(run: Any, name: str, default: Any = None) -> Any:
    if isinstance(run, Mapping):
        return run.get(name, default)
    return getattr(run, name, default)


def unwrap_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Plain nested config: ``{"value": v}`` wrappers removed, dotted keys folded into their sections."""
    plain: dict[str, Any] = {}
    dotted: dict[str, Any] = {}
    for key, value in dict(config or {}).items():
        if str(key).startswith("_"):
            continue
        if isinstance(value, Mapping) and "value" in value and set(value) <= {"value", "desc"}:
            value = value["value"]
        (dotted if "." in str(key) else plain)[str(key)] = value
    for key, value in dotted.items():
        *parents, leaf = key.split(".")
        node = plain
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[leaf] = value
    return plain


def _summary(run: Any) -> dict[str, Any]:
    summary = None if isinstance(run, Mapping) else getattr(run, "summary_metrics", None)
    if summary is None:
        summary = _get(run, "summary") or _get(run, "summaryMetrics") or {}
    if hasattr(summary, "_json_dict"):
        summary = summary._json_dict
    if isinstance(summary, str):
        import json

        summary = json.loads(summary)
    return {k: v for k, v in dict(summary).items() if not str(k).startswith("_")}


def record_from_wandb(run: Any) -> RunRecord | None:
    """One W&B run (public-API ``Run`` or a plain dict) as a record; None when it is not a privib training run."""
    config = unwrap_config(_get(run, "config") or {})
    if _get(run, "job_type") == "compare" or not isinstance(config.get("model"), dict) or "data" not in config:
        return None
    name = str(_get(run, "name") or _get(run, "id") or "?")
    source = str(_get(run, "url") or f"wandb:{_get(run, 'id') or name}")
    return RunRecord(name=name, source=source, state=str(_get(run, "state") or "unknown"), config=config,
                     metrics=numeric_metrics(_summary(run)))


def records_from_wandb(runs: Iterable[Any]) -> tuple[list[RunRecord], int]:
    """Finished privib runs among ``runs`` and the number of runs skipped (unfinished or not privib runs)."""
    records: list[RunRecord] = []
    skipped = 0
    for run in runs:
        record = record_from_wandb(run)
        if record is None or record.state != "finished":
            skipped += 1
            continue
        records.append(record)
    return records, skipped


def fetch_wandb_records(path: str, group: str | None = None, timeout: int = 60) -> tuple[list[RunRecord], int]:
    """Runs of W&B project ``ENTITY/PROJECT`` (optionally one group) through the public API (needs to be online).

    The W&B host is probed first (a few seconds at most), so a host that never answers ends
    in an error naming it instead of a minute-long wait; ``timeout`` bounds each API request.
    """
    parts = path.strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"--wandb takes ENTITY/PROJECT, got '{path}'")
    from privib.runs.wandb import probe_wandb_host, wandb_api_key_configured

    if not wandb_api_key_configured():
        raise ConfigError("--wandb reads runs through the W&B public API: log in first (`wandb login` or WANDB_API_KEY)")
    problem = probe_wandb_host()
    if problem is not None:
        raise ConfigError(f"{problem}: --wandb reads runs through the W&B public API, which needs that host; "
                          "check the network and WANDB_BASE_URL, or compare local run folders instead")
    import wandb

    try:
        api = wandb.Api(timeout=timeout)
        filters = {"group": group} if group else None
        try:
            runs = list(api.runs(path, filters=filters, per_page=200, lazy=False))  # configs in the list query
        except TypeError:  # older wandb without lazy loading
            runs = list(api.runs(path, filters=filters, per_page=200))
    except Exception as exc:  # the public API raises several error types for bad paths and network trouble
        raise ConfigError(f"could not read W&B runs of {path}"
                          + (f" (group {group})" if group else "") + f": {type(exc).__name__}: {exc}") from exc
    return records_from_wandb(runs)
