"""The methods a sweep compares: --method presets (configs/methods/) and the cvib conditional-decoder term."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
import yaml
from torch.nn import functional as F

from privib.cli import main
from privib.errors import ConfigError
from privib.models.decoder import ConditionalDecoder, feature_groups, pairwise_gaussian_kl, reconstruction_nll
from privib.pipeline.config import PROJECT_ROOT, apply_method_preset, list_methods, method_preset_path, parse_run_config

METHODS = ("adv", "cvib", "mlp", "vib", "vib_adv")


# ---------------------------------------------------------------------------- presets
def test_every_method_has_a_preset_that_names_itself():
    assert list_methods() == list(METHODS)
    for method in METHODS:
        preset = yaml.safe_load((PROJECT_ROOT / "configs" / "methods" / f"{method}.yaml").read_text())
        assert preset["method"] == method
        assert {"deterministic", "beta", "adv_weight", "recon_weight"} <= set(preset["model"])


def test_preset_is_layered_after_configs_and_before_flags():
    argv = ["--config", "base.yaml", "--model.beta", "0.5", "--method", "vib", "--config=more.yaml", "--name", "x"]
    out = apply_method_preset(argv)
    preset = str(method_preset_path("vib"))
    assert out == ["--config", "base.yaml", "--config=more.yaml", "--config", preset, "--model.beta", "0.5",
                   "--method", "vib", "--name", "x"]
    assert apply_method_preset(["--method=adv"])[:2] == ["--config", str(method_preset_path("adv"))]
    assert method_preset_path("adv").resolve() == PROJECT_ROOT / "configs" / "methods" / "adv.yaml"
    assert apply_method_preset(["--model.beta", "1"]) == ["--model.beta", "1"]


@pytest.mark.parametrize("argv, needle", [
    (["--method", "nosuch"], "unknown method 'nosuch': use one of adv, cvib, mlp, vib, vib_adv"),
    (["--method", "../adult"], "unknown method '../adult'"),
    (["--method"], "--method needs a name"),
    (["--method", "vib", "--method", "adv"], "more than once"),
])
def test_bad_method_flags(argv, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        apply_method_preset(argv)


def test_presets_resolve_to_the_documented_settings():
    expected = {
        "mlp": (True, 0.0, 0.0, 0.0), "adv": (True, 0.0, 1.0, 0.0), "vib": (False, 0.01, 0.0, 0.0),
        "vib_adv": (False, 0.05, 2.0, 0.0), "cvib": (False, 0.001, 0.0, 1.0),
    }
    for method, (deterministic, beta, adv_weight, recon_weight) in expected.items():
        _, config = parse_run_config(["--method", method])
        model = config["model"]
        assert config["method"] == method
        assert (model["deterministic"], model["beta"], model["adv_weight"], model["recon_weight"]) == (
            deterministic, beta, adv_weight, recon_weight), method
    _, config = parse_run_config(["--method", "vib_adv"])  # privib's method is the shipped default
    _, default = parse_run_config([])
    assert {k: config["model"][k] for k in ("release", "adv_steps", "beta", "adv_weight", "z_dim")} == {
        k: default["model"][k] for k in ("release", "adv_steps", "beta", "adv_weight", "z_dim")}
    assert config["model"]["release"] == "sample" and config["model"]["adv_steps"] == 3
    _, config = parse_run_config(["--model.adv_weight", "7", "--method", "adv"])  # the user's flags win
    assert config["model"]["adv_weight"] == 7.0 and config["model"]["deterministic"] is True


def test_unknown_method_on_the_command_line_is_one_error_line(capsys):
    assert main(["run", "--method", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == "privib: error: unknown method 'nosuch': use one of adv, cvib, mlp, vib, vib_adv"


# ---------------------------------------------------------------------------- cvib pieces
NAMES = ["age", "hours", "job=a", "job=b", "job=c", "sex_like=x", "sex_like=y"]


def test_feature_groups_from_names():
    groups = feature_groups(NAMES)
    assert groups.numeric == (0, 1) and groups.categorical == ((2, 3, 4), (5, 6))
    assert feature_groups(["a=1", "b=1", "a=2"]).categorical == ((0,), (1,), (2,))  # groups are contiguous runs


def test_reconstruction_nll_against_a_manual_computation():
    torch.manual_seed(0)
    x = torch.tensor([[0.5, -1.0, 0, 1, 0, 1, 0], [1.5, 0.0, 0, 0, 0, 0, 1]], dtype=torch.float32)  # row 2: unseen job
    out = torch.randn(2, 7)
    nll = reconstruction_nll(out, x, feature_groups(NAMES))
    expected = 0.5 * ((out[:, :2] - x[:, :2]) ** 2).sum(1)
    expected += F.cross_entropy(out[:, 5:7], torch.tensor([0, 1]), reduction="none")
    expected[0] += F.cross_entropy(out[0:1, 2:5], torch.tensor([1]))[()]  # row 2's all-zero job group adds nothing
    assert torch.allclose(nll, expected, atol=1e-6)


def test_pairwise_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mean, scale = torch.randn(5, 3), F.softplus(torch.randn(5, 3)) + 0.1
    got = pairwise_gaussian_kl(mean, scale)
    normal = torch.distributions.Normal
    reference = torch.stack([
        torch.stack([torch.distributions.kl_divergence(normal(mean[i], scale[i]), normal(mean[j], scale[j])).sum()
                     for j in range(5)]).mean()
        for i in range(5)
    ])
    assert torch.allclose(got, reference, atol=1e-5)
    assert pairwise_gaussian_kl(mean[:1].repeat(4, 1), scale[:1].repeat(4, 1)).abs().max() < 1e-6


def test_decoder_is_conditioned_on_every_sensitive_attribute():
    decoder = ConditionalDecoder(z_dim=4, n_sensitive_classes=[2, 3], output_dim=7, widths=[8])
    z = torch.zeros(2, 4)
    out = decoder(z, torch.tensor([[0, 0], [1, 2]]))
    assert out.shape == (2, 7) and not torch.allclose(out[0], out[1])  # same z, different s: different x
    assert decoder.net[0].in_features == 4 + 2 + 3


SPEC = {"input_dim": 7, "feature_names": NAMES, "target": "y", "target_classes": ["0", "1"], "target_prior": [0.5, 0.5],
        "sensitive": ["s"], "sensitive_classes": {"s": ["a", "b"]}, "sensitive_priors": {"s": [0.5, 0.5]}}


class _Data(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        n = 128
        job = torch.randint(0, 3, (n,), generator=g)
        s = torch.randint(0, 2, (n,), generator=g)
        x = torch.cat([torch.randn(n, 2, generator=g), F.one_hot(job, 3).float(), F.one_hot(s, 2).float()], 1)
        self.tensors = (x, (x[:, 0] > 0).long(), s[:, None])

    def train_dataloader(self):
        from privib.data.loader import IndexBatchLoader

        return IndexBatchLoader(self.tensors, 32, shuffle=True)

    def val_dataloader(self):
        from privib.data.loader import IndexBatchLoader

        return IndexBatchLoader(self.tensors, 64)


def test_module_trains_the_decoder_with_the_encoder_and_logs_both_terms():
    from privib.training.module import VIBModule

    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], decoder_widths=[16], adv_weight=0.0,
                       recon_weight=1.0)
    before = [p.clone() for p in module.decoder.parameters()]
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(module, datamodule=_Data())
    encoder_opt = trainer.optimizers[0]
    in_encoder_opt = {id(p) for group in encoder_opt.param_groups for p in group["params"]}
    assert all(id(p) in in_encoder_opt for p in module.decoder.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, module.decoder.parameters()))
    logged = trainer.callback_metrics
    assert {"train/recon_nll", "train/pairwise_kl", "val/recon_nll", "val/pairwise_kl"} <= set(logged)
    assert float(logged["val/recon_nll"]) > 0 and float(logged["val/pairwise_kl"]) >= 0
    # Without recon_weight there is no decoder and no such figure.
    plain = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8])
    assert plain.decoder is None


def test_recon_weight_needs_a_stochastic_encoder():
    from privib.training.module import VIBModule

    with pytest.raises(ConfigError, match="needs a stochastic encoder"):
        VIBModule(SPEC, deterministic=True, recon_weight=1.0)
    with pytest.raises(ConfigError, match="model.recon_weight must be"):
        VIBModule(SPEC, recon_weight=-1.0)
