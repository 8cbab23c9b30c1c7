"""Perturbation families, level validation, gradient attacks and the normalized curve area."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from privib.errors import ConfigError
from privib.evaluation import robustness as R

NUMERIC = [0, 1, 2]
GROUPS = [[3, 4, 5], [6, 7]]
MARGINALS = [np.array([0.5, 0.3, 0.2]), np.array([0.9, 0.1])]


def _data(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(n, 3))
    c1 = rng.choice(3, size=n, p=MARGINALS[0])
    c2 = rng.choice(2, size=n, p=MARGINALS[1])
    x = np.hstack([num, np.eye(3)[c1], np.eye(2)[c2]])
    y = (num[:, 0] + 0.5 * num[:, 1] - 0.8 * (c1 == 2) + 0.3 * rng.normal(size=n) > 0).astype(int)
    return x, y


def _layout() -> dict:
    return {"numeric_idx": NUMERIC, "categorical_groups": GROUPS, "train_marginals": MARGINALS,
            "numeric_means": np.zeros(3)}


class GaussianEncoder(nn.Module):
    """Identity mean with a constant scale: z = x + scale * eps."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.drop = nn.Dropout(0.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.drop(x), torch.full_like(x, self.scale)


@pytest.fixture(scope="module")
def model() -> tuple[nn.Module, nn.Module, np.ndarray, np.ndarray]:
    x, y = _data()
    lr = LogisticRegression(max_iter=1000).fit(x, y)
    head = nn.Linear(x.shape[1], 1)
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(lr.coef_, dtype=torch.float32))
        head.bias.copy_(torch.as_tensor(lr.intercept_, dtype=torch.float32))
    return GaussianEncoder(0.1), head, x.astype(np.float32), y


def _acc(encoder: nn.Module, head: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray) -> float:
    return float(np.mean(R.predict_task(encoder, head, x) == y))


def test_fgsm_and_pgd_lower_accuracy_and_touch_numeric_only(model) -> None:
    enc, head, x, y = model
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    clean = _acc(enc, head, xt, y)
    adv = R.fgsm(xt, yt, enc, head, 0.5, _layout(), k_samples=4)
    delta = (adv - xt).numpy()
    assert np.all(delta[:, 3:] == 0)
    assert np.allclose(np.abs(delta[:, NUMERIC]), 0.5, atol=1e-6)  # a linear head has no zero gradient
    fgsm_acc = _acc(enc, head, adv, y)
    assert clean > 0.85 and fgsm_acc < clean - 0.2
    adv_pgd = R.pgd(xt, yt, enc, head, 0.5, _layout(), steps=10, k_samples=4)
    d_pgd = (adv_pgd - xt).numpy()
    assert np.all(d_pgd[:, 3:] == 0) and np.abs(d_pgd).max() <= 0.5 + 1e-6
    assert _acc(enc, head, adv_pgd, y) <= fgsm_acc + 0.01
    assert torch.equal(R.fgsm(xt, yt, enc, head, 0.0, _layout()), xt)


def test_gradient_attack_is_seeded_and_restores_module_modes(model) -> None:
    enc, head, x, y = model
    xt, yt = torch.as_tensor(x[:50]), torch.as_tensor(y[:50])
    enc.train()
    a = R.pgd(xt, yt, enc, head, 0.3, _layout(), steps=3, random_state=5)
    b = R.pgd(xt, yt, enc, head, 0.3, _layout(), steps=3, random_state=5)
    assert torch.equal(a, b)
    assert enc.training and enc.drop.training and head.weight.requires_grad
    assert head.weight.grad is None  # parameters are not touched
    enc.eval()


def test_gradient_attack_on_two_logit_head_with_stochastic_encoder() -> None:
    x, y = _data(400, seed=1)
    lr = LogisticRegression(max_iter=1000).fit(x, y)
    head = nn.Linear(x.shape[1], 2)
    with torch.no_grad():
        w = torch.as_tensor(lr.coef_, dtype=torch.float32)
        head.weight.copy_(torch.cat([-w / 2, w / 2]))
        head.bias.zero_()
    enc = GaussianEncoder(1.0)  # heavy sampling noise: the EOT average keeps the gradient direction
    adv = R.perturb("fgsm", x, 0.5, _layout(), y=y, encoder=enc, task_head=head, k_samples=16)
    assert adv.dtype == np.float32 and adv.shape == x.shape
    assert _acc(enc, head, adv, y) < _acc(enc, head, x, y) - 0.2


def test_masking_at_rate_one_gives_mean_rows() -> None:
    x, _ = _data(50)
    out = R.masking(x, 1.0, _layout())
    expected = np.r_[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]  # means, then each group's mode
    assert np.allclose(out, expected[None, :])
    assert np.array_equal(R.masking(x, 0.0, _layout()), x)


def test_masking_rate_is_respected_per_feature() -> None:
    x, _ = _data(4000)
    out = R.masking(x, 0.3, _layout(), random_state=1)
    masked_num = np.mean(out[:, NUMERIC] == 0.0)
    assert abs(masked_num - 0.3) < 0.03


def test_corruption_at_rate_zero_is_identity_and_keeps_one_hots_valid() -> None:
    x, _ = _data(3000)
    assert np.array_equal(R.categorical_corruption(x, 0.0, _layout()), x)
    out = R.categorical_corruption(x, 1.0, _layout(), random_state=2)
    assert np.array_equal(out[:, NUMERIC], x[:, NUMERIC])
    for g, m in zip(GROUPS, MARGINALS):
        assert np.all(out[:, g].sum(1) == 1)
        np.testing.assert_allclose(out[:, g].mean(0), m, atol=0.04)
    assert not np.array_equal(x, out)


def test_gaussian_noise_touches_numeric_only_with_the_given_std() -> None:
    x, _ = _data(5000)
    out = R.gaussian_noise(x, 0.7, _layout(), random_state=3)
    assert np.array_equal(out[:, 3:], x[:, 3:])
    assert np.std(out[:, NUMERIC] - x[:, NUMERIC]) == pytest.approx(0.7, rel=0.03)
    assert np.array_equal(R.gaussian_noise(x, 0.0, _layout()), x)
    assert np.array_equal(R.gaussian_noise(x, 0.7, _layout(), 3), out)


@pytest.mark.parametrize(
    ("family", "levels"),
    [("masking", [0.0, 1.5]), ("corruption", [-0.1]), ("noise", [-1.0]), ("fgsm", [float("nan")]),
     ("pgd", [float("inf")]), ("noise", ["x"]), ("noise", []), ("blur", [0.1]), ("noise", 0.1)],
)
def test_invalid_levels_raise_config_error(family, levels) -> None:
    with pytest.raises(ConfigError) as info:
        R.validate_levels(family, levels)
    assert "\n" not in str(info.value)


def test_valid_levels_and_direct_calls() -> None:
    assert R.validate_levels("masking", [0, 0.5, 1]) == [0.0, 0.5, 1.0]
    assert R.validate_levels("pgd", np.array([0.0, 0.1])) == [0.0, 0.1]
    x, _ = _data(10)
    with pytest.raises(ConfigError):
        R.masking(x, 1.01, _layout())
    with pytest.raises(ConfigError):
        R.gaussian_noise(x, -0.5, _layout())
    with pytest.raises(ConfigError):
        R.perturb("fgsm", x, -0.1, _layout(), y=np.zeros(10),
                  encoder=GaussianEncoder(0), task_head=nn.Linear(8, 1))


def test_normalized_area() -> None:
    assert R.normalized_area([0, 0.1, 0.2], [0.8, 0.8, 0.8]) == pytest.approx(0.8)
    assert R.normalized_area([2.0, 0.0, 1.0], [0.0, 1.0, 0.5]) == pytest.approx(0.5)
    levels, accs = [0.0, 0.05, 0.1, 0.3], [0.85, 0.8, 0.7, 0.4]
    assert R.normalized_area(levels, accs) == pytest.approx(np.trapezoid(accs, levels) / 0.3)
    assert R.normalized_area([0.1], [0.6]) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        R.normalized_area([0, 1], [0.5])


def test_layout_from_train_drift_and_encode(model) -> None:
    x, _ = _data(2000)
    lay = R.layout_from_train(x, NUMERIC, GROUPS)
    for m, ref in zip(lay.train_marginals, MARGINALS):
        np.testing.assert_allclose(m, ref, atol=0.04)
    np.testing.assert_allclose(lay.numeric_means, x[:, NUMERIC].mean(0))
    enc = model[0]
    mean, scale = R.encode(enc, x[:20])
    assert mean.shape == (20, 8) and np.allclose(scale, 0.1)
    assert R.mean_drift(mean, mean + np.array([3.0, 4.0] + [0.0] * 6)) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        R.FeatureLayout([0, 1], [[1, 2]])  # overlapping columns
    with pytest.raises(ValueError):
        R.masking(x[:, :5], 0.5, _layout())  # matrix narrower than the layout


def test_every_family_that_moves_a_number_rewrites_its_bins() -> None:
    from privib.data.numeric_bins import bin_cuts, one_hot_bins

    x, y = _data(400)
    cuts = bin_cuts(x[:, 0], 6)
    binned = np.hstack([x, one_hot_bins(x[:, 0], cuts)])
    layout = {**_layout(), "numeric_bins": [(0, cuts, list(range(8, 8 + len(cuts) + 1)))]}
    torch.manual_seed(0)
    encoder, head = GaussianEncoder(0.0), nn.Linear(binned.shape[1], 1)
    for family, level in [("noise", 1.0), ("masking", 0.5), ("pgd", 0.5), ("fgsm", 0.5)]:
        out = R.perturb(family, binned, level, layout, y=y, encoder=encoder, task_head=head, random_state=3)
        assert not np.array_equal(out[:, 0], binned[:, 0].astype(np.float32))
        np.testing.assert_array_equal(out[:, 8:], one_hot_bins(out[:, 0], cuts), err_msg=family)
    out = R.perturb("corruption", binned, 1.0, layout, random_state=3)
    np.testing.assert_array_equal(out[:, 8:], binned[:, 8:])  # no number moved: the bins stay


class BinReader(nn.Module):
    """An encoder that reads only the bins of column 0: z = +1 above cut ``k``, -1 below; no noise."""

    def __init__(self, columns: list[int], k: int) -> None:
        super().__init__()
        self.columns = columns
        self.register_buffer("w", torch.tensor([1.0 if i > k else -1.0 for i in range(len(columns))]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (x[:, self.columns] * self.w).sum(1, keepdim=True)
        return mean, torch.zeros_like(mean)


def test_a_gradient_attack_sees_through_the_bins() -> None:
    # The label is which side of a cut the value lies; the encoder reads only the bins, whose exact gradient is 0.
    from privib.data.numeric_bins import bin_cuts, one_hot_bins

    v = np.random.default_rng(0).normal(size=2000)
    cuts = bin_cuts(v, 8)
    x = np.column_stack([v, one_hot_bins(v, cuts)]).astype(np.float32)
    y = (v >= cuts[3]).astype(int)
    columns = list(range(1, len(cuts) + 2))
    layout = {"numeric_idx": [0], "numeric_bins": [(0, cuts, columns)]}
    encoder, head = BinReader(columns, 3), nn.Linear(1, 1)
    with torch.no_grad():
        head.weight.fill_(5.0)
        head.bias.zero_()
    assert _acc(encoder, head, x, y) == 1.0
    adv = R.perturb("fgsm", x, 0.5, layout, y=y, encoder=encoder, task_head=head, random_state=0)
    near = np.abs(v - cuts[3]) < 0.5  # the rows one step of 0.5 can carry across the cut
    assert near.mean() > 0.3
    assert _acc(encoder, head, adv, y) == pytest.approx(1.0 - near.mean(), abs=0.02)
    np.testing.assert_array_equal(adv[:, columns], one_hot_bins(adv[:, 0], cuts))
