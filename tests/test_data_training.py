"""Toy data sets and the training loop."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.data import ring, spiral, two_moons
from ebm_utils.losses import LOSS_NAMES, LOSSES
from ebm_utils.training import grad_norm, train, train_energy_table

D = torch.float64


@pytest.mark.parametrize("make", [ring, two_moons, spiral])
def test_shapes_dtype_and_seeding(make):
    a = make(50, stream=1)
    assert a.shape == (50, 2) and a.dtype == torch.float64
    torch.testing.assert_close(a, make(50, stream=1))
    assert not torch.equal(a, make(50, stream=2))


def test_ring_radius():
    r = ring(200, radius=2.0, noise=0.0).norm(dim=1)
    torch.testing.assert_close(r, torch.full_like(r, 2.0))


def test_spiral_radius_bounded():
    assert spiral(300, noise=0.0).norm(dim=1).max() <= 1.0 + 1e-12


@pytest.mark.parametrize("make", [ring, two_moons, spiral])
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make(0)
    with pytest.raises(ValueError):
        make(10, noise=-1.0)


def test_train_minimises_a_quadratic_and_records():
    w = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    hist = train([w], lambda: (w**2).sum(), steps=100, lr=0.1, record=lambda: {"w0": w[0]})
    assert hist["step"][0] == 0 and hist["step"][-1] == 100
    assert hist["loss"][0] == pytest.approx(13.0)
    assert hist["loss"][-1] < 1e-15
    assert hist["grad_norm"][0] == pytest.approx(2 * math.sqrt(13.0))
    assert hist["w0"][0] == 3.0 and abs(hist["w0"][-1]) < 1e-8
    assert len(hist["loss"]) == 101


def test_train_every_and_adam():
    w = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    hist = train([w], lambda: (w - 2).pow(2).sum(), steps=10, lr=0.5, optimizer="adam", every=4)
    assert hist["step"] == [0, 4, 8, 10]


def test_train_refuses_divergence_and_bad_arguments():
    w = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="loss became"):
        train([w], lambda: (w * 1e200).pow(2).sum() * 1e200, steps=3, lr=1.0)
    with pytest.raises(ValueError):
        train([w], lambda: w.sum(), steps=-1, lr=0.1)
    with pytest.raises(ValueError):
        train([w], lambda: w.sum(), steps=1, lr=0.0)
    with pytest.raises(ValueError):
        train([w], lambda: w.sum(), steps=1, lr=0.1, optimizer="lbfgs")
    with pytest.raises(ValueError):
        train([torch.zeros(1)], lambda: torch.zeros(()), steps=1, lr=0.1)
    with pytest.raises(ValueError, match="scalar"):
        train([w], lambda: w * 2, steps=1, lr=0.1)


def test_grad_norm_skips_missing():
    a = torch.zeros(2, requires_grad=True)
    assert grad_norm([a]) == 0.0


def test_sgd_step_is_plain_gradient_descent():
    """One step of train(..., 'sgd') is w - lr * grad, as torch.optim.SGD computes it."""
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    v = w.detach().clone().requires_grad_(True)
    train([w], lambda: (w**3).sum(), steps=3, lr=0.05)
    opt = torch.optim.SGD([v], lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        (v**3).sum().backward()
        opt.step()
    torch.testing.assert_close(w.detach(), v.detach(), rtol=0, atol=0)


def test_grad_norm_does_not_underflow():
    a = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    a.grad = torch.full((3,), 1e-170, dtype=torch.float64)
    assert grad_norm([a]) == pytest.approx(math.sqrt(3) * 1e-170)


def test_table_training_saturation():
    e0 = torch.tensor([[1.0, 0.5, 0.2]], dtype=D)
    t, neg = torch.tensor([0]), torch.tensor([1])
    finals = {}
    for name in LOSS_NAMES:
        kw = {} if name == "nll" else {"negative": neg}
        w, h = train_energy_table(name, e0, t, steps=300, lr=0.1, every=100, **kw)
        finals[name] = h["grad_norm"][-1]
        assert h["step"] == [0, 100, 200, 300]
        if LOSSES[name].shift_invariant:  # the mean energy never moves
            assert max(abs(v - h["level"][0]) for v in h["level"]) < 1e-12
    assert finals["hinge"] == 0.0 and finals["simple"] == 0.0
    assert 0 < finals["square_square"] < 1e-12
    assert finals["log"] > 1e-3 and finals["nll"] > 1e-3


def test_table_training_refuses_bad_input():
    with pytest.raises(ValueError):
        train_energy_table("hinge", torch.zeros(2, 1, dtype=D), torch.zeros(2, dtype=torch.long), steps=1, lr=0.1)
    with pytest.raises(ValueError, match="unknown loss"):
        train_energy_table("l2", torch.zeros(2, 2, dtype=D), torch.zeros(2, dtype=torch.long), steps=1, lr=0.1)
