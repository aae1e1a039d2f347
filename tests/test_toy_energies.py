"""The analytic toy energies of chapter 1.1: minimum sets, gradients, validation."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.toy_energies import ellipse_latent_energy, ellipse_point, ring_energy


def test_ring_is_zero_exactly_on_the_circle():
    theta = torch.linspace(0, 2 * math.pi, 50, dtype=torch.float64)
    on = 1.5 * torch.stack([theta.cos(), theta.sin()], 1)
    assert ring_energy(on, 1.5).abs().max() < 1e-12
    assert (ring_energy(1.1 * on, 1.5) > 0.1).all()
    assert ring_energy(torch.zeros(1, 2, dtype=torch.float64), 1.5).item() == pytest.approx(1.5**4)


def test_ring_radius_broadcasts():
    y = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    e = ring_energy(y, torch.tensor([1.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(e, torch.zeros(2, dtype=torch.float64))


def test_ring_gradient_is_radial():
    y = torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(ring_energy(y, 1.0), y)
    expected = 4 * (0.25 - 1.0) * y.detach()
    torch.testing.assert_close(g, expected)


def test_ellipse_latent_energy_minimum_is_distance_to_ellipse():
    # on a circle (rho1 == rho2) the distance is known: (|y| - r)^2
    z = torch.linspace(0, 2 * math.pi, 20001, dtype=torch.float64)
    y = torch.tensor([[0.3, 0.2], [2.0, -1.0]], dtype=torch.float64)
    g = ellipse_latent_energy(y[:, None, :], z[None, :], 1.2, 1.2)
    expected = (y.norm(dim=1) - 1.2) ** 2
    torch.testing.assert_close(g.min(1).values, expected, atol=1e-7, rtol=0)


def test_ellipse_point_lies_on_ellipse():
    z = torch.linspace(-3, 3, 7, dtype=torch.float64)
    p = ellipse_point(z, 2.0, 0.5)
    torch.testing.assert_close((p[:, 0] / 2.0) ** 2 + (p[:, 1] / 0.5) ** 2, torch.ones(7, dtype=torch.float64))
    assert ellipse_latent_energy(p, z, 2.0, 0.5).abs().max() < 1e-15
    # a wrong parametrisation (axes swapped) is not on this ellipse
    assert ellipse_latent_energy(ellipse_point(z, 0.5, 2.0), z, 2.0, 0.5).max() > 0.1


def test_bad_inputs():
    y = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError):
        ring_energy(torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(TypeError):
        ring_energy(torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError):
        ring_energy(y, -1.0)
    with pytest.raises(TypeError):
        ring_energy(y, "1")
    with pytest.raises(ValueError):
        ellipse_point(torch.zeros(2, dtype=torch.float64), 1.0, 0.0)
    with pytest.raises(TypeError):
        ellipse_latent_energy(y, [0.0, 1.0, 2.0], 1.0, 1.0)
