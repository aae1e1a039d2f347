"""The ramp loss and the linear margin problems of pages 1.3(d)(ii)-(iii) (ebm_utils.training)."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.losses import hinge_loss, ramp_loss, soft_hinge_loss, square_square_loss
from ebm_utils.training import (
    MARGIN_LOSSES,
    descend,
    diminishing_step,
    fixed_step,
    hinge_dual_optimum,
    margin_gradient,
    margin_objective,
    margin_terms,
    margin_weights,
    max_margin_direction,
    polyak_step,
    ramp_local_optimum,
    smooth_optimum,
    strongly_convex_bound,
    strongly_convex_step,
    subgradient_bound,
)

D = torch.float64


def blobs(r: int = 2, n: int = 40, sep: float = 1.5, noise: float = 0.8, seed: int = 0) -> torch.Tensor:
    """z_i = s_i (x_i, 1) for two Gaussian classes centred at (+-sep, 0)."""
    g = torch.Generator().manual_seed(seed)
    s = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0).to(D)
    x = torch.stack([s * sep, torch.zeros(n, dtype=D)], 1) + noise * torch.randn(r, n, 2, generator=g, dtype=D)
    return s[None, :, None] * torch.cat([x, torch.ones(r, n, 1, dtype=D)], -1)


# ---------------------------------------------------------------- ramp loss
def test_ramp_is_the_hinge_capped():
    u = torch.linspace(-4, 4, 81, dtype=D)
    zero = torch.zeros_like(u)
    ramp = ramp_loss(u, zero, margin=1.0, cap=2.0, reduction="none")
    assert torch.equal(ramp, torch.clamp(hinge_loss(u, zero, margin=1.0, reduction="none"), max=2.0))
    assert float(ramp.max()) == 2.0 and float(ramp.min()) == 0.0


def test_ramp_gradient_vanishes_beyond_the_cap():
    u = torch.tensor([-3.0, -0.5, 0.5, 1.5, 3.0], dtype=D, requires_grad=True)
    ramp_loss(u, torch.zeros_like(u), margin=1.0, cap=2.0, reduction="sum").backward()
    assert u.grad.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]


def test_ramp_checks_its_cap():
    e = torch.zeros(3, dtype=D)
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="cap"):
            ramp_loss(e, e, cap=bad)


# ---------------------------------------------------------------- margin terms
@pytest.mark.parametrize("name", MARGIN_LOSSES)
def test_weights_are_the_derivative_of_the_terms(name):
    h = torch.linspace(-3, 3, 61, dtype=D)[1::2].clone().requires_grad_(True)  # avoids the kinks 0 and 2
    margin_terms(name, h, beta=1.7).sum().backward()
    assert torch.allclose(h.grad, margin_weights(name, h.detach(), beta=1.7), atol=1e-12)


def test_terms_match_the_library_losses():
    u = torch.linspace(-4, 4, 41, dtype=D)
    zero = torch.zeros_like(u)
    h = 1.0 + u  # margin 1
    assert torch.allclose(margin_terms("hinge", h), hinge_loss(u, zero, reduction="none"))
    assert torch.allclose(margin_terms("soft_hinge", h, beta=2.0), soft_hinge_loss(u, zero, 1.0, 2.0, reduction="none"))
    assert torch.allclose(margin_terms("ramp", h, cap=1.5), ramp_loss(u, zero, cap=1.5, reduction="none"))
    # the incorrect-energy term of the square-square loss is a squared hinge of h = m - F(x, ybar)
    assert torch.allclose(margin_terms("squared_hinge", 1.0 - u), square_square_loss(zero - 5, u, reduction="none"))


@pytest.mark.parametrize("name", MARGIN_LOSSES)
def test_closed_form_gradient_is_autograd(name):
    z = blobs()
    theta = torch.randn(2, 3, generator=torch.Generator().manual_seed(1), dtype=D).requires_grad_(True)
    margin_objective(name, theta, z, 1.0, 0.05, beta=1.3).sum().backward()
    assert torch.allclose(margin_gradient(name, theta.detach(), z, 1.0, 0.05, beta=1.3), theta.grad, atol=1e-12)


def test_a_wrong_weight_is_caught():
    """The gradient test above can fail: a soft-hinge weight without beta disagrees with autograd."""
    z = blobs()
    theta = torch.zeros(2, 3, dtype=D, requires_grad=True)
    margin_objective("soft_hinge", theta, z, 1.0, 0.0, beta=3.0).sum().backward()
    h = 1.0 - torch.einsum("rnp,rp->rn", z, theta.detach())
    wrong = -torch.einsum("rn,rnp->rp", torch.sigmoid(h), z) / z.shape[1]
    assert not torch.allclose(wrong, theta.grad, atol=1e-6)


def test_margin_arguments_are_checked():
    z = blobs()
    with pytest.raises(ValueError, match="theta"):
        margin_objective("hinge", torch.zeros(3, dtype=D), z)
    with pytest.raises(ValueError, match="c must"):
        margin_objective("hinge", torch.zeros(2, 3, dtype=D), z, c=torch.ones(5, dtype=D))
    with pytest.raises(ValueError, match="name"):
        margin_terms("nope", torch.zeros(2, dtype=D))


# ---------------------------------------------------------------- descent
def test_step_rules():
    assert fixed_step(0.3)(0) == fixed_step(0.3)(99) == 0.3
    rule = diminishing_step(2.0)
    assert rule(0) == 2.0 and rule(3) == 1.0
    with pytest.raises(ValueError):
        fixed_step(0.0)
    assert strongly_convex_step(0.5)(0) == 4.0 and strongly_convex_step(0.5)(3) == 1.0
    value, grad = torch.tensor([3.0, 1.0, 5.0], dtype=D), torch.tensor([[1.0, 1.0], [2.0, 0.0], [0.0, 0.0]], dtype=D)
    # (3 - 1) / 2 = 1; the value is below the bound: 0; a zero gradient: 0
    assert polyak_step(torch.tensor([1.0, 2.0, 0.0], dtype=D))(0, value, grad).tolist() == [1.0, 0.0, 0.0]


def test_descend_refuses_a_negative_step():
    with pytest.raises(ValueError, match="step size"):
        descend(lambda th: th, lambda th: th.square().sum(-1), torch.ones(1, 1, dtype=D), 3, lambda t, v, g: -1.0)


def test_descend_on_a_quadratic_is_geometric():
    a = torch.tensor([[1.0, 4.0]], dtype=D)  # f = 1/2 sum a theta^2, L = 4
    h = descend(lambda th: a * th, lambda th: 0.5 * (a * th.square()).sum(-1), torch.ones(1, 2, dtype=D), 20, fixed_step(0.25))
    assert torch.allclose(h["value"][20], torch.tensor([0.5 * 0.75**40], dtype=D))
    assert torch.equal(h["best"], torch.cummin(h["value"], 0).values)
    assert h["step_size"].shape == (20, 1) and h["value"].shape == (21, 1)


def test_descend_reports_divergence():
    with pytest.raises(ValueError, match="objective"):
        descend(lambda th: -th * 1e300, lambda th: th.square().sum(-1), torch.ones(1, 1, dtype=D), 5, fixed_step(1e10))


# ---------------------------------------------------------------- reference optima
def test_svm_dual_certificate_and_optimality():
    z = blobs()
    sol = hinge_dual_optimum(z, 1.0, 0.01, tol=1e-10)
    assert bool((sol.gap >= -1e-12).all()) and bool((sol.gap < 1e-10).all())
    best = margin_objective("hinge", sol.theta, z, 1.0, 0.01)
    g = torch.Generator().manual_seed(3)
    for _ in range(20):  # no nearby point does better
        other = sol.theta + 1e-3 * torch.randn(sol.theta.shape, generator=g, dtype=D)
        assert bool((margin_objective("hinge", other, z, 1.0, 0.01) >= best - 1e-10).all())


def test_subgradient_method_meets_its_guarantee():
    z = blobs()
    sol = hinge_dual_optimum(z, 1.0, 0.01)
    opt = margin_objective("hinge", sol.theta, z, 1.0, 0.01)
    theta0 = torch.zeros(2, 3, dtype=D)
    h = descend(lambda th: margin_gradient("hinge", th, z, 1.0, 0.01),
                lambda th: margin_objective("hinge", th, z, 1.0, 0.01), theta0, 300, diminishing_step(1.0))
    bound = subgradient_bound(h, (theta0 - sol.theta).norm(dim=-1))
    gap = h["best"][:-1] - opt
    assert bool((gap >= -1e-9).all()) and bool((gap <= bound).all())
    assert not bool((gap <= bound / 1e3).all())  # the bound is not vacuous everywhere


def test_strongly_convex_rule_meets_its_guarantee():
    z = blobs()
    opt = margin_objective("hinge", hinge_dual_optimum(z, 1.0, 0.01).theta, z, 1.0, 0.01)
    h = descend(lambda th: margin_gradient("hinge", th, z, 1.0, 0.01),
                lambda th: margin_objective("hinge", th, z, 1.0, 0.01), torch.zeros(2, 3, dtype=D), 400,
                strongly_convex_step(0.01))
    bound = strongly_convex_bound(h, 0.01)
    gap = h["best"][1:] - opt
    assert bool((gap >= -1e-9).all()) and bool((gap <= bound + 1e-10).all())
    assert not bool((gap <= bound / 1e3).all())  # the bound is not vacuous everywhere
    assert float(bound[-1].max()) < float(bound[9].min())  # and it falls: O(1/t)
    with pytest.raises(ValueError, match="strongly_convex_step"):
        strongly_convex_bound(h, 0.02)  # the bound of another rule is refused


def test_polyak_step_meets_its_guarantee():
    z = blobs()
    sol = hinge_dual_optimum(z, 1.0, 0.01, tol=1e-10)
    upper = margin_objective("hinge", sol.theta, z, 1.0, 0.01)  # P* <= upper <= P* + gap
    h = descend(lambda th: margin_gradient("hinge", th, z, 1.0, 0.01),
                lambda th: margin_objective("hinge", th, z, 1.0, 0.01), torch.zeros(2, 3, dtype=D), 500,
                polyak_step(upper - sol.gap))  # the dual value, a lower bound on P*
    # with a lower bound P* - eps: min_t (P_t - P*)^2 <= G^2 |theta_0 - theta*|^2 / (t + 1) + eps^2
    g, d0 = h["grad_norm"].max(0).values, sol.theta.norm(dim=-1) + math.sqrt(2 * 1e-10 / 0.01)
    t = torch.arange(1, 502, dtype=D)[:, None]
    assert bool((h["best"] - upper <= torch.sqrt(g**2 * d0**2 / t + sol.gap**2)).all())
    assert bool((h["best"][-1] - upper < h["best"][0] - upper).all())


def test_dual_solver_gives_up_loudly():
    with pytest.raises(RuntimeError, match="duality gap"):
        hinge_dual_optimum(blobs(), 1.0, 0.01, tol=1e-14, max_iter=30)


def test_smooth_optimum_has_zero_gradient():
    z = blobs()
    for name in ("soft_hinge", "squared_hinge"):
        theta = smooth_optimum(name, z, 1.0, 0.05, beta=2.0)
        assert float(margin_gradient(name, theta, z, 1.0, 0.05, beta=2.0).norm()) < 1e-10


def test_ramp_ignores_a_far_outlier():
    z = blobs(r=1, n=40)
    far = -torch.tensor([[[20.0, 0.0, 1.0]]], dtype=D)  # class +1 point deep on the other side
    clean = ramp_local_optimum(z, 1.0, 0.01)[0]
    with_outlier, solves = ramp_local_optimum(torch.cat([z, far], 1), 1.0, 0.01)
    svm_with = hinge_dual_optimum(torch.cat([z, far], 1), 1.0, 0.01).theta
    # N changes from 40 to 41, which rescales the penalty: compare with lam rescaled
    clean_41 = ramp_local_optimum(z, 1.0, 0.01 * 41 / 40)[0]
    assert float((with_outlier - clean_41).norm()) < 1e-6
    assert float((svm_with - clean_41).norm()) > 0.1  # the hinge does not ignore it
    assert solves >= 1 and clean.shape == (1, 3)


def test_max_margin_on_a_known_example():
    # points (2, 0) label +1 and (-1, 0) label -1, no bias: z = (2, 0), (1, 0); the max margin is 1/|theta| with theta = (1, 0)
    z = torch.tensor([[[2.0, 0.0], [1.0, 0.0]]], dtype=D)
    assert torch.allclose(max_margin_direction(z), torch.tensor([[1.0, 0.0]], dtype=D), atol=1e-8)
    with pytest.raises(ValueError, match="separable"):
        max_margin_direction(torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]], dtype=D))
