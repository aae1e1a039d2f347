"""The trainable 2-D energies and landscape measures of chapter 1.1 (pages (d)-(g))."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.checks import check_gradient
from ebm_utils.data import ring
from ebm_utils.energies import (
    KMeansEnergy,
    MLPEnergy,
    SubspaceEnergy,
    energy_on_grid,
    off_data_mask,
    separation,
    soft_volume,
)
from ebm_utils.training import train

f64 = torch.float64


# ---------------------------------------------------------------- MLPEnergy
def test_mlp_energy_matches_its_formula():
    net = MLPEnergy(dim=2, hidden=5)
    w = net.init_params(seed=3)
    assert w.shape == (net.num_params,) == (5 * 2 + 2 * 5 + 1,)
    y = torch.randn(7, 2, dtype=f64, generator=torch.Generator().manual_seed(0))
    a, c, v, b = net.unpack(w)
    expected = torch.tanh(y @ a.T + c) @ v + b
    torch.testing.assert_close(net(w, y), expected)
    soft = MLPEnergy(dim=2, hidden=5, head="softplus")
    torch.testing.assert_close(soft(w, y), torch.nn.functional.softplus(expected))
    assert (soft(w, y) > 0).all()


def test_mlp_energy_init_is_seeded():
    net = MLPEnergy()
    assert torch.equal(net.init_params(seed=1), net.init_params(seed=1))
    assert not torch.equal(net.init_params(seed=1), net.init_params(seed=2))


def test_mlp_output_bias_shifts_every_energy():
    # the collapse mechanism of page 1.1(e): lowering b lowers every energy by the same amount
    net = MLPEnergy(hidden=4)
    w = net.init_params(seed=0)
    y = torch.randn(20, 2, dtype=f64)
    w2 = w.clone()
    w2[-1] -= 5.0
    torch.testing.assert_close(net(w2, y), net(w, y) - 5.0)


def test_mlp_gradient_of_positive_only_loss_in_bias_is_one():
    net = MLPEnergy(hidden=4)
    w = net.init_params(seed=0).requires_grad_(True)
    net(w, ring(30)).mean().backward()
    assert w.grad[-1].item() == pytest.approx(1.0, abs=1e-14)


def test_mlp_gradient_passes_check_gradient():
    net = MLPEnergy(hidden=3)
    y = ring(10, seed=1)

    def f(w):
        return net(w, y).sum()

    def grad(w):
        w = w.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(w), w)
        return g

    points = torch.stack([net.init_params(seed=s) for s in range(3)])
    check_gradient(f, grad, points, name="mlp")


@pytest.mark.parametrize(
    "kwargs, err",
    [({"hidden": 0}, ValueError), ({"dim": 0}, ValueError), ({"head": "relu"}, ValueError), ({"hidden": 2.0}, ValueError)],
)
def test_mlp_rejects_bad_construction(kwargs, err):
    with pytest.raises(err):
        MLPEnergy(**kwargs)


def test_energy_rejects_bad_inputs():
    net = MLPEnergy(hidden=3)
    w = net.init_params()
    with pytest.raises(ValueError, match="shape"):
        net(w[:-1], torch.zeros(2, 2, dtype=f64))
    with pytest.raises(TypeError):
        net(w.numpy(), torch.zeros(2, 2, dtype=f64))
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        net(w, torch.zeros(2, 3, dtype=f64))
    with pytest.raises(TypeError):
        net(w, torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError):
        net.init_params(scale=0.0)
    with pytest.raises(TypeError):
        net.init_params(scale="1")


# ---------------------------------------------------------------- KMeansEnergy
def test_kmeans_energy_is_squared_distance_to_nearest_centre():
    km = KMeansEnergy(dim=2, k=2)
    w = torch.tensor([0.0, 0.0, 3.0, 0.0], dtype=f64)
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]], dtype=f64)
    torch.testing.assert_close(km(w, y), torch.tensor([0.0, 1.0, 2.0, 0.0], dtype=f64))
    assert km.centres(w).shape == (2, 2)


def test_kmeans_init_from_data_and_training_lowers_the_loss_without_collapse():
    data = ring(100, seed=0)
    km = KMeansEnergy(k=6)
    w0 = km.init_params(seed=0, data=data)
    # every initial centre is a data point
    assert all(bool((data == c).all(1).any()) for c in km.centres(w0))
    w = w0.clone().requires_grad_(True)
    h = train([w], lambda: km(w, data).mean(), steps=50, lr=0.5)
    assert h["loss"][-1] < h["loss"][0]
    # positives only, yet the centre of the ring keeps a high energy
    assert km(w.detach(), torch.zeros(1, 2, dtype=f64)).item() > 0.3


def test_kmeans_init_needs_enough_data():
    with pytest.raises(ValueError, match="at least k"):
        KMeansEnergy(k=5).init_params(data=torch.zeros(3, 2, dtype=f64))


# ---------------------------------------------------------------- SubspaceEnergy
def test_subspace_energy_is_distance_to_line():
    pca = SubspaceEnergy(dim=2, rank=1)
    w = torch.tensor([1.0, 1.0, 2.0, 0.0], dtype=f64)  # mu = (1, 1), direction (1, 0) (unnormalised)
    y = torch.tensor([[5.0, 1.0], [0.0, 3.0], [1.0, -1.0]], dtype=f64)
    torch.testing.assert_close(pca(w, y), torch.tensor([0.0, 4.0, 4.0], dtype=f64))


def test_subspace_rank_must_be_below_dim():
    with pytest.raises(ValueError, match="rank"):
        SubspaceEnergy(dim=2, rank=2)


# ---------------------------------------------------------------- landscape measures
def test_energy_on_grid_layout_matches_contourf():
    y1, y2, e = energy_on_grid(lambda p: p[:, 0] + 10 * p[:, 1], -1.0, 1.0, 4)
    assert y1.shape == y2.shape == e.shape == (4, 4)
    # rows follow y2, columns follow y1
    assert bool((y1[:, 1:] > y1[:, :-1]).all()) and bool((y2[1:, :] > y2[:-1, :]).all())
    torch.testing.assert_close(e, y1 + 10 * y2)


def test_energy_on_grid_rejects_wrong_energy_shape():
    with pytest.raises(ValueError, match="energies"):
        energy_on_grid(lambda p: p, -1.0, 1.0, 3)


def test_off_data_mask():
    data = torch.zeros(1, 2, dtype=f64)
    pts = torch.tensor([[0.1, 0.0], [0.5, 0.0], [0.0, -2.0]], dtype=f64)
    assert off_data_mask(pts, data, 0.3).tolist() == [False, True, True]
    with pytest.raises(ValueError):
        off_data_mask(pts, data, 0.0)
    with pytest.raises(ValueError):
        off_data_mask(pts, torch.zeros(1, 3, dtype=f64), 0.3)


def test_separation_values():
    low = torch.tensor([0.0, 1.0], dtype=f64)
    high = torch.tensor([2.0, 3.0, 4.0], dtype=f64)
    assert separation(low, high) == 1.0
    assert separation(high, low) == 0.0
    flat = torch.ones(5, dtype=f64)
    assert separation(flat, flat) == 0.5  # a flat landscape gives exactly 1/2
    assert separation(torch.tensor([1.0], dtype=f64), torch.tensor([0.0, 2.0], dtype=f64)) == 0.5


def test_separation_rejects_bad_input():
    with pytest.raises(ValueError):
        separation(torch.tensor([], dtype=f64), torch.ones(2, dtype=f64))
    with pytest.raises(ValueError):
        separation(torch.tensor([math.nan], dtype=f64), torch.ones(2, dtype=f64))
    with pytest.raises(TypeError):
        separation([0.0], torch.ones(2, dtype=f64))


def test_soft_volume_counts_low_energy_cells():
    e = torch.tensor([0.0, 0.0, 1e4, 1e4], dtype=f64)
    assert soft_volume(e, cell_area=0.25).item() == pytest.approx(0.5)
    # temperature: the same energies count more at high T
    e2 = torch.tensor([1.0, 1.0], dtype=f64)
    assert soft_volume(e2, 1.0, temperature=10.0) > soft_volume(e2, 1.0, temperature=1.0)
    # finite for very negative energies (logsumexp form)
    assert torch.isfinite(soft_volume(torch.tensor([-500.0], dtype=f64), 1.0, temperature=1.0))
    with pytest.raises(ValueError):
        soft_volume(e, cell_area=-1.0)
    with pytest.raises(ValueError):
        soft_volume(e, cell_area=1.0, temperature=0.0)


def test_soft_volume_gradient_pushes_low_energies_up():
    e = torch.tensor([0.0, 3.0], dtype=f64, requires_grad=True)
    soft_volume(e, 1.0).backward()
    # d/dF_i of sum exp(-F) = -exp(-F_i): negative, largest in size at the lowest energy
    torch.testing.assert_close(e.grad, -torch.exp(-e.detach()))
