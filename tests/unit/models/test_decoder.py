"""The pieces of the cvib method: feature groups, the reconstruction term, the pairwise KL, the conditional decoder."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from privib.models.decoder import ConditionalDecoder, feature_groups, pairwise_gaussian_kl, reconstruction_nll

NAMES = ["age", "hours", "job=a", "job=b", "job=c", "sex_like=x", "sex_like=y"]


def test_feature_groups_from_names():
    groups = feature_groups(NAMES)
    assert groups.numeric == (0, 1) and groups.categorical == ((2, 3, 4), (5, 6))
    assert feature_groups(["a=1", "b=1", "a=2"]).categorical == ((0,), (1,), (2,))  # groups are contiguous runs



def test_the_bins_of_a_numeric_column_are_one_group():
    from privib.data.preprocessing import TabularPreprocessor
    import pandas as pd

    frame = pd.DataFrame({"age": [20, 30, 40, 50, 60], "hours": [1.0, 2.0, 2.0, 3.0, 9.0], "job": list("abcab")})
    names = TabularPreprocessor(numeric=["age", "hours"], categorical=["job"], bins=3).fit(frame).feature_names
    groups = feature_groups(names)
    assert groups.numeric == (0, 1) and groups.categorical == ((2, 3, 4), (5, 6, 7), (8, 9, 10))
    assert feature_groups(["x in [1, 2)", "c=y in [1, 2)"]).numeric == (0,)  # no numeric column of that name before it


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
