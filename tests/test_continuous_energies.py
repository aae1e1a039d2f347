"""Energies of continuous outputs (chapter 1.1): formulas, minimum sets, training behaviour."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.checks import check_gradient
from ebm_utils.continuous_energies import EllipseLatentEnergy, KMeansEnergy, MLPEnergy, RingEnergy, SubspaceEnergy
from ebm_utils.data import ring
from ebm_utils.seeding import generator
from ebm_utils.training import train

f64 = torch.float64


# ---------------------------------------------------------------- MLPEnergy
def test_mlp_energy_matches_its_formula():
    net = MLPEnergy(y_dim=2, hidden=5)
    w = net.init(stream=3)
    assert w.shape == (net.num_params,) == (5 * 2 + 2 * 5 + 1,)
    y = torch.randn(7, 2, dtype=f64, generator=generator(0))
    a, c, v, b = net.unpack(w)
    expected = torch.tanh(y @ a.T + c) @ v + b
    torch.testing.assert_close(net(w, None, y), expected)
    soft = MLPEnergy(y_dim=2, hidden=5, head="softplus")
    torch.testing.assert_close(soft(w, None, y), torch.nn.functional.softplus(expected))
    assert (soft(w, None, y) > 0).all()


def test_conditional_mlp_reads_the_input_first():
    """F_W(x, y) of the conditional network is the unconditional one of the point (x, y)."""
    joint, cond = MLPEnergy(y_dim=2, hidden=4), MLPEnergy(y_dim=1, hidden=4, x_dim=1)
    assert joint.num_params == cond.num_params
    w = joint.init(stream=1)
    assert torch.equal(cond.init(stream=1), w)  # same draws: same fan-in
    pts = torch.randn(9, 2, dtype=f64, generator=generator(2))
    assert torch.equal(cond(w, pts[:, :1], pts[:, 1:]), joint(w, None, pts))
    assert not torch.equal(cond(w, pts[:, 1:], pts[:, :1]), joint(w, None, pts))


def test_mlp_output_bias_shifts_every_energy():
    # the collapse mechanism of page 1.1(e): lowering b lowers every energy by the same amount
    net = MLPEnergy(hidden=4)
    w = net.init()
    y = torch.randn(20, 2, dtype=f64, generator=generator(0))
    w2 = w.clone()
    w2[-1] -= 5.0
    torch.testing.assert_close(net(w2, None, y), net(w, None, y) - 5.0)


def test_mlp_gradient_of_positive_only_loss_in_bias_is_one():
    net = MLPEnergy(hidden=4)
    w = net.init().requires_grad_(True)
    net(w, None, ring(30)).mean().backward()
    assert w.grad[-1].item() == pytest.approx(1.0, abs=1e-14)


def test_mlp_gradient_passes_check_gradient():
    net = MLPEnergy(hidden=3)
    y = ring(10, stream=1)

    def f(w):
        return net(w, None, y).sum()

    points = torch.stack([net.init(stream=s) for s in range(3)])
    check_gradient(f, lambda w: net.grad_w(w, None, y).sum(0), points, name="mlp")


# ---------------------------------------------------------------- KMeansEnergy
def test_kmeans_energy_is_squared_distance_to_nearest_centre():
    km = KMeansEnergy(y_dim=2, k=2)
    w = torch.tensor([0.0, 0.0, 3.0, 0.0], dtype=f64)
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]], dtype=f64)
    torch.testing.assert_close(km(w, None, y), torch.tensor([0.0, 1.0, 2.0, 0.0], dtype=f64))
    assert km.centres(w).shape == (2, 2)


def test_kmeans_init_from_data_and_training_lowers_the_loss_without_collapse():
    data = ring(100)
    km = KMeansEnergy(k=6)
    w0 = km.init(data=data)
    assert torch.equal(km.init(stream=0, data=data), w0) and not torch.equal(km.init(stream=1, data=data), w0)
    # every initial centre is a data point
    assert all(bool((data == c).all(1).any()) for c in km.centres(w0))
    w = w0.clone().requires_grad_(True)
    h = train([w], lambda: km(w, None, data).mean(), steps=50, lr=0.5)
    assert h["loss"][-1] < h["loss"][0]
    # positives only, yet the centre of the ring keeps a high energy
    assert km(w.detach(), None, torch.zeros(1, 2, dtype=f64)).item() > 0.3


def test_kmeans_init_needs_enough_data():
    with pytest.raises(ValueError, match="at least k"):
        KMeansEnergy(k=5).init(data=torch.zeros(3, 2, dtype=f64))
    with pytest.raises(ValueError):
        KMeansEnergy(k=2).init(scale=-1.0, data=torch.zeros(3, 2, dtype=f64))


# ---------------------------------------------------------------- SubspaceEnergy
def test_subspace_energy_is_distance_to_line():
    pca = SubspaceEnergy(y_dim=2, rank=1)
    w = torch.tensor([1.0, 1.0, 2.0, 0.0], dtype=f64)  # mu = (1, 1), direction (1, 0) (unnormalised)
    y = torch.tensor([[5.0, 1.0], [0.0, 3.0], [1.0, -1.0]], dtype=f64)
    torch.testing.assert_close(pca(w, None, y), torch.tensor([0.0, 4.0, 4.0], dtype=f64))


def test_subspace_rank_must_be_below_dim():
    with pytest.raises(ValueError, match="rank"):
        SubspaceEnergy(y_dim=2, rank=2)


# ---------------------------------------------------------------- RingEnergy
def test_ring_is_zero_exactly_on_the_circle():
    ring_e = RingEnergy()
    w = ring_e.params(1.5)
    theta = torch.linspace(0, 2 * math.pi, 50, dtype=f64)
    on = 1.5 * torch.stack([theta.cos(), theta.sin()], 1)
    assert ring_e(w, None, on).abs().max() < 1e-12
    assert (ring_e(w, None, 1.1 * on) > 0.1).all()
    assert ring_e(w, None, torch.zeros(1, 2, dtype=f64)).item() == pytest.approx(1.5**4)


def test_ring_radius_is_affine_in_the_input():
    ring_e = RingEnergy(x_dim=1)
    w = ring_e.params((1.0, 0.5))  # r(x) = 1 + x / 2, page 1.1(a)
    x = torch.tensor([[0.0], [2.0]], dtype=f64)
    torch.testing.assert_close(ring_e.radius(w, x), torch.tensor([1.0, 2.0], dtype=f64))
    y = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=f64)
    torch.testing.assert_close(ring_e(w, x, y), torch.zeros(2, dtype=f64))
    xs = torch.linspace(0, 2, 9, dtype=f64)
    assert torch.equal(ring_e.radius(w, xs[:, None]), 1 + xs / 2)  # bit for bit the page's r(x)
    assert torch.equal(ring_e.params(2.0), torch.tensor([2.0, 0.0], dtype=f64))


def test_ring_gradient_is_radial():
    ring_e = RingEnergy()
    y = torch.tensor([[0.3, -0.4]], dtype=f64)
    expected = 4 * (0.25 - 1.0) * y
    torch.testing.assert_close(ring_e.grad_y(ring_e.params(1.0), None, y), expected)


def test_ring_params_are_checked():
    with pytest.raises(ValueError):
        RingEnergy().params(-1.0)
    with pytest.raises(ValueError, match="2 numbers"):
        RingEnergy(x_dim=1).params((1.0, 0.5, 0.1))
    with pytest.raises(ValueError, match="1 numbers"):
        RingEnergy().params((1.0, 0.5))


# ---------------------------------------------------------------- EllipseLatentEnergy
def test_ellipse_latent_energy_minimum_is_distance_to_ellipse():
    # on a circle (rho1 == rho2) the distance is known: (|y| - r)^2
    circle = EllipseLatentEnergy()
    w = circle.params(1.2, 1.2)
    z = torch.linspace(0, 2 * math.pi, 20001, dtype=f64)[:, None]
    y = torch.tensor([[0.3, 0.2], [2.0, -1.0]], dtype=f64)
    g = circle.energy_table(w, None, y, z)
    expected = (y.norm(dim=1) - 1.2) ** 2
    torch.testing.assert_close(g.min(1).values, expected, atol=1e-7, rtol=0)


def test_ellipse_point_lies_on_ellipse():
    ell = EllipseLatentEnergy()
    w = ell.params(2.0, 0.5)
    z = torch.linspace(-3, 3, 7, dtype=f64)[:, None]
    p = ell.point(w, None, z)
    torch.testing.assert_close((p[:, 0] / 2.0) ** 2 + (p[:, 1] / 0.5) ** 2, torch.ones(7, dtype=f64))
    assert ell(w, None, ell.join(p, z)).abs().max() < 1e-15
    # a wrong parametrisation (axes swapped) is not on this ellipse
    swapped = ell.point(ell.params(0.5, 2.0), None, z)
    assert ell(w, None, ell.join(swapped, z)).max() > 0.1


def test_ellipse_semi_axes_follow_the_input():
    ell = EllipseLatentEnergy(x_dim=1)
    w = ell.params((1.0, 1.0), (1.0, -0.5))  # page 1.1(h): rho1 = 1 + x, rho2 = 1 - x/2
    r1, r2 = ell.semi_axes(w, torch.tensor([[0.6]], dtype=f64))
    assert (r1.item(), r2.item()) == (1 + 0.6, 1 - 0.6 / 2)


def test_ellipse_gradient_in_the_latent_angle():
    ell = EllipseLatentEnergy()
    w = ell.params(1.6, 0.7)
    yz = torch.tensor([[0.4, -0.2, 0.9]], dtype=f64)
    y1, y2, z = yz[0].tolist()
    dz = 2 * 1.6 * y1 * math.sin(z) - 2 * 0.7 * y2 * math.cos(z) + (0.7**2 - 1.6**2) * math.sin(2 * z)
    assert ell.grad_y(w, None, yz)[0, 2].item() == pytest.approx(dz, rel=1e-12)


def test_ellipse_bad_inputs():
    ell = EllipseLatentEnergy()
    with pytest.raises(ValueError):
        ell.params(1.0, 0.0)
    with pytest.raises(TypeError):
        ell.point(ell.params(1.0, 1.0), None, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"\[B, 3\]"):
        ell(ell.params(1.0, 1.0), None, torch.zeros(2, 2, dtype=f64))
