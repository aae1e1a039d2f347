"""The book's symbolic vocabulary prints, differentiates, rewrites and evaluates exactly as documented.

Written against the survivors of `make mutation` in ``ebm_utils.symbolic``:
every expected string and value below is the documented one, so a mutant that
changes a printer, a derivative, a rewrite or a numeric translation fails here.
"""
from __future__ import annotations

import numpy as np
import nbformat
import pytest
import sympy as sp
import torch
from nbclient import NotebookClient

from ebm_utils.symbolic import (
    book_latex, derivative, energy, indicator, label_sum, positive_part, sigmoid, softplus, to_numpy, to_torch,
)

z, x, y, W = sp.symbols("z x y W", real=True)
F = energy("F")


@pytest.mark.parametrize("expr, latex", [
    (positive_part(z), r"\left[z\right]^{+}"),
    (positive_part(z) ** 2, r"\left(\left[z\right]^{+}\right)^{2}"),
    (indicator(z), r"\mathbb{1}\left[z > 0\right]"),
    (indicator(z) ** 2, r"\left(\mathbb{1}\left[z > 0\right]\right)^{2}"),
    (sigmoid(z), r"\sigma\left(z\right)"),
    (sigmoid(z) ** 2, r"\sigma\left(z\right)^{2}"),
    (softplus(z), r"\operatorname{softplus}\left(z\right)"),
    (softplus(z) ** 2, r"\operatorname{softplus}\left(z\right)^{2}"),
    (F(W, x, y), r"F_{W}\left(x, y\right)"),
    (F(W, x, y) ** 2, r"F_{W}\left(x, y\right)^{2}"),
    (energy("G")(W, x), r"G_{W}\left(x\right)"),
    (derivative(sp.Function("p")(y) * F(W, x, y), y),
     r"\frac{\partial}{\partial y} \left(F_{W}\left(x, y\right) p{\left(y \right)}\right)"),
    (derivative(F(W, x, y), y, 2), r"\frac{\partial^{2}}{\partial y^{2}} F_{W}\left(x, y\right)"),
    (derivative(F(W, x, y), y) ** 2, r"\left(\frac{\partial}{\partial y} F_{W}\left(x, y\right)\right)^{2}"),
])
def test_latex_is_the_books_notation(expr, latex):
    assert sp.latex(expr) == latex


def test_book_latex_puts_positive_terms_first_and_leaves_other_expressions_alone():
    a, b = sp.symbols("a b")
    assert sp.latex(b - a) == "- a + b" and book_latex(b - a) == "b - a"
    assert book_latex(a * b) == sp.latex(a * b) and book_latex(-a - b) == sp.latex(-a - b)


def test_derivatives_rewrites_and_signs():
    assert sp.diff(positive_part(z), z) == indicator(z)
    assert sp.diff(indicator(z), z) == sp.DiracDelta(z)
    assert sp.diff(sigmoid(z), z) == sigmoid(z) * (1 - sigmoid(z))
    assert sp.diff(softplus(z), z) == sigmoid(z)
    assert positive_part(z).rewrite(sp.Max) == sp.Max(0, z)
    assert positive_part(z).rewrite(sp.Piecewise) == sp.Piecewise((z, z > 0), (0, True))
    assert indicator(z).rewrite(sp.Heaviside) == sp.Heaviside(z, 0)
    assert positive_part(z).is_nonnegative is True
    assert sp.Abs(positive_part(z)) == positive_part(z)  # sympy uses the sign to drop the modulus


def test_label_sums():
    i, n = sp.Symbol("i", integer=True), sp.Symbol("n", integer=True, positive=True)
    assert label_sum(F(W, x, i), i, 3) == F(W, x, 1) + F(W, x, 2) + F(W, x, 3)
    assert label_sum(F(W, x, i), i, 1) == F(W, x, 1)
    assert label_sum(F(W, x, i), i, n) == sp.Sum(F(W, x, i), (i, 1, n))
    with pytest.raises(ValueError, match=r"^need at least one label, got n=0$"):
        label_sum(F(W, x, i), i, 0)
    with pytest.raises(TypeError, match=r"^n must be an int or a sympy expression, got bool$"):
        label_sum(F(W, x, i), i, True)
    with pytest.raises(TypeError, match=r"^index must be a sympy Symbol, got int$"):
        label_sum(F(W, x, i), 1, 3)
    with pytest.raises(ValueError, match=r"^energy name must be an identifier, got '1F'$"):
        energy("1F")
    with pytest.raises(ValueError, match=r"^order must be a positive int, got 0$"):
        derivative(x, x, 0)


def test_min_max_and_steps_evaluate_as_written():
    f = to_torch([x, y], sp.Min(x, 1, y))  # a constant among the arguments is broadcast
    assert f(torch.tensor([0.5, 2.0]), torch.tensor([3.0, 1.5])).tolist() == [0.5, 1.0]
    g = to_torch([x, y], sp.Max(x, y, -1))
    assert g(torch.tensor([0.5, -3.0]), torch.tensor([3.0, -2.0])).tolist() == [3.0, -1.0]
    assert to_numpy([x, y, z], sp.Min(x, y, z))(np.array([1.0, 5.0]), np.array([2.0, 0.0]),
                                                np.array([3.0, 4.0])).tolist() == [1.0, 0.0]
    assert to_numpy([x, y], sp.Max(x, y))(np.array([1.0, 5.0]), np.array([2.0, 0.0])).tolist() == [2.0, 5.0]
    pts = torch.tensor([-1.0, 0.0, 1.0])
    assert to_torch([z], sp.Heaviside(z))(pts).tolist() == [0.0, 0.5, 1.0]
    assert to_torch([z], sp.Heaviside(z, 0))(pts).tolist() == [0.0, 0.0, 1.0]
    assert to_torch([z], sp.Heaviside(z, 1))(pts).tolist() == [0.0, 1.0, 1.0]
    w = torch.tensor([1.0], dtype=torch.float64)
    assert to_torch([x], sp.sqrt(2) * x + sp.log(3))(w).item() == pytest.approx(2**0.5 + np.log(3), rel=1e-15)
    with pytest.raises(TypeError, match=r"^to_torch does not convert matrices"):
        to_torch([x], sp.Matrix([x]))


def test_use_book_printing_renders_mathjax_in_the_books_order():
    code = ("import sympy as sp\nfrom ebm_utils.symbolic import use_book_printing\nuse_book_printing()\n"
            "a, b = sp.symbols('a b')\nb - a")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    data = nb.cells[0].outputs[0]["data"]
    assert data["text/latex"] == r"$\displaystyle b - a$" and "image/png" not in data


def test_constants_become_the_nearest_double_and_defaults_hold():
    import math

    one = torch.tensor([1.0], dtype=torch.float64)
    assert to_torch([x], sp.sqrt(2) * x)(one).item() == math.sqrt(2)  # 17 digits: the nearest double
    assert to_torch([x], sp.log(3) * x)(one).item() == math.log(3)
    assert energy().__name__ == "F" and sp.latex(energy()(W, x)) == r"F_{W}\left(x\right)"
    assert energy("G").__module__ == "ebm_utils.symbolic"
    assert book_latex(sp.Symbol("a"), mode="inline") == "$a$"  # settings reach the printer
    with pytest.raises(ValueError, match=r"^order must be a positive int, got True$"):
        derivative(x, x, True)
