"""Values and gradients of the label energies of ebm_utils.label_energies (the interface is tested in test_energies)."""
from __future__ import annotations

import pytest
import torch

from ebm_utils.checks import check_gradient, random_points
from ebm_utils.label_energies import LinearLabelEnergy, MLPLabelEnergy, TinyLabelEnergy
from ebm_utils.losses import nll_loss

MODELS = [lambda: LinearLabelEnergy(3, 5), lambda: MLPLabelEnergy(3, 5, hidden=4), lambda: TinyLabelEnergy(3, 5, 4)]


def test_linear_energy_is_minus_logits():
    m = LinearLabelEnergy(2, 3)
    w = m.init(stream=1)
    a, b = m.unpack(w)
    x = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(m.energies(w, x)[0], -(a @ x[0] + b))


def test_mlp_energy_formula():
    m = MLPLabelEnergy(2, 3, hidden=4)
    w = m.init(stream=2)
    a, b, c, v = m.unpack(w)
    x = torch.tensor([[0.3, 0.7]], dtype=torch.float64)
    expected = torch.stack([torch.tanh(a @ x[0] + b[:, y] + c) @ v for y in range(3)])
    torch.testing.assert_close(m.energies(w, x)[0], expected)


def test_tiny_energy_formula():
    m = TinyLabelEnergy(x_dim=2, n_labels=3, hidden=4)
    assert m.num_params == 4 * 2 + 4 + 3 * 4 + 3
    w = m.init(stream=1)
    a, b, v, c = m.unpack(w)
    x = torch.tensor([[0.3, -0.7], [1.0, 0.2]], dtype=torch.float64)
    y = torch.tensor([2, 0])
    expected = torch.stack([v[y[i]] @ torch.tanh(a @ x[i] + b) + c[y[i]] for i in range(2)])
    torch.testing.assert_close(m(w, x, y), expected)


@pytest.mark.parametrize("make", MODELS)
def test_nll_gradient_of_models(make):
    """Autograd through the model agrees with finite differences (so training is sound)."""
    m = make()
    x = torch.tensor([[0.2, -0.4, 1.0]], dtype=torch.float64)

    def f(w):
        return nll_loss(m.energies(w, x), torch.tensor([2]), beta=1.5)

    def g(w):
        w = w.clone().requires_grad_(True)
        return torch.autograd.grad(f(w), w)[0]

    pts = torch.stack([m.init(stream=s) for s in range(3)])
    check_gradient(f, g, pts, tol_fd=1e-6)


@pytest.mark.parametrize("make", MODELS)
def test_grad_w_rows_are_label_gradients(make):
    """grad_w over one input and every label is the Jacobian of energies(): row y' is dF(x, y')/dW."""
    m = make()
    w = m.init(stream=3)
    x = random_points(1, 3, stream=4)
    jac = torch.autograd.functional.jacobian(lambda v: m.energies(v, x)[0], w)
    torch.testing.assert_close(m.grad_w(w, x, torch.arange(m.n_labels)), jac)
