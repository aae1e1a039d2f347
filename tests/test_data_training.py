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


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_adam_is_torch_optim_adam_step_for_step(dtype):
    """The written-out Adam of `train` follows torch.optim.Adam exactly (bit for bit).

    Two parameter tensors, one of which has no gradient at some steps (Adam then
    leaves it alone), on a non-convex loss with gradients of mixed signs and scales.
    """
    g = torch.Generator().manual_seed(3)
    a0, b0 = torch.randn(5, 3, generator=g, dtype=dtype), torch.randn(4, generator=g, dtype=dtype) * 100

    def loss_of(a, b, step):
        tail = torch.sin(b).square().sum() * 1e-3 if step % 3 else 0.0  # b gets no gradient every third step
        return torch.tanh(a).sum() + (a**3).mean() + tail

    a, b = a0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    counter = iter(range(10**6))
    train([a, b], lambda: loss_of(a, b, next(counter)), steps=60, lr=0.05, optimizer="adam")

    ra, rb = a0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    opt = torch.optim.Adam([ra, rb], lr=0.05)
    for step in range(60):
        opt.zero_grad(set_to_none=True)
        loss_of(ra, rb, step).backward()
        opt.step()
    assert torch.equal(a.detach(), ra.detach()) and torch.equal(b.detach(), rb.detach())
    assert not torch.equal(a.detach(), a0)  # it moved


def test_adam_with_a_wrong_update_is_detected():
    """The comparison above can fail: Adam without bias correction drifts off torch's path."""
    from ebm_utils import training

    class NoBiasCorrection(training._AdamState):
        def update(self, p, lr):
            self.exp_avg.lerp_(p.grad, 1 - self.beta1)
            self.exp_avg_sq.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            p.addcdiv_(self.exp_avg, self.exp_avg_sq.sqrt().add_(self.eps), value=-lr)

    w0 = torch.tensor([1.0, -3.0], dtype=torch.float64)
    paths = []
    for state_class in (training._AdamState, NoBiasCorrection):
        original = training._AdamState
        training._AdamState = state_class
        try:
            w = w0.clone().requires_grad_(True)
            train([w], lambda: (w**4).sum(), steps=5, lr=0.1, optimizer="adam")
        finally:
            training._AdamState = original
        paths.append(w.detach())
    ref = w0.clone().requires_grad_(True)
    opt = torch.optim.Adam([ref], lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        (ref**4).sum().backward()
        opt.step()
    assert torch.equal(paths[0], ref.detach()) and not torch.allclose(paths[1], ref.detach())


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
