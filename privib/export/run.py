"""Export a run folder's checkpoint, and log the export to W&B as a ``model`` artifact.

Reads only what earlier stages wrote (config.yaml, metrics.json, checkpoints/), plus the
data its config names (to refit the preprocessing exactly as the run did: same data,
same split seed, training rows only).
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any
from collections.abc import Iterable

from privib.errors import ExportError
from privib.export.exporters import ExportResult, export_encoder
from privib.export.spec import check_replaceable, parse_formats
from privib.runs import RunFolder

log = logging.getLogger(__name__)
PARITY_ROWS = 1024


def read_run_config(folder: RunFolder) -> tuple[dict[str, Any], str]:
    """The run's resolved config and its verbatim text."""
    config = folder.read_config()
    return config, folder.config_path.read_text(encoding="utf-8")


def export_run(
    run_dir: str | os.PathLike[str],
    *,
    formats: str | Iterable[str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    datamodule: Any | None = None,
    sign_key: bytes | None = None,
) -> ExportResult:
    """Export the encoder of a run folder's checkpoint to ``out_dir`` (default ``<run>/export``).

    ``datamodule`` (already set up from the run's data config) is reused when given;
    otherwise it is rebuilt from config.yaml. ``sign_key`` signs the export (``manifest.sig``).
    """
    from privib.models.checkpoint import load_trained_model

    folder = RunFolder.open(run_dir)
    chosen = parse_formats(formats)
    target = Path(out_dir).expanduser() if out_dir is not None else folder.export_dir
    check_replaceable(target)  # before any slow work: a folder that is not an export is never touched
    config, config_text = read_run_config(folder)
    checkpoint_path = folder.require_checkpoint("best" if checkpoint is None else checkpoint)
    trained = load_trained_model(checkpoint_path)
    if datamodule is None:
        from privib.data.datamodule import PrivibDataModule

        datamodule = PrivibDataModule(**config["data"])
        datamodule.setup()
    preprocessor = datamodule.preprocessor
    trained_on = list(trained.data_spec.get("feature_names") or [])
    if trained_on and trained_on != preprocessor.feature_names:
        raise ExportError(
            f"the data named by {folder.config_path} now yields different features than the checkpoint was trained on "
            f"({len(preprocessor.feature_names)} vs {len(trained_on)}): restore the training data, then export again"
        )
    data_spec = datamodule.spec
    parity = datamodule.splits["val"].x[:PARITY_ROWS].numpy() if "val" in datamodule.splits else None
    return export_encoder(
        trained.model.encoder,
        preprocessor,
        target,
        formats=chosen,
        dataset=str(config["data"].get("name", "unknown")),
        target=data_spec.target,
        sensitive=list(data_spec.sensitive),
        train_rows=len(datamodule.splits["train"]),
        run_name=folder.path.name,
        config=config,
        config_text=config_text,
        metrics=folder.metrics(),
        parity_features=parity,
        notes={"Checkpoint": f"{checkpoint_path.name} (from {folder.path.name}/{checkpoint_path.parent.name}/)"},
        sign_key=sign_key,
    )


def artifact_name(run_name: str) -> str:
    """W&B artifact name of a run's encoder: ``encoder-<run folder name>`` with unsafe characters replaced."""
    return "encoder-" + re.sub(r"[^A-Za-z0-9_.-]", "-", run_name or "privib")


def log_export_artifact(wandb_run: Any, result: ExportResult, aliases: Iterable[str] = ("latest",)) -> Any:
    """Log the export folder to ``wandb_run`` as a ``model`` artifact (offline runs keep it for ``wandb sync``)."""
    import wandb

    metadata = dict(result.metadata)
    metadata.pop("feature_names", None)  # long; it is in the files
    metadata.update({k: v for k, v in result.metrics.items()})
    artifact = wandb.Artifact(
        artifact_name(result.metadata.get("run_name", "")),
        type="model",
        description=f"privib encoder (z_dim {result.metadata['z_dim']}) exported from run {result.metadata.get('run_name')}",
        metadata=metadata,
    )
    artifact.add_dir(str(result.folder))
    wandb_run.log_artifact(artifact, aliases=list(aliases))
    return artifact
