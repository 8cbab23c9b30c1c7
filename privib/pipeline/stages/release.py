"""The ``release`` stage: fit a release baseline (``baseline.kind``), write its codes, audit them like any run's.

It fits the baseline of :mod:`privib.baselines` on the training split, writes what it releases to
``release/codes.npz`` (codes of every split, the release's own task probabilities, the Gaussian of a
noisy release) and ``release/release.json`` (what was released, in words, and its settings), then
runs the array audit (:func:`privib.evaluation.release_audit.audit_release`) on the codes read back
from those files: the keys of any run's ``evaluate`` stage, so ``privib compare`` lists a baseline
beside any method. Robustness and the information plane need a torch encoder: a baseline has neither.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from privib.pipeline.context import RunContext
from privib.pipeline.stage import Stage

if TYPE_CHECKING:
    from privib.baselines import Architecture, BaselineData

FOLDER = "release"


def release_stage(ctx: RunContext) -> dict[str, float]:
    """Fit, write and audit the baseline; ``release/*`` figures of the fit, ``time/release/*`` for timings.json."""
    from privib.baselines import baseline_options, fit_baseline, read_release, write_release
    from privib.evaluation.options import check_evaluation_config
    from privib.evaluation.release_audit import Release, Timer, audit_release

    options = baseline_options(ctx.config)
    evaluation = check_evaluation_config(ctx.config, ctx.trusted_modules)
    run_seed = int(ctx.config.get("seed_everything") or 0)
    seed = int(evaluation.random_state if evaluation.random_state is not None else run_seed)
    timer = Timer()
    with timer("load"):
        datamodule = ctx.datamodule()
        data = baseline_data(datamodule)
    with timer("fit"):
        fitted = fit_baseline(options, data, run_seed, architecture(ctx.config))
    folder = ctx.folder.path / FOLDER
    write_release(folder, fitted, options.settings())
    released = read_release(folder)  # the audit reads what the run folder holds
    gaussian = released.gaussian
    arrays = Release(released.codes["train"], released.codes["test"], head=released.head,
                     gaussian=None if gaussian is None else ((gaussian["train"][0], gaussian["test"][0]),
                                                            (gaussian["train"][1], gaussian["test"][1])))
    out = audit_release(datamodule, arrays, evaluation, seed, ctx.trusted_modules, timer)
    out["release/width"] = float(released.width)
    out.update({f"release/{k}": float(v) for k, v in released.info.items() if not k.endswith("_s")})
    out.update({f"time/release/{k}_s": v for k, v in timer.parts.items()})
    return out


def baseline_data(datamodule: Any) -> BaselineData:
    """The prepared splits of ``datamodule`` as the arrays a baseline is fitted on."""
    from privib.baselines import BaselineData

    splits = datamodule.splits
    return BaselineData(x={k: v.x.numpy() for k, v in splits.items()}, y={k: v.y.numpy() for k, v in splits.items()},
                        s={k: v.s.numpy() for k, v in splits.items()}, n_classes=len(datamodule.spec.target_classes))


def architecture(config: dict[str, Any]) -> Architecture:
    """The noise baseline's plain MLP, shaped as the run's encoder (``model.z_dim``, ``encoder_widths`` ...)."""
    from privib.baselines import Architecture

    model, data = config.get("model") or {}, config.get("data") or {}
    defaults = Architecture()
    return Architecture(z_dim=int(model.get("z_dim", defaults.z_dim)),
                        widths=tuple(model.get("encoder_widths", defaults.widths)),
                        activation=str(model.get("activation", defaults.activation)),
                        lr=float(model.get("lr", defaults.lr)),
                        batch_size=int(data.get("batch_size", defaults.batch_size)))


def _check(config: dict[str, Any], trusted: tuple[str, ...]) -> None:
    from privib.baselines import baseline_options
    from privib.evaluation.options import check_evaluation_config

    baseline_options(config)
    check_evaluation_config(config, trusted)


STAGE = Stage("release", release_stage, check=_check)
