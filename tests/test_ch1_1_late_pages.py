"""Library code of pages 1.1(e)-(h): RBFEnergy, AutoEncoderEnergy, periodic_descent_end."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.checks import check_gradient
from ebm_utils.continuous_energies import AutoEncoderEnergy, RBFEnergy
from ebm_utils.inference import periodic_descent_end
from ebm_utils.seeding import generator
from ebm_utils.training import train

f64 = torch.float64


def _points(n: int, d: int = 2, stream: int = 0) -> torch.Tensor:
    return torch.randn(n, d, dtype=f64, generator=generator(stream))


# ---------------------------------------------------------------- RBFEnergy
def test_rbf_energy_matches_its_formula():
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=f64)
    rbf = RBFEnergy(centres, width=0.7)
    assert rbf.num_params == 3 and rbf.y_dim == 2
    y, w = _points(5), torch.tensor([0.5, -1.0, 2.0], dtype=f64)
    d2 = (y[:, None, :] - centres[None]).square().sum(-1)
    phi = torch.exp(-d2 / (2 * 0.7**2))
    torch.testing.assert_close(rbf.features(y), phi)
    torch.testing.assert_close(rbf(w, None, y), phi @ w)


def test_rbf_weight_decay_minimiser_is_reached_by_descent_and_is_stationary():
    rbf = RBFEnergy(_points(6, stream=1), width=0.5)
    data, lam = _points(40, stream=2), 0.3
    v_star = rbf.weight_decay_minimiser(data, lam)
    v = v_star.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(rbf(v, None, data).mean() + lam * v.square().sum(), v)
    assert float(g.abs().max()) < 1e-14
    w = rbf.init(stream=3).requires_grad_(True)
    train([w], lambda: rbf(w, None, data).mean() + lam * w.square().sum(), 300, 0.5)
    torch.testing.assert_close(w.detach(), v_star, rtol=1e-10, atol=1e-12)
    # a wrong closed form (without the factor 2) is not stationary
    v_wrong = (-rbf.features(data).mean(0) / lam).requires_grad_(True)
    (g_wrong,) = torch.autograd.grad(rbf(v_wrong, None, data).mean() + lam * v_wrong.square().sum(), v_wrong)
    assert float(g_wrong.abs().max()) > 1e-3


def test_rbf_energy_is_local_far_from_its_centres():
    rbf = RBFEnergy(torch.zeros(1, 2, dtype=f64), width=0.5)
    far = torch.tensor([[10.0, 0.0]], dtype=f64)
    assert float(rbf(torch.tensor([5.0], dtype=f64), None, far).abs()) < 1e-80


def test_rbf_energy_rejects_bad_arguments():
    with pytest.raises(ValueError):
        RBFEnergy(torch.zeros(3, dtype=f64), width=1.0)
    with pytest.raises(ValueError):
        RBFEnergy(torch.zeros(2, 2, dtype=f64), width=0.0)
    with pytest.raises(ValueError):
        RBFEnergy(torch.zeros(2, 2, dtype=f64), width=1.0).weight_decay_minimiser(_points(3), -1.0)


# ---------------------------------------------------------------- AutoEncoderEnergy
def test_autoencoder_energy_is_the_squared_reconstruction_error():
    ae = AutoEncoderEnergy(y_dim=2, hidden=5)
    w = ae.init(stream=4)
    assert w.shape == (ae.num_params,) == (2 * 5 * 2 + 5 + 2,)
    y = _points(7, stream=5)
    a, c, dec, d = ae.unpack(w)
    recon = torch.tanh(y @ a.T + c) @ dec.T + d
    torch.testing.assert_close(ae.reconstruct(w, y), recon)
    torch.testing.assert_close(ae(w, None, y), (y - recon).square().sum(-1))


def test_autoencoder_jacobian_matches_autograd_and_a_wrong_one_does_not():
    ae = AutoEncoderEnergy(y_dim=2, hidden=6)
    w, y = ae.init(stream=6), _points(4, stream=7)
    auto = torch.stack([torch.autograd.functional.jacobian(lambda q: ae.reconstruct(w, q[None])[0], q) for q in y])
    torch.testing.assert_close(ae.jacobian(w, y), auto, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(ae.jacobian(w, y).transpose(1, 2), auto)  # the transpose is a different matrix
    torch.testing.assert_close(ae.contraction(w, y), auto.square().sum((1, 2)).mean())


def test_autoencoder_energy_gradient_in_w_is_checked():
    ae = AutoEncoderEnergy(y_dim=2, hidden=3)
    y = _points(5, stream=8)

    def loss(w):
        return ae(w, None, y).mean() + 0.3 * ae.contraction(w, y)

    def grad(w):
        w = w.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(w), w)
        return g

    report = check_gradient(loss, grad, torch.stack([ae.init(stream=s) for s in range(3)]))
    assert report.checked == 3


def test_autoencoder_energy_grows_far_away_for_every_w():
    # the decoder D tanh(.) + d is bounded, so F >= (|y| - |D|_2 sqrt(h) - |d|)^2 for every W
    ae = AutoEncoderEnergy(y_dim=2, hidden=4)
    far = torch.tensor([[30.0, 40.0], [-50.0, 0.0]], dtype=torch.float64)
    for s in range(5):
        w = ae.init(stream=s, scale=3.0)
        _, _, dec, d = ae.unpack(w)
        bound = (far.norm(dim=1) - torch.linalg.matrix_norm(dec, ord=2) * 2.0 - d.norm()).clamp(min=0).square()
        assert bool((ae(w, None, far) >= bound - 1e-9).all()) and bool((bound > 0).all())


# ---------------------------------------------------------------- periodic_descent_end
def test_periodic_descent_end_follows_the_basin_and_wraps():
    z = torch.linspace(0, 2 * math.pi, 401)[:-1]
    values = torch.cos(2 * z) + 0.3 * torch.cos(z)  # G' = -sin z (4 cos z + 0.3): minima where cos z = -0.075
    z_min = math.acos(-0.075)
    ends = {periodic_descent_end(values, i) for i in range(400)}
    assert len(ends) == 2  # two basins, two local minima
    for e, exact in zip(sorted(ends), (z_min, 2 * math.pi - z_min)):
        assert abs(float(z[e]) - exact) < 2 * math.pi / 400  # within one grid cell of the true minimum
    # the maxima at 0 and pi separate the basins: starts on either side end in different minima
    assert periodic_descent_end(values, 190) != periodic_descent_end(values, 210)
    # starting just left of index 0 wraps around to the basin across the seam
    shifted = torch.roll(values, 200)
    assert periodic_descent_end(shifted, 0) == (periodic_descent_end(values, 200) + 200) % 400


def test_periodic_descent_end_on_a_single_well_is_its_argmin():
    z = torch.linspace(0, 2 * math.pi, 101)[:-1]
    values = -torch.cos(z - 1.0)
    target = int(values.argmin())
    assert all(periodic_descent_end(values, i) == target for i in range(100))


def test_periodic_descent_end_breaks_a_tie_between_neighbours_to_the_right():
    values = torch.tensor([3.0, 1.0, 5.0, 1.0, 4.0, 4.0])  # from index 2 both neighbours are 1
    assert periodic_descent_end(values, 2) == 3
    assert periodic_descent_end(torch.tensor([2.0, 2.0, 3.0]), 0) == 0  # an equal neighbour does not move it


def test_periodic_descent_end_rejects_bad_input():
    with pytest.raises(ValueError):
        periodic_descent_end(torch.tensor([1.0, 2.0]), 0)
    with pytest.raises(IndexError):
        periodic_descent_end(torch.tensor([1.0, 2.0, 3.0]), 3)
    with pytest.raises(ValueError):
        periodic_descent_end(torch.tensor([1.0, float("nan"), 3.0]), 0)
