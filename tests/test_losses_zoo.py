"""The losses of Table 1 of LeCun et al. (2006) added to ebm_utils.losses (page "The loss zoo")."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebm_utils.losses import (
    energy_loss,
    gibbs_distribution,
    hinge_loss,
    log_loss,
    lvq2_loss,
    mce_loss,
    mee_loss,
    most_offending_incorrect,
    nll_loss,
    perceptron_loss,
    square_exp_loss,
)

D = torch.float64
DTYPES = [torch.float32, torch.float64]
PAIR = [lvq2_loss, mce_loss, square_exp_loss]
LABEL = [perceptron_loss, mee_loss]


def t(*v, dtype=D):
    return torch.tensor(v, dtype=dtype)


# ---------------------------------------------------------------- values
def test_energy_loss_is_the_correct_energy():
    pos = t(-1.0, 0.5, 2.0)
    torch.testing.assert_close(energy_loss(pos, "none"), pos)
    assert energy_loss(pos).item() == pytest.approx(0.5)
    assert energy_loss(pos, "sum").item() == pytest.approx(1.5)


def test_most_offending_incorrect_values_and_ties():
    e = t(0.5, 0.1, 0.3, 0.1).reshape(1, 4)
    val, idx = most_offending_incorrect(e, torch.tensor([1]))
    assert idx.tolist() == [3] and val.tolist() == [0.1]  # the correct label 1 is excluded
    val, idx = most_offending_incorrect(e, torch.tensor([0]))
    assert idx.tolist() == [1] and val.tolist() == [0.1]  # tie -> smaller index
    e2 = torch.randn(2, 3, 5, dtype=D)
    tg = torch.randint(0, 5, (2, 3))
    val, idx = most_offending_incorrect(e2, tg)
    assert val.shape == (2, 3) and bool((idx != tg).all())
    brute = torch.stack([torch.stack([min(e2[i, j, k] for k in range(5) if k != tg[i, j]) for j in range(3)]) for i in range(2)])
    torch.testing.assert_close(val, brute)


def test_most_offending_gradient_goes_to_the_chosen_label():
    e = t(0.5, 0.1, 0.3).reshape(1, 3).requires_grad_(True)
    val, _ = most_offending_incorrect(e, torch.tensor([1]))
    val.sum().backward()
    assert e.grad.tolist() == [[0.0, 0.0, 1.0]]


def test_perceptron_values():
    e = torch.tensor([[0.0, 1.0, -1.0], [2.0, 3.0, 4.0]], dtype=D)
    tg = torch.tensor([0, 0])
    torch.testing.assert_close(perceptron_loss(e, tg, "none"), t(1.0, 0.0))
    # definition: E[target] - min_y E[y]
    torch.testing.assert_close(perceptron_loss(e, tg, "none"), e[:, 0] - e.min(-1).values)
    assert perceptron_loss(e[:, :1], tg, "none").tolist() == [0.0, 0.0]  # a single label


def test_lvq2_values_and_saturation():
    pos = t(-1.0, 0.3, 0.8, 5.0, 2.0)
    neg = t(0.0, 0.0, 0.0, 0.0, 1.0)
    torch.testing.assert_close(lvq2_loss(pos, neg, 1.0, "none"), t(0.0, 0.3, 0.8, 1.0, 1.0))
    torch.testing.assert_close(lvq2_loss(pos, neg, 0.5, "none"), t(0.0, 0.3, 0.5, 0.5, 0.5))


def test_mce_and_square_exp_values():
    pos, neg = t(0.0, 1.0, -2.0), t(0.0, -1.0, 1.0)
    torch.testing.assert_close(mce_loss(pos, neg, "none"), 1 / (1 + torch.exp(-(pos - neg))))
    torch.testing.assert_close(square_exp_loss(pos, neg, 2.0, "none"), pos**2 + 2.0 * torch.exp(-neg))
    assert mce_loss(pos, neg, "none")[0].item() == 0.5


@pytest.mark.parametrize("beta", [0.3, 1.0, 4.0])
def test_mee_is_one_minus_gibbs_probability(beta):
    g = torch.Generator().manual_seed(0)
    e = torch.randn(5, 4, generator=g, dtype=D)
    tg = torch.tensor([0, 3, 1, 2, 2])
    p = gibbs_distribution(e, beta)[torch.arange(5), tg]
    torch.testing.assert_close(mee_loss(e, tg, beta, "none"), 1 - p)
    assert mee_loss(e[:, :1], torch.zeros(5, dtype=torch.long), beta, "none").tolist() == [0.0] * 5


def test_two_label_identities():
    """With two answers: NLL is the log loss, MEE at beta=1 is the MCE, the perceptron is a zero-margin hinge."""
    g = torch.Generator().manual_seed(1)
    e = 3 * torch.randn(50, 2, generator=g, dtype=D)
    tg = torch.zeros(50, dtype=torch.long)
    pos, neg = e[:, 0], e[:, 1]
    torch.testing.assert_close(nll_loss(e, tg, 1.0, "none"), log_loss(pos, neg, "none"))
    torch.testing.assert_close(mee_loss(e, tg, 1.0, "none"), mce_loss(pos, neg, "none"))
    torch.testing.assert_close(perceptron_loss(e, tg, "none"), hinge_loss(pos, neg, 0.0, "none"))


@pytest.mark.parametrize("loss", PAIR)
def test_pair_reductions(loss):
    pos, neg = torch.randn(7, dtype=D), torch.randn(7, dtype=D)
    none = loss(pos, neg, reduction="none")
    assert none.shape == (7,)
    torch.testing.assert_close(loss(pos, neg, reduction="sum"), none.sum())
    torch.testing.assert_close(loss(pos, neg), none.mean())


@pytest.mark.parametrize("loss", LABEL)
def test_label_reductions_and_shapes(loss):
    e = torch.randn(2, 3, 5, dtype=D)
    tg = torch.randint(0, 5, (2, 3))
    none = loss(e, tg, reduction="none")
    assert none.shape == (2, 3)
    torch.testing.assert_close(loss(e, tg, reduction="sum"), none.sum())
    torch.testing.assert_close(loss(e, tg), none.mean())


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("loss", PAIR)
def test_pair_gradcheck(loss):
    pos = t(-1.3, 0.4, 2.2, 0.7).requires_grad_(True)
    neg = t(0.35, -0.8, 1.6, 2.9).requires_grad_(True)  # no gap at 0 or at the saturation 1
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b, reduction="none"), (pos, neg))


@pytest.mark.parametrize("loss", LABEL)
def test_label_gradcheck(loss):
    e = t(0.3, -0.5, 1.1, 0.9, 2.0, -1.0, 0.0, 0.45).reshape(2, 4).requires_grad_(True)
    tg = torch.tensor([0, 3])
    assert torch.autograd.gradcheck(lambda x: loss(x, tg, reduction="none"), (e,))


def test_energy_loss_gradcheck():
    pos = t(0.3, -2.0).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: energy_loss(a, "none"), (pos,))


def test_hand_gradients():
    """The gradients derived on the page, against autograd."""
    pos = t(0.3, -0.5, 1.2).requires_grad_(True)
    neg = t(-0.4, 0.5, 0.1).requires_grad_(True)
    mce_loss(pos, neg, "sum").backward()
    s = torch.sigmoid(pos.detach() - neg.detach())
    torch.testing.assert_close(pos.grad, s * (1 - s))
    torch.testing.assert_close(neg.grad, -s * (1 - s))
    pos.grad = neg.grad = None
    square_exp_loss(pos, neg, 3.0, "sum").backward()
    torch.testing.assert_close(pos.grad, 2 * pos.detach())
    torch.testing.assert_close(neg.grad, -3.0 * torch.exp(-neg.detach()))
    e = t(0.2, -0.4, 1.0).reshape(1, 3).requires_grad_(True)
    mee_loss(e, torch.tensor([1]), 2.0, "sum").backward()
    p = gibbs_distribution(e.detach(), 2.0)[0]
    onehot = t(0.0, 1.0, 0.0)
    torch.testing.assert_close(e.grad[0], 2.0 * p[1] * (onehot - p))


def test_kink_conventions():
    """At every kink the gradient is 0 (the torch.relu convention)."""
    e = t(0.0, 0.0, 3.0).reshape(1, 3).requires_grad_(True)  # tie of the correct and an incorrect energy
    perceptron_loss(e, torch.tensor([0])).backward()
    assert e.grad.abs().sum().item() == 0.0
    for gap in (0.0, 1.0):  # both kinks of the LVQ2 ramp with M = 1
        pos = t(gap).requires_grad_(True)
        neg = t(0.0).requires_grad_(True)
        lvq2_loss(pos, neg, 1.0).backward()
        assert pos.grad.item() == 0.0 and neg.grad.item() == 0.0


def test_lvq2_gradient_between_kinks():
    pos = t(0.5, -0.5, 1.5).requires_grad_(True)
    lvq2_loss(pos, torch.zeros(3, dtype=D), 1.0, "sum").backward()
    assert pos.grad.tolist() == [1.0, 0.0, 0.0]


# ---------------------------------------------------------------- stability
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", [lvq2_loss, mce_loss])
def test_bounded_pair_losses_stable_at_large_energies(dtype, loss):
    pos = torch.tensor([1e4, -1e4, 5e3, 0.0], dtype=dtype, requires_grad=True)
    neg = torch.tensor([-1e4, 1e4, 5e3, 1e4], dtype=dtype, requires_grad=True)
    out = loss(pos, neg, reduction="none")
    out.sum().backward()
    assert out.dtype == dtype and torch.isfinite(out).all()
    assert torch.isfinite(pos.grad).all() and torch.isfinite(neg.grad).all()
    assert out[0].item() == 1.0 and out[1].item() == 0.0  # saturated at 1 (M = 1, sigma -> 1) and at 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_energy_loss_keeps_dtype(dtype):
    pos = torch.tensor([1e4, -1e4], dtype=dtype)
    assert energy_loss(pos, "sum").dtype == dtype and energy_loss(pos, "sum").item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_square_exp_stable_where_representable_and_inf_not_nan_beyond(dtype):
    pos = torch.tensor([1e4, -1e4, 0.0, 3.0], dtype=dtype, requires_grad=True)
    neg = torch.tensor([1e4, 1e4, -80.0, 50.0], dtype=dtype, requires_grad=True)
    out = square_exp_loss(pos, neg, 2.0, "none")
    out.sum().backward()
    assert out.dtype == dtype and torch.isfinite(out).all()
    assert out[0].item() == pytest.approx(1e8) and out[2].item() == pytest.approx(2 * math.exp(80.0), rel=1e-5)
    assert torch.isfinite(pos.grad).all() and torch.isfinite(neg.grad).all()
    # beyond the dtype's range the true value is not representable: inf, never NaN
    far = torch.tensor([-1e4], dtype=dtype, requires_grad=True)
    v = square_exp_loss(torch.zeros(1, dtype=dtype), far)
    v.backward()
    assert math.isinf(v.item()) and not torch.isnan(far.grad).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
def test_label_losses_stable_at_extremes(dtype, beta, scale):
    e = (t(0.0, 1.0, -1.0, 0.5) * scale).reshape(1, 4).to(dtype).requires_grad_(True)
    tg = torch.tensor([2])
    for loss, kw in ((perceptron_loss, {}), (mee_loss, {"beta": beta})):
        e.grad = None
        out = loss(e, tg, **kw)
        out.backward()
        assert out.dtype == dtype and torch.isfinite(out) and torch.isfinite(e.grad).all()
    # reference for the MEE in float64: 1 - softmax, fine where p is not close to 1
    e64 = e.detach().double()
    ref = 1 - torch.softmax(-beta * e64, -1)[0, 2]
    assert mee_loss(e, tg, beta).item() == pytest.approx(ref.item(), rel=1e-4, abs=1e-6)
    assert perceptron_loss(e, tg).item() == 0.0  # label 2 has the lowest energy


def test_mee_keeps_relative_accuracy_when_p_is_near_one():
    """1 - p loses every digit when p rounds to 1; the log-sum-exp form does not."""
    e = t(0.0, 50.0, 60.0).reshape(1, 3)
    exact = math.exp(-50) + math.exp(-60)  # (sum of others) / total, total = 1 + tiny
    assert mee_loss(e, torch.tensor([0])).item() == pytest.approx(exact / (1 + exact), rel=1e-12, abs=0.0)
    naive = 1 - torch.softmax(-e, -1)[0, 0].item()
    assert naive == 0.0  # the naive form is silently wrong here


# ---------------------------------------------------------------- properties
pair_values = st.floats(-30, 30, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(pair_values, pair_values, st.floats(-10, 10))
def test_gap_losses_depend_only_on_the_gap(a, b, c):
    pos, neg = t(a), t(b)
    for loss in (lvq2_loss, mce_loss):
        torch.testing.assert_close(loss(pos + c, neg + c), loss(pos, neg), atol=1e-9, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(pair_values, pair_values, st.floats(0.1, 5))
def test_bounds(a, b, m):
    pos, neg = t(a), t(b)
    assert 0.0 <= lvq2_loss(pos, neg, m).item() <= m
    assert 0.0 <= mce_loss(pos, neg).item() <= 1.0
    assert square_exp_loss(pos, neg).item() > 0.0
    # LVQ2 is zero exactly when the correct energy is not above the incorrect one
    assert (lvq2_loss(pos, neg, m).item() == 0.0) == (a <= b)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=6), st.floats(0.01, 10.0), st.floats(-20, 20))
def test_label_losses_shift_invariant_and_bounded(values, beta, c):
    e = t(*values)
    for y in range(len(values)):
        tg = torch.tensor(y)
        p = perceptron_loss(e, tg).item()
        assert p >= 0.0 and (p == 0.0) == (values[y] <= min(values))
        q = mee_loss(e, tg, beta).item()
        assert 0.0 <= q <= 1.0
        torch.testing.assert_close(mee_loss(e + c, tg, beta), mee_loss(e, tg, beta), atol=1e-9, rtol=1e-7)
        torch.testing.assert_close(perceptron_loss(e + c, tg), perceptron_loss(e, tg), atol=1e-9, rtol=1e-9)
    # the MEE probabilities of error sum to n - 1 over the labels
    total = sum(mee_loss(e, torch.tensor(y), beta).item() for y in range(len(values)))
    assert total == pytest.approx(len(values) - 1, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-20, 20, allow_nan=False), min_size=2, max_size=5))
def test_nll_tends_to_perceptron_as_beta_grows(values):
    """0 <= NLL_beta - perceptron <= log(n) / beta (page "The loss zoo")."""
    e = t(*values)
    tg = torch.tensor(0)
    gap = nll_loss(e, tg, 1e3).item() - perceptron_loss(e, tg).item()
    assert -1e-9 <= gap <= math.log(len(values)) / 1e3 + 1e-9


# ---------------------------------------------------------------- bad input
GOOD = t(0.1, 0.2)
E = torch.zeros(2, 3, dtype=D)


@pytest.mark.parametrize("value", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_saturation_and_gamma(value):
    with pytest.raises(ValueError, match="saturation"):
        lvq2_loss(GOOD, GOOD, value)
    with pytest.raises(ValueError, match="gamma"):
        square_exp_loss(GOOD, GOOD, value)
    with pytest.raises(ValueError, match="beta"):
        mee_loss(E, torch.tensor([0, 1]), value)


def test_bad_parameter_types():
    with pytest.raises(TypeError, match="saturation"):
        lvq2_loss(GOOD, GOOD, "1")
    with pytest.raises(TypeError, match="gamma"):
        square_exp_loss(GOOD, GOOD, True)
    with pytest.raises(ValueError, match="gamma"):
        square_exp_loss(GOOD, GOOD, torch.ones(2))


def test_energy_loss_bad_inputs():
    with pytest.raises(TypeError, match="energy_pos"):
        energy_loss([1.0])
    with pytest.raises(TypeError, match="floating-point"):
        energy_loss(torch.tensor([1]))
    with pytest.raises(ValueError, match="reduction"):
        energy_loss(GOOD, "avg")


@pytest.mark.parametrize("fn", [perceptron_loss, mee_loss, most_offending_incorrect])
def test_label_bad_inputs(fn):
    with pytest.raises(TypeError, match="integer"):
        fn(E, torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="target"):
        fn(E, [0, 1])
    with pytest.raises(TypeError, match="energies"):
        fn([[0.0, 1.0]], torch.tensor([0]))
    with pytest.raises(ValueError, match="shape"):
        fn(E, torch.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match=r"\[0, 2\]"):
        fn(E, torch.tensor([0, 3]))
    with pytest.raises(IndexError):
        fn(E, torch.tensor([-1, 0]))


def test_most_offending_needs_two_labels():
    with pytest.raises(ValueError, match="at least 2 labels"):
        most_offending_incorrect(torch.zeros(2, 1, dtype=D), torch.tensor([0, 0]))


@pytest.mark.parametrize("loss", LABEL)
def test_label_bad_reduction(loss):
    with pytest.raises(ValueError, match="reduction"):
        loss(E, torch.tensor([0, 1]), reduction="mean ")
