"""The sympy building blocks: values, derivatives, printing, stable conversion."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from ebm_utils.symbolic import (
    canonical,
    energy,
    indicator,
    label_sum,
    positive_part,
    sigmoid,
    softplus,
    to_numpy,
    to_torch,
)

z = sp.Symbol("z", real=True)
W, x, y, ybar = sp.symbols("W x y ybar", real=True)


def test_positive_part_and_indicator_values():
    assert positive_part(sp.Integer(3)) == 3
    assert positive_part(sp.Integer(-2)) == 0
    assert positive_part(sp.Integer(0)) == 0
    assert indicator(sp.Integer(2)) == 1
    assert indicator(sp.Integer(0)) == 0  # the relu convention at the kink
    assert indicator(sp.Integer(-1)) == 0


def test_derivatives():
    assert sp.diff(positive_part(z), z) == indicator(z)
    assert sp.diff(softplus(z), z) == sigmoid(z)
    assert sp.simplify(sp.diff(sigmoid(z), z).rewrite(sp.exp) - sp.diff(1 / (1 + sp.exp(-z)), z)) == 0
    assert sp.simplify(softplus(z).rewrite(sp.log) - sp.log(1 + sp.exp(z))) == 0


def test_latex_prints_book_notation():
    F = energy("F")
    assert sp.latex(F(W, x, y)) == r"F_{W}\left(x, y\right)"
    assert sp.latex(F(W, x, ybar)) == r"F_{W}\left(x, \bar{y}\right)"
    assert sp.latex(positive_part(z)) == r"\left[z\right]^{+}"
    assert sp.latex(positive_part(z) ** 2) == r"\left(\left[z\right]^{+}\right)^{2}"
    assert sp.latex(indicator(z)) == r"\mathbb{1}\left[z > 0\right]"
    assert sp.latex(sigmoid(z)) == r"\sigma\left(z\right)"
    assert "softplus" in sp.latex(softplus(z))


def test_energy_name_validation():
    with pytest.raises(ValueError):
        energy("not a name")


def test_label_sum_fixed_and_symbolic():
    F = energy("F")
    k = sp.Symbol("k", integer=True, positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    fixed = label_sum(F(W, x, k), k, 3)
    assert fixed == F(W, x, 1) + F(W, x, 2) + F(W, x, 3)
    sym = label_sum(F(W, x, k), k, n)
    assert isinstance(sym, sp.Sum)
    assert sp.diff(sym, W) == sp.Sum(sp.Derivative(F(W, x, k), W), (k, 1, n))
    with pytest.raises(ValueError):
        label_sum(F(W, x, k), k, 0)
    with pytest.raises(TypeError):
        label_sum(F(W, x, k), "k", 3)


def test_canonical_keeps_heaviside_value_at_zero():
    # sympy's own derivative of Max has Heaviside(0) = 1/2; canonical() keeps it
    g = canonical(sp.diff(sp.Max(0, z), z))
    assert g.subs(z, 0) == sp.S.Half and g.subs(z, 1) == 1 and g.subs(z, -1) == 0
    # the book's indicator (the relu convention) is Heaviside(z, 0), not Heaviside(z)
    assert sp.simplify(canonical(sp.diff(positive_part(z), z) - sp.Heaviside(z, 0))) == 0
    assert canonical(sp.diff(positive_part(z), z) - sp.Heaviside(z)).subs(z, 0) == -sp.S.Half
    assert canonical(sp.Heaviside(z, 1) - sp.Heaviside(z, 0)).subs(z, 0) == 1


GRID = [-1000.0, -30.0, -1.0, 0.0, 0.5, 30.0, 1000.0]


@pytest.mark.parametrize(
    "expr, reference",
    [
        (softplus(z), lambda v: np.logaddexp(0, v)),
        (sigmoid(z), lambda v: 1 / (1 + np.exp(np.clip(-v, -700, 700)))),
        (positive_part(z), lambda v: np.maximum(v, 0)),
        (indicator(z), lambda v: (v > 0).astype(float)),
        (sp.Max(0, z), lambda v: np.maximum(v, 0)),
    ],
)
def test_numpy_and_torch_conversion_are_finite_and_agree(expr, reference):
    v = np.array(GRID)
    f_np = to_numpy([z], expr)
    f_t = to_torch([z], expr)
    with np.errstate(over="raise"):
        out_np = f_np(v)
    out_t = f_t(torch.tensor(GRID, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(out_np, reference(v), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(out_t, reference(v), rtol=1e-12, atol=1e-300)


def test_torch_conversion_keeps_autograd():
    f = to_torch([z], softplus(z) + positive_part(z) * sigmoid(z))
    t = torch.tensor([-2.0, 0.7, 40.0], dtype=torch.float64, requires_grad=True)
    f(t).sum().backward()
    g = to_torch([z], sp.diff(softplus(z) + positive_part(z) * sigmoid(z), z))
    torch.testing.assert_close(t.grad, g(t.detach()))


def test_torch_conversion_of_heaviside_uses_its_value_at_zero():
    f = to_torch([z], sp.Heaviside(z, sp.Rational(1, 2)))
    out = f(torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    assert out.tolist() == [0.0, 0.5, 1.0]


def test_conversion_argument_checks():
    with pytest.raises(TypeError):
        to_torch(["z"], z)
    with pytest.raises(TypeError):
        to_torch([z], sp.Matrix([z, z]))


def test_torch_conversion_of_compound_arguments():
    """Step functions of expressions (not just symbols) print with parentheses."""
    m, e = sp.symbols("m e", real=True)
    f = to_torch([m, e], indicator(m - e) + sp.Heaviside(m - e, 0) + positive_part(m - e))
    out = f(torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.5, 1.0, 2.0]))
    assert out.tolist() == [2.5, 0.0, 0.0]
    # sympy's own Heaviside (1/2 at the kink), powers and products of steps of compound arguments
    g = to_torch([m, e], sp.Heaviside(m - e) + 3 * indicator(m - e) ** 2 - indicator(e - m) * positive_part(m - e))
    assert g(torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.5, 1.0, 2.0])).tolist() == [4.0, 0.5, 0.0]


def test_numeric_evaluation():
    assert abs(sp.N(softplus(sp.Float(1.5))) - np.logaddexp(0, 1.5)) < 1e-14
    assert abs(sp.N(sigmoid(sp.Float(-0.5))) - 1 / (1 + np.exp(0.5))) < 1e-14
    assert sp.N(softplus(z)) == softplus(z)  # symbolic arguments stay symbolic


def test_torch_conversion_of_constants():
    y = sp.Symbol("y", real=True)
    f = to_torch([y], sp.sqrt(2) * y + sp.log(2) + sp.pi * softplus(y) + sp.Rational(1, 3))
    t = torch.tensor([0.5], dtype=torch.float64)
    expected = np.sqrt(2) * 0.5 + np.log(2) + np.pi * np.logaddexp(0, 0.5) + 1 / 3
    assert f(t).item() == pytest.approx(expected, rel=1e-15)


def test_book_latex_puts_positive_terms_first():
    from ebm_utils.symbolic import book_latex

    f1, f2 = sp.symbols("F_1 F_2", real=True)
    assert sp.latex(f2 - f1) == "- F_{1} + F_{2}"
    assert book_latex(f2 - f1) == "F_{2} - F_{1}"
    assert book_latex(-f1 - f2) == "- F_{1} - F_{2}"
    assert book_latex(sp.exp(-(f2 - f1))) == "e^{F_{1} - F_{2}}"
    beta = sp.Symbol("beta", positive=True)
    assert book_latex(1 / (1 + sp.exp(-beta * (f2 - f1)))) == r"\frac{1}{1 + e^{- \beta \left(F_{2} - F_{1}\right)}}"
