"""Inference helpers of chapter 1.1: argmin sets, descent, partition functions, free energy, ECE."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.inference import (
    CountingEnergy,
    argmin_set,
    descend,
    latent_free_energy,
    log_partition_grid,
    midpoint_grid,
    reliability,
)
from ebm_utils.losses import free_energy
from ebm_utils.continuous_energies import RingEnergy
from ebm_utils.seeding import generator


RING = RingEnergy()


def ring_of_radius(y: torch.Tensor, radius: float) -> torch.Tensor:
    return RING(RING.params(radius), None, y)


def quadratic(y: torch.Tensor) -> torch.Tensor:
    return 0.5 * y.square().sum(-1)


def test_argmin_set_finds_one_point_and_a_continuum():
    grid, _ = midpoint_grid(-2.0, 2.0, 41, 1)
    m, pts = argmin_set(lambda y: (y[:, 0] - 0.1 * 0) ** 2, grid, atol=1e-12)
    assert pts.shape == (1, 1) and abs(pts.item()) < 1e-12 and m == pytest.approx(0.0, abs=1e-24)
    grid2, _ = midpoint_grid(-2.0, 2.0, 200, 2)
    _, ring = argmin_set(lambda y: ring_of_radius(y, 1.0), grid2, atol=0.01)
    assert ring.shape[0] > 50  # many grid points near the circle
    assert (ring.norm(dim=1) - 1).abs().max() < 0.06


def test_argmin_set_rejects_bad_energy_and_grid():
    grid, _ = midpoint_grid(-1.0, 1.0, 5, 2)
    with pytest.raises(ValueError):
        argmin_set(lambda y: y, grid)  # wrong shape
    with pytest.raises(ValueError):
        argmin_set(quadratic, grid[:, 0])
    with pytest.raises(ValueError):
        argmin_set(quadratic, grid, atol=-1.0)


def test_descend_reaches_the_circle_along_the_start_direction():
    starts = torch.tensor([[0.2, 0.1], [-2.0, 1.0], [0.0, -0.5]], dtype=torch.float64)
    res = descend(lambda y: ring_of_radius(y, 1.0), starts, steps=300, lr=0.02)
    torch.testing.assert_close(res.points.norm(dim=1), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(res.points / res.points.norm(dim=1, keepdim=True),
                               starts / starts.norm(dim=1, keepdim=True))
    assert res.path.shape == (301, 3, 2)
    assert res.energies.max() < 1e-20


def test_descend_diverges_loudly():
    with pytest.raises(ValueError, match="diverged"):
        descend(lambda y: ring_of_radius(y, 1.0), torch.tensor([[3.0, 0.0]], dtype=torch.float64), steps=50, lr=1.0)
    with pytest.raises(ValueError):
        descend(quadratic, torch.zeros(2, 2, dtype=torch.float64), lr=0.0)
    with pytest.raises(TypeError):
        descend(quadratic, torch.zeros(2, 2, dtype=torch.float64), steps=1.5)


def test_counting_energy_counts_outputs():
    c = CountingEnergy(quadratic)
    c(torch.zeros(7, 3, dtype=torch.float64))
    c(torch.zeros(2, 5, 3, dtype=torch.float64))
    assert c.evaluations == 17
    c.reset()
    assert c.evaluations == 0
    with pytest.raises(TypeError):
        CountingEnergy(3)


def test_midpoint_grid():
    pts, cell = midpoint_grid(0.0, 1.0, 4, 3)
    assert pts.shape == (64, 3) and cell == pytest.approx(1 / 64)
    assert pts.min() == pytest.approx(0.125) and pts.max() == pytest.approx(0.875)
    with pytest.raises(ValueError):
        midpoint_grid(1.0, 0.0, 4)
    with pytest.raises(ValueError):
        midpoint_grid(0.0, 1.0, 0)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_log_partition_of_a_gaussian_energy(dim):
    beta = 2.0
    est = log_partition_grid(quadratic, -8.0, 8.0, 40, dim, beta=beta, chunk=1000)
    exact = 0.5 * dim * math.log(2 * math.pi / beta)
    assert est.log_z == pytest.approx(exact, abs=1e-10)
    assert est.evaluations == 40**dim
    # a wrong closed form (beta forgotten) is rejected
    assert abs(est.log_z - 0.5 * dim * math.log(2 * math.pi)) > 0.3


def test_log_partition_counts_with_an_existing_counter_and_is_stable():
    c = CountingEnergy(lambda y: 1e4 + quadratic(y))
    est = log_partition_grid(c, -8.0, 8.0, 50, 1, beta=1.0)
    assert c.evaluations == 50 == est.evaluations
    assert est.log_z == pytest.approx(-1e4 + 0.5 * math.log(2 * math.pi), rel=1e-12)
    with pytest.raises(ValueError):
        log_partition_grid(quadratic, -1.0, 1.0, 10, beta=0.0)


def test_latent_free_energy_is_a_soft_min_with_the_grid_measure():
    z = torch.linspace(0, 2 * math.pi, 2001, dtype=torch.float64)[:-1]
    dz = float(z[1] - z[0])
    g = 1.0 - z.cos()  # min 0 at z = 0, curvature 1
    for beta in (10.0, 100.0, 1000.0):
        f = latent_free_energy(g, beta, dz).item()
        laplace = 0.5 * math.log(beta / (2 * math.pi)) / beta
        assert f == pytest.approx(laplace, rel=0.05 + 2 / beta)
    torch.testing.assert_close(latent_free_energy(g, 3.0, 1.0), free_energy(g, 3.0))
    with pytest.raises(ValueError):
        latent_free_energy(g, 1.0, 0.0)
    with pytest.raises(TypeError):
        latent_free_energy(g, 1.0, "dz")


def test_reliability_of_a_calibrated_and_an_overconfident_model():
    g = generator(0)
    n = 20000
    logits = 2 * torch.randn(n, 3, generator=g, dtype=torch.float64)
    p_true = torch.softmax(logits, 1)
    labels = torch.multinomial(p_true, 1, generator=g)[:, 0]
    good = reliability(p_true, labels)
    bad = reliability(torch.softmax(4 * logits, 1), labels)
    assert good.ece < 0.02 < 0.1 < bad.ece
    assert int(good.counts.sum()) == n


def test_reliability_hand_example_and_bad_input():
    p = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], dtype=torch.float64)
    r = reliability(p, torch.tensor([0, 1, 1]), bins=10)
    # bins: 0.9 (right), 0.8 (wrong), 0.7 (right)  ->  (0.1 + 0.8 + 0.3) / 3
    assert r.ece == pytest.approx(0.4)
    with pytest.raises(ValueError):
        reliability(torch.tensor([[0.5, 0.6]], dtype=torch.float64), torch.tensor([0]))
    with pytest.raises(TypeError):
        reliability(p, torch.tensor([0.0, 1.0, 1.0]))
