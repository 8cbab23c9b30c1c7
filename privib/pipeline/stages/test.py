"""The ``test`` stage: accuracy of the best checkpoint's task head on the validation and test splits."""
from __future__ import annotations

import torch

from privib.evaluation.metrics import majority_accuracy
from privib.models.checkpoint import load_trained_model
from privib.models.vib import task_probabilities
from privib.pipeline.context import RunContext
from privib.pipeline.stage import Stage


def test_stage(ctx: RunContext) -> dict[str, float]:
    """``task/{val,test}/acc`` of the trained head, probabilities averaged over ``model.eval_samples`` draws, and
    ``task/{val,test}/majority``: the accuracy of always guessing the training split's majority class (the floor)."""
    trained = load_trained_model(ctx.folder.require_checkpoint())
    datamodule = ctx.datamodule()
    torch.manual_seed(int(ctx.config.get("seed_everything") or 0))
    metrics: dict[str, float] = {}
    for split in ("val", "test"):
        data = datamodule.splits[split]
        probs = task_probabilities(trained.model, data.x, trained.eval_samples)
        metrics[f"task/{split}/acc"] = float((probs.argmax(axis=1) == data.y.numpy()).mean())
        metrics[f"task/{split}/majority"] = majority_accuracy(data.y.numpy(), datamodule.splits["train"].y.numpy())
    return metrics


STAGE = Stage("test", test_stage)
