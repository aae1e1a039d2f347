"""Values, shapes, gradients, counters and input validation of ebm_utils.label_energies."""
from __future__ import annotations

import pytest
import torch

from ebm_utils.checks import check_gradient, random_points
from ebm_utils.label_energies import LinearLabelEnergy, MLPLabelEnergy
from ebm_utils.losses import nll_loss

MODELS = [lambda: LinearLabelEnergy(3, 5), lambda: MLPLabelEnergy(3, 5, hidden=4)]


def test_linear_energy_is_minus_logits():
    m = LinearLabelEnergy(2, 3)
    w = m.init_params(seed=1)
    a, b = m.unpack(w)
    x = torch.tensor([0.5, -1.0], dtype=torch.float64)
    torch.testing.assert_close(m.energies(w, x), -(a @ x + b))


def test_mlp_energy_formula():
    m = MLPLabelEnergy(2, 3, hidden=4)
    w = m.init_params(seed=2)
    a, b, c, v = m.unpack(w)
    x = torch.tensor([0.3, 0.7], dtype=torch.float64)
    expected = torch.stack([torch.tanh(a @ x + b[:, y] + c) @ v for y in range(3)])
    torch.testing.assert_close(m.energies(w, x), expected)


@pytest.mark.parametrize("make", MODELS)
def test_some_energies_agree_with_all(make):
    m = make()
    w = m.init_params(seed=0)
    x = random_points(4, 3, seed=1)
    labels = torch.tensor([[0, 4], [1, 1], [2, 3], [4, 0]])
    full = m.energies(w, x)
    torch.testing.assert_close(m.energy(w, x, labels), full.gather(1, labels))
    torch.testing.assert_close(m.energy(w, x[0], labels[0]), full[0, labels[0]])


@pytest.mark.parametrize("make", MODELS)
def test_counters(make):
    m = make()
    w = m.init_params()
    x = torch.zeros(3, dtype=torch.float64)
    m.energies(w, x)
    assert (m.energy_evals, m.graph_evals) == (5, 0)
    m.energy(w.requires_grad_(True), x, torch.tensor([0, 1]))
    assert (m.energy_evals, m.graph_evals) == (7, 2)
    with torch.no_grad():
        m.energies(w, x[None].repeat(2, 1))
    assert (m.energy_evals, m.graph_evals) == (17, 2)
    m.reset_counts()
    assert (m.energy_evals, m.graph_evals) == (0, 0)


@pytest.mark.parametrize("make", MODELS)
def test_nll_gradient_of_models(make):
    """Autograd through the model agrees with finite differences (so training is sound)."""
    m = make()
    x = torch.tensor([0.2, -0.4, 1.0], dtype=torch.float64)

    def f(w):
        return nll_loss(m.energies(w, x), torch.tensor(2), beta=1.5)

    def g(w):
        w = w.clone().requires_grad_(True)
        return torch.autograd.grad(f(w), w)[0]

    pts = torch.stack([m.init_params(seed=s) for s in range(3)])
    check_gradient(f, g, pts, tol_fd=1e-6)


def test_validation():
    m = LinearLabelEnergy(2, 3)
    w = m.init_params()
    x = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(ValueError):
        LinearLabelEnergy(0, 3)
    with pytest.raises(ValueError):
        MLPLabelEnergy(2, 3, hidden=0)
    with pytest.raises(ValueError):
        m.energies(w[:-1], x)
    with pytest.raises(TypeError):
        m.energies(w, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError):
        m.energies(w, torch.zeros(3, dtype=torch.float64))
    with pytest.raises(IndexError):
        m.energy(w, x, torch.tensor([3]))
    with pytest.raises(TypeError):
        m.energy(w, x, torch.tensor([0.0]))
    with pytest.raises(ValueError):
        m.energy(w, x[None].repeat(2, 1), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError):
        m.init_params(scale=0.0)
