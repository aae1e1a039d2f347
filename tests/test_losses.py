"""Values, gradients, stability and input validation of ebm_utils.losses."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from ebm_utils.losses import (
    free_energy,
    gibbs_distribution,
    hinge_loss,
    log_loss,
    lvq2_loss,
    mce_loss,
    nll_loss,
    simple_loss,
    square_exp_loss,
    square_square_loss,
)

PAIR_LOSSES = [hinge_loss, log_loss, simple_loss, square_square_loss]
# every loss of one correct and one incorrect energy, for the input checks
ALL_PAIR_LOSSES = PAIR_LOSSES + [lvq2_loss, mce_loss, square_exp_loss]
MARGIN_LOSSES = [hinge_loss, simple_loss, square_square_loss]
DTYPES = [torch.float32, torch.float64]


def naive_nll(e: torch.Tensor, t: torch.Tensor, beta: float) -> torch.Tensor:
    """The textbook formula, written the unstable way, for small energies only."""
    z = torch.exp(-beta * e).sum(-1)
    return e.gather(-1, t[..., None])[..., 0] + torch.log(z) / beta


# ---------------------------------------------------------------- values
def test_gibbs_is_softmax_of_minus_beta_energy():
    e = torch.tensor([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]], dtype=torch.float64)
    p = gibbs_distribution(e, beta=2.0)
    expected = torch.exp(-2.0 * e) / torch.exp(-2.0 * e).sum(-1, keepdim=True)
    torch.testing.assert_close(p, expected)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, dtype=torch.float64))


def test_gibbs_dim_argument():
    e = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(gibbs_distribution(e, dim=0), torch.softmax(-e, dim=0))


def test_free_energy_value_and_bounds():
    e = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    beta = 0.7
    expected = -math.log(sum(math.exp(-beta * v) for v in [1.0, 2.0, 4.0])) / beta
    assert free_energy(e, beta).item() == pytest.approx(expected, rel=1e-14)
    # soft minimum: min - log(n)/beta <= F_beta <= min
    assert 1.0 - math.log(3) / beta <= free_energy(e, beta).item() <= 1.0


def test_free_energy_one_over_beta_matters():
    """Guards the 1/beta: dropping it changes the value whenever beta != 1."""
    e = torch.tensor([0.3, 1.2], dtype=torch.float64)
    for beta in (0.5, 3.0):
        assert free_energy(e, beta).item() == pytest.approx(
            -torch.logsumexp(-beta * e, 0).item() / beta, rel=1e-14
        )
        assert free_energy(e, beta).item() != pytest.approx(-torch.logsumexp(-beta * e, 0).item())


@pytest.mark.parametrize("beta", [0.3, 1.0, 4.0])
def test_nll_matches_formula_and_cross_entropy(beta):
    g = torch.Generator().manual_seed(0)
    e = torch.randn(5, 4, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 3, 1, 2, 2])
    per = nll_loss(e, t, beta, reduction="none")
    torch.testing.assert_close(per, naive_nll(e, t, beta))
    torch.testing.assert_close(per, F.cross_entropy(-beta * e, t, reduction="none") / beta)
    torch.testing.assert_close(per, e[torch.arange(5), t] - free_energy(e, beta))
    torch.testing.assert_close(
        per, -torch.log(gibbs_distribution(e, beta)[torch.arange(5), t]) / beta
    )


def test_nll_batched_shapes():
    e = torch.randn(2, 3, 5, dtype=torch.float64)
    t = torch.randint(0, 5, (2, 3))
    assert nll_loss(e, t, reduction="none").shape == (2, 3)
    assert nll_loss(e, t).shape == ()
    torch.testing.assert_close(nll_loss(e, t, reduction="sum"), nll_loss(e, t, reduction="none").sum())


def test_pair_loss_values():
    pos = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    neg = torch.tensor([3.0, 0.0, 0.5], dtype=torch.float64)
    m = 1.0
    torch.testing.assert_close(hinge_loss(pos, neg, m, "none"), torch.tensor([0.0, 1.5, 2.5], dtype=torch.float64))
    torch.testing.assert_close(simple_loss(pos, neg, m, "none"), torch.tensor([0.0, 1.5, 2.5], dtype=torch.float64))
    torch.testing.assert_close(
        square_square_loss(pos, neg, m, "none"), torch.tensor([0.0, 1.25, 4.25], dtype=torch.float64)
    )
    torch.testing.assert_close(log_loss(pos, neg, "none"), torch.log1p(torch.exp(pos - neg)))


@pytest.mark.parametrize("loss", PAIR_LOSSES)
def test_reductions(loss):
    pos, neg = torch.randn(7, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    none = loss(pos, neg, reduction="none")
    assert none.shape == (7,)
    torch.testing.assert_close(loss(pos, neg, reduction="sum"), none.sum())
    torch.testing.assert_close(loss(pos, neg, reduction="mean"), none.mean())
    torch.testing.assert_close(loss(pos, neg), none.mean())


# ---------------------------------------------------------------- gradients
def test_nll_gradient_is_onehot_minus_probabilities():
    """d/dF(y') of the NLL is 1[y'=y] - p(y'|x) (derived in 1.2(iii))."""
    e = torch.tensor([[0.2, -0.4, 1.0]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([1])
    nll_loss(e, t, beta=2.0, reduction="sum").backward()
    expected = F.one_hot(t, 3).double() - gibbs_distribution(e.detach(), 2.0)
    torch.testing.assert_close(e.grad, expected)


@pytest.mark.parametrize("loss", PAIR_LOSSES)
def test_pair_gradcheck(loss):
    pos = torch.tensor([-1.3, 0.4, 2.2, 0.7], dtype=torch.float64, requires_grad=True)
    neg = torch.tensor([0.35, -0.8, 1.6, 2.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b, reduction="none"), (pos, neg))


def test_nll_gradcheck():
    e = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 2, 3])
    assert torch.autograd.gradcheck(lambda x: nll_loss(x, t, 1.7, "none"), (e,))


def test_kink_gradient_follows_relu_convention():
    """At the kink the gradient is 0, as torch.relu's (the book's indicator convention)."""
    pos = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    neg = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    simple_loss(pos, neg, margin=1.0).backward()
    assert pos.grad.item() == 0.0 and neg.grad.item() == 0.0


# ---------------------------------------------------------------- stability
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
def test_nll_stable_at_extremes(dtype, beta, scale):
    e = (torch.tensor([[0.0, 1.0, -1.0, 0.5]], dtype=torch.float64) * scale).to(dtype)
    e.requires_grad_(True)
    t = torch.tensor([2])
    loss = nll_loss(e, t, beta)
    loss.backward()
    assert loss.dtype == dtype and torch.isfinite(loss) and torch.isfinite(e.grad).all()
    # reference in float64 with log-sum-exp done by hand around the minimum
    e64 = e.detach().double()
    shifted = -beta * (e64 - e64.min())
    ref = e64[0, 2] - e64.min() + torch.log(torch.exp(shifted).sum()) / beta
    tol = 1e-12 if dtype == torch.float64 else 2e-6 * max(1.0, scale)
    assert abs(loss.item() - ref.item()) <= tol + 1e-6 * abs(ref.item())
    p = torch.softmax(-beta * e64, -1)
    expected_grad = F.one_hot(t, 4).double() - p
    torch.testing.assert_close(e.grad.double(), expected_grad, atol=1e-5, rtol=1e-4)


def test_naive_formula_is_silently_wrong_where_the_library_is_right():
    """The reason for log-sum-exp: float32, energies x100 (see shared notes)."""
    e = torch.tensor([[100.0, 200.0, 300.0]], dtype=torch.float32)
    t = torch.tensor([0])
    with torch.no_grad():
        naive = e[0, 0] + torch.log(torch.exp(-e).sum())
    assert not torch.isfinite(naive) or abs(naive.item()) > 1e-3  # the naive value is off
    assert nll_loss(e, t).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", PAIR_LOSSES)
def test_pair_losses_stable_at_large_energies(dtype, loss):
    pos = torch.tensor([1e4, -1e4, 5e3, 0.0], dtype=dtype, requires_grad=True)
    neg = torch.tensor([-1e4, 1e4, 5e3, 1e4], dtype=dtype, requires_grad=True)
    out = loss(pos, neg, reduction="sum")
    out.backward()
    assert out.dtype == dtype and torch.isfinite(out)
    assert torch.isfinite(pos.grad).all() and torch.isfinite(neg.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_loss_exact_for_large_gaps(dtype):
    gap = torch.tensor([1e4, 50.0, -50.0, -1e4], dtype=dtype, requires_grad=True)
    zero = torch.zeros_like(gap)
    out = log_loss(gap, zero, reduction="none")
    out.sum().backward()
    assert out[0].item() == pytest.approx(1e4)
    assert out[1].item() == pytest.approx(50.0)
    assert out[2].item() == pytest.approx(math.exp(-50.0), rel=1e-5)
    assert out[3].item() == 0.0
    torch.testing.assert_close(gap.grad, torch.sigmoid(gap.detach()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gibbs_and_free_energy_stable(dtype):
    e = torch.tensor([1e4, -1e4, 0.0], dtype=dtype)
    for beta in (1e-3, 1e3):
        p = gibbs_distribution(e, beta)
        assert p.dtype == dtype and torch.isfinite(p).all()
        assert p.sum().item() == pytest.approx(1.0, abs=1e-6)
        fe = free_energy(e, beta)
        assert torch.isfinite(fe)
        assert fe.item() <= -1e4 + 1e-6 * 1e4 and fe.item() >= -1e4 - math.log(3) / beta - 1.0


# ---------------------------------------------------------------- properties
energies_1d = st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=6)


@settings(max_examples=60, deadline=None)
@given(energies_1d, st.floats(0.01, 10.0), st.floats(-20, 20))
def test_gibbs_and_nll_invariant_to_shifting_all_energies(values, beta, c):
    e = torch.tensor(values, dtype=torch.float64)
    t = torch.tensor(0)
    torch.testing.assert_close(gibbs_distribution(e + c, beta), gibbs_distribution(e, beta))
    torch.testing.assert_close(nll_loss(e + c, t, beta), nll_loss(e, t, beta), atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(free_energy(e + c, beta), free_energy(e, beta) + c, atol=1e-9, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(energies_1d, st.floats(0.01, 10.0))
def test_nll_nonnegative_and_free_energy_is_a_soft_min(values, beta):
    e = torch.tensor(values, dtype=torch.float64)
    for y in range(len(values)):
        assert nll_loss(e, torch.tensor(y), beta).item() >= -1e-12
    fe = free_energy(e, beta).item()
    assert e.min().item() - math.log(len(values)) / beta - 1e-9 <= fe <= e.min().item() + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.floats(-30, 30), st.floats(-30, 30), st.floats(-10, 10))
def test_hinge_and_log_depend_only_on_the_gap(a, b, c):
    pos, neg = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    for loss in (hinge_loss, log_loss):
        torch.testing.assert_close(loss(pos + c, neg + c), loss(pos, neg), atol=1e-9, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.floats(-30, 30), st.floats(-30, 30), st.floats(0, 5))
def test_pair_losses_nonnegative_and_hinge_zero_region(a, b, m):
    pos, neg = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    for loss in MARGIN_LOSSES:
        assert loss(pos, neg, m).item() >= 0.0
    assert log_loss(pos, neg).item() >= 0.0
    # hinge is zero exactly when the gap reaches the margin (boundary included)
    assert (hinge_loss(pos, neg, m).item() == 0.0) == (b - a >= m)


@settings(max_examples=40, deadline=None)
@given(st.floats(-20, 20), st.floats(0.1, 5))
def test_softplus_upper_bounds_the_hinge_gap(u, m):
    """softplus(u) - [u]^+ lies in (0, log 2]: the log loss is a soft hinge (1.3(d)(ii))."""
    pos = torch.tensor([u], dtype=torch.float64)
    zero = torch.zeros(1, dtype=torch.float64)
    gap = log_loss(pos, zero).item() - hinge_loss(pos, zero, margin=0.0).item()
    assert 0.0 < gap <= math.log(2) + 1e-15


# ---------------------------------------------------------------- bad input
GOOD = torch.tensor([0.1, 0.2], dtype=torch.float64)


@pytest.mark.parametrize("beta", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_beta(beta):
    with pytest.raises(ValueError, match="beta"):
        gibbs_distribution(GOOD, beta)
    with pytest.raises(ValueError, match="beta"):
        free_energy(GOOD, beta)
    with pytest.raises(ValueError, match="beta"):
        nll_loss(GOOD, torch.tensor(0), beta)


def test_beta_wrong_type():
    with pytest.raises(TypeError, match="beta"):
        free_energy(GOOD, "1")


@pytest.mark.parametrize("margin", [-0.1, float("nan"), float("inf")])
@pytest.mark.parametrize("loss", MARGIN_LOSSES)
def test_bad_margin(loss, margin):
    with pytest.raises(ValueError, match="margin"):
        loss(GOOD, GOOD, margin)


@pytest.mark.parametrize("loss", ALL_PAIR_LOSSES)
def test_bad_reduction(loss):
    with pytest.raises(ValueError, match="reduction"):
        loss(GOOD, GOOD, reduction="average")
    with pytest.raises(TypeError, match="reduction"):
        loss(GOOD, GOOD, reduction=None)
    with pytest.raises(ValueError, match="reduction"):
        nll_loss(GOOD, torch.tensor(0), reduction="avg")


@pytest.mark.parametrize("loss", ALL_PAIR_LOSSES)
def test_no_silent_broadcasting(loss):
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.zeros(3, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.zeros(3, 1, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("loss", ALL_PAIR_LOSSES)
def test_pair_type_errors(loss):
    with pytest.raises(TypeError, match="energy_pos"):
        loss([0.1], GOOD)
    with pytest.raises(TypeError, match="floating-point"):
        loss(torch.tensor([1, 2]), torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="dtype"):
        loss(GOOD.float(), GOOD)


def test_bad_target():
    e = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="integer"):
        nll_loss(e, torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="integer"):
        nll_loss(e, torch.tensor([True, False]))
    with pytest.raises(TypeError, match="target"):
        nll_loss(e, [0, 1])
    with pytest.raises(ValueError, match="shape"):
        nll_loss(e, torch.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match=r"\[0, 2\]"):
        nll_loss(e, torch.tensor([0, 3]))
    with pytest.raises(IndexError):
        nll_loss(e, torch.tensor([-1, 0]))
    assert nll_loss(e, torch.tensor([0, 2], dtype=torch.int32)).item() == pytest.approx(math.log(3))


def test_bad_energies():
    with pytest.raises(TypeError, match="energies"):
        gibbs_distribution([0.0, 1.0])
    with pytest.raises(TypeError, match="floating-point"):
        free_energy(torch.tensor([1, 2]))
    with pytest.raises(IndexError, match="dim"):
        gibbs_distribution(GOOD, dim=3)
    with pytest.raises(ValueError, match="last dimension"):
        nll_loss(torch.zeros(2, 0), torch.tensor([0, 0]))
