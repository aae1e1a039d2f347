"""The pairwise-loss helpers of chapter 1.3 assemble right gradients and reject wrong ones."""
from __future__ import annotations

import pytest
import sympy as sp
import torch

from ebm_utils.checks import GradientMismatch, check_gradient, random_points
from ebm_utils.losses import log_loss, simple_loss, square_square_loss
from ebm_utils.pairwise import (
    TinyEnergy,
    chain_rule_gradient,
    coefficient_to_torch,
    energy_form,
    gradient_symbol,
    one_sided_derivatives,
    outer_coefficients,
    pairwise_symbols,
)
from ebm_utils.symbolic import indicator, positive_part, sigmoid

S = pairwise_symbols()
MODEL = TinyEnergy(dim=2, n_labels=3, hidden=4)
G = torch.Generator().manual_seed(0)
X = torch.randn(4, 2, generator=G, dtype=torch.float64)
Y = torch.tensor([0, 1, 2, 0])
YBAR = torch.tensor([1, 2, 0, 2])


def _coefficient_fns(loss_expr: sp.Expr, margin: float = 1.0):
    g1, g2 = outer_coefficients(sp.diff(loss_expr, S.W), S)
    f1 = coefficient_to_torch([S.E_pos, S.E_neg, S.m], g1)
    f2 = coefficient_to_torch([S.E_pos, S.E_neg, S.m], g2)
    m = torch.tensor(margin, dtype=torch.float64)
    return (lambda a, b: f1(a, b, m)), (lambda a, b: f2(a, b, m))


def test_symbols_print_as_the_text_writes_them():
    assert sp.latex(S.neg) == r"F_{W}\left(x, \bar{y}\right)"
    assert S.m.is_positive and S.W.is_real
    g = gradient_symbol("simple")
    assert sp.latex(g) == r"\frac{\partial L_{\text{simple}}}{\partial W}"
    assert sp.sstr(g) == "dL_simple/dW"
    with pytest.raises(ValueError):
        gradient_symbol("a$b")


def test_energy_form_and_coefficients_of_the_simple_loss():
    grad = sp.diff(positive_part(S.pos) + positive_part(S.m - S.neg), S.W)
    assert energy_form(grad, S) == indicator(S.E_pos) * S.dE_pos - indicator(S.m - S.E_neg) * S.dE_neg
    g1, g2 = outer_coefficients(grad, S)
    assert g1 == indicator(S.E_pos) and g2 == -indicator(S.m - S.E_neg)


def test_coefficients_of_the_log_loss_are_plus_and_minus_sigmoid():
    grad = sp.diff(sp.log(1 + sp.exp(S.pos - S.neg)), S.W)
    g1, g2 = outer_coefficients(grad, S)
    assert sp.simplify(g1.rewrite(sp.exp) - sigmoid(S.E_pos - S.E_neg).rewrite(sp.exp)) == 0
    assert sp.simplify(g1 + g2) == 0


def test_energy_form_refuses_other_energies_and_nonlinear_gradients():
    other = S.F(S.W, S.x, sp.Symbol("z"))
    with pytest.raises(ValueError, match="could not replace"):
        energy_form(sp.diff(other**2, S.W), S)
    with pytest.raises(ValueError, match="not linear"):
        outer_coefficients(sp.Derivative(S.pos, S.W) ** 2, S)
    with pytest.raises(ValueError, match="not linear"):
        outer_coefficients(sp.Derivative(S.pos, S.W) + 1, S)


def test_tiny_energy_shapes_and_validation():
    w = MODEL.init(seed=1)
    assert w.shape == (MODEL.num_params,) and MODEL.num_params == 4 * 2 + 4 + 3 * 4 + 3
    assert MODEL(w, X, Y).shape == (4,)
    assert torch.equal(MODEL.init(seed=1), w)
    with pytest.raises(ValueError, match="parameters"):
        MODEL(w[:-1], X, Y)
    with pytest.raises(ValueError, match="x must"):
        MODEL(w, X[:, :1], Y)
    with pytest.raises(ValueError, match="labels"):
        MODEL(w, X, torch.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="integer"):
        MODEL(w, X, Y.double())
    with pytest.raises(ValueError):
        TinyEnergy(n_labels=1)
    with pytest.raises(ValueError):
        TinyEnergy(dim=0)


@pytest.mark.parametrize(
    "name, expr, loss",
    [
        ("simple", positive_part(S.pos) + positive_part(S.m - S.neg), simple_loss),
        ("log", sp.log(1 + sp.exp(S.pos - S.neg)), lambda p, n, margin: log_loss(p, n)),
        ("sqsq", positive_part(S.pos) ** 2 + positive_part(S.m - S.neg) ** 2, square_square_loss),
    ],
)
def test_chain_rule_gradient_matches_autograd_of_the_library_loss(name, expr, loss):
    g1, g2 = _coefficient_fns(expr, margin=0.7)

    def f(w):
        return loss(MODEL(w, X, Y), MODEL(w, X, YBAR), margin=0.7)

    def kinks(w):
        with torch.no_grad():
            return torch.cat([MODEL(w, X, Y).abs(), (0.7 - MODEL(w, X, YBAR)).abs()]).min()

    pts = random_points(6, MODEL.num_params, seed=3)
    report = check_gradient(
        f, lambda w: chain_rule_gradient(g1, g2, MODEL, w, X, Y, YBAR), pts, kink_distance=kinks, name=name
    )
    assert report.checked >= 1


def test_chain_rule_gradient_rejects_a_wrong_sign():
    g1, g2 = _coefficient_fns(sp.log(1 + sp.exp(S.pos - S.neg)))

    def f(w):
        return log_loss(MODEL(w, X, Y), MODEL(w, X, YBAR))

    pts = random_points(3, MODEL.num_params, seed=4)
    with pytest.raises(GradientMismatch):
        check_gradient(f, lambda w: chain_rule_gradient(g1, lambda a, b: -g2(a, b), MODEL, w, X, Y, YBAR), pts)
    with pytest.raises(ValueError, match="same shape"):
        chain_rule_gradient(g1, g2, MODEL, pts[0], X, Y, YBAR[:2])


def test_coefficient_to_torch_handles_compound_step_arguments():
    m = torch.tensor(1.0, dtype=torch.float64)
    e = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64)
    f = coefficient_to_torch([S.E_neg, S.m], -indicator(S.m - S.E_neg))
    assert f(e, m).tolist() == [-1.0, 0.0, 0.0]  # 0 at the kink, as torch.relu
    h = coefficient_to_torch([S.E_neg, S.m], sp.Heaviside(S.m - S.E_neg))
    assert h(e, m).tolist() == [1.0, 0.5, 0.0]
    h0 = coefficient_to_torch([S.E_neg, S.m], sp.Heaviside(S.m - S.E_neg, 1))
    assert h0(e, m).tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(TypeError):
        coefficient_to_torch([S.E_neg], sp.Matrix([S.E_neg]))
    with pytest.raises(TypeError):
        coefficient_to_torch([S.m - S.E_neg], S.E_neg)


def test_one_sided_derivatives_at_kinks():
    left, right = one_sided_derivatives(torch.relu, 0.0)
    assert (left, right) == (0.0, 1.0)
    left, right = one_sided_derivatives(lambda z: torch.relu(z) ** 2, 0.0, h=1e-4)
    assert abs(left) < 1e-12 and abs(right - 1e-4) < 1e-12  # right quotient is h itself
    left, right = one_sided_derivatives(torch.sin, 0.3, h=1e-7)
    assert abs(left - right) < 1e-6
    with pytest.raises(ValueError):
        one_sided_derivatives(torch.relu, 0.0, h=0.0)
