"""The chain rule of chapter 1.3 assembles right gradients of pairwise losses and rejects wrong ones."""
from __future__ import annotations

import pytest
import sympy as sp
import torch

from ebm_utils.chain_rule import (
    chain_rule_gradient,
    energy_form,
    gradient_symbol,
    outer_coefficients,
    pairwise_symbols,
)
from ebm_utils.checks import GradientMismatch, check_gradient, random_points
from ebm_utils.label_energies import TinyLabelEnergy
from ebm_utils.losses import log_loss, simple_loss, square_square_loss
from ebm_utils.seeding import generator
from ebm_utils.symbolic import indicator, positive_part, sigmoid, to_torch

S = pairwise_symbols()
MODEL = TinyLabelEnergy(x_dim=2, n_labels=3, hidden=4)
X = torch.randn(4, 2, generator=generator(0), dtype=torch.float64)
Y = torch.tensor([0, 1, 2, 0])
YBAR = torch.tensor([1, 2, 0, 2])


def _coefficient_fns(loss_expr: sp.Expr, margin: float = 1.0):
    g1, g2 = outer_coefficients(sp.diff(loss_expr, S.W), S)
    f1 = to_torch([S.E_pos, S.E_neg, S.m], g1)
    f2 = to_torch([S.E_pos, S.E_neg, S.m], g2)
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

    pts = random_points(6, MODEL.num_params, stream=3)
    report = check_gradient(
        f, lambda w: chain_rule_gradient(g1, g2, MODEL, w, X, Y, YBAR), pts, kink_distance=kinks, name=name
    )
    assert report.checked >= 1


def test_chain_rule_gradient_rejects_a_wrong_sign():
    g1, g2 = _coefficient_fns(sp.log(1 + sp.exp(S.pos - S.neg)))

    def f(w):
        return log_loss(MODEL(w, X, Y), MODEL(w, X, YBAR))

    pts = random_points(3, MODEL.num_params, stream=4)
    with pytest.raises(GradientMismatch):
        check_gradient(f, lambda w: chain_rule_gradient(g1, lambda a, b: -g2(a, b), MODEL, w, X, Y, YBAR), pts)
    with pytest.raises(ValueError, match="same shape"):
        chain_rule_gradient(g1, g2, MODEL, pts[0], X, Y, YBAR[:2])
    with pytest.raises(TypeError, match="Energy"):
        chain_rule_gradient(g1, g2, lambda w, x, y: w.sum(), pts[0], X, Y, YBAR)


def test_derived_coefficients_with_compound_step_arguments_convert_to_torch():
    """The coefficient 1[m - F(x, ybar) > 0] of 1.3(a), 1.3(c): to_torch parenthesises its argument."""
    m = torch.tensor(1.0, dtype=torch.float64)
    e = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64)
    f = to_torch([S.E_neg, S.m], -indicator(S.m - S.E_neg))
    assert f(e, m).tolist() == [-1.0, 0.0, 0.0]  # 0 at the kink, as torch.relu
    h = to_torch([S.E_neg, S.m], sp.Heaviside(S.m - S.E_neg))
    assert h(e, m).tolist() == [1.0, 0.5, 0.0]
    h1 = to_torch([S.E_neg, S.m], sp.Heaviside(S.m - S.E_neg, 1))
    assert h1(e, m).tolist() == [1.0, 1.0, 0.0]
    sq = to_torch([S.E_neg, S.m], -2 * positive_part(S.m - S.E_neg) * indicator(S.m - S.E_neg) ** 2)
    assert sq(e, m).tolist() == [-1.0, -0.0, -0.0]
