"""The derivation chain accepts true steps and refuses false ones, both ways."""
from __future__ import annotations

import pytest
import sympy as sp

from ebm_utils.derivation import Derivation, DerivationError
from ebm_utils.symbolic import energy, indicator, label_sum, positive_part, sigmoid, softplus

W, x, y, ybar, u = sp.symbols("W x y ybar u", real=True)
m = sp.Symbol("m", nonnegative=True)
beta = sp.Symbol("beta", positive=True)
k = sp.Symbol("k", integer=True, positive=True)
j = sp.Symbol("j", integer=True, positive=True)
n = sp.Symbol("n", integer=True, positive=True)
F = energy("F")


def test_true_chain_is_proved_symbolically():
    d = (
        Derivation(sp.diff(softplus(u), u), lhs=sp.Symbol("g"))
        .step(sp.exp(u) / (1 + sp.exp(u)), because="derivative of log(1 + exp(u))")
        .step(1 / (1 + sp.exp(-u)), because="divide by exp(u)")
        .step(sigmoid(u), because="definition of sigma")
    )
    assert [s.proof for s in d.steps] == ["given", "proved", "proved", "proved"]
    assert d.result == sigmoid(u)
    assert d.equation == sp.Eq(sp.Symbol("g"), sigmoid(u), evaluate=False)
    assert len(d) == 4


def test_false_step_refused_symbolically_names_step_and_residual():
    d = Derivation(sp.exp(u) / (1 + sp.exp(u)))
    with pytest.raises(DerivationError, match=r"step 1 \('a slip'\) is refused") as err:
        d.step(sp.exp(u) / (1 + sp.exp(u)) ** 2, because="a slip")
    assert "simplifies to" in str(err.value) or "at the point" in str(err.value)
    assert len(d) == 1  # the chain is unchanged


def test_kink_convention_simple_loss_gradient():
    loss = positive_part(F(W, x, y)) + positive_part(m - F(W, x, ybar))
    hand = indicator(F(W, x, y)) * sp.diff(F(W, x, y), W) - indicator(m - F(W, x, ybar)) * sp.diff(
        F(W, x, ybar), W
    )
    d = Derivation(sp.diff(loss, W)).step(hand, because="chain rule")
    assert d.steps[-1].proof == "proved"
    # sympy's Max differentiates to Heaviside(.), 1/2 at 0: not the book's convention
    with pytest.raises(DerivationError, match="on a kink"):
        Derivation(sp.diff(sp.Max(0, F(W, x, y)), W)).step(
            indicator(F(W, x, y)) * sp.diff(F(W, x, y), W), because="relu convention"
        )


def test_wrong_sign_in_gradient_is_refused():
    loss = positive_part(m - F(W, x, ybar))
    with pytest.raises(DerivationError):
        Derivation(sp.diff(loss, W)).step(
            indicator(m - F(W, x, ybar)) * sp.diff(F(W, x, ybar), W), because="lost the minus"
        )


def _normalized_sum():
    Z = sp.Sum(sp.exp(-beta * F(W, x, j)), (j, 1, n))
    return sp.Sum(sp.exp(-beta * F(W, x, k)) / Z, (k, 1, n))


def test_numeric_path_accepts_a_true_step_sympy_cannot_prove():
    d = Derivation(_normalized_sum(), prove=False).step(sp.Integer(1), because="probabilities sum to one")
    assert d.steps[-1].proof == "tested at 12 points"


def test_numeric_path_refuses_a_false_step():
    with pytest.raises(DerivationError, match="at the point"):
        Derivation(_normalized_sum(), prove=False).step(sp.Integer(2), because="a wrong total")


def test_numeric_path_refuses_off_by_one_label_sum():
    Z = label_sum(sp.exp(-beta * F(W, x, k)), k, n)
    loss = F(W, x, y) + sp.log(Z) / beta
    p = sp.exp(-beta * F(W, x, k)) / Z
    d = Derivation(sp.diff(loss, W))
    d.step(sp.diff(F(W, x, y), W) - sp.Sum(p * sp.diff(F(W, x, k), W), (k, 1, n)), because="pull 1/Z in")
    with pytest.raises(DerivationError):
        d.step(sp.diff(F(W, x, y), W) - sp.Sum(p * sp.diff(F(W, x, k), W), (k, 1, n + 1)), because="slip")


def test_numeric_path_respects_assumptions():
    # sqrt(b^2) = b holds only for b >= 0; with a positive symbol it must be accepted
    b = sp.Symbol("b", positive=True)
    Derivation(sp.sqrt(b**2) + sp.Abs(b)).step(2 * b, because="b > 0")
    c = sp.Symbol("c", real=True)
    with pytest.raises(DerivationError):
        Derivation(sp.sqrt(c**2)).step(c, because="only for c >= 0")


def test_rendering_is_aligned_with_reasons_and_proofs():
    d = Derivation(sp.diff(softplus(u), u), lhs=sp.Symbol("g")).step(sigmoid(u), because="chain rule")
    tex = d._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}") and tex.endswith("\\end{aligned}$$")
    assert r"\text{definition}" in tex and r"\text{chain rule; proved}" in tex
    assert r"\sigma\left(u\right)" in tex
    assert "Derivation of g" in repr(d)


def test_reason_must_be_plain_text():
    d = Derivation(u).step(u, because="trivial")
    with pytest.raises(ValueError, match="plain text"):
        d.step(u, because=r"uses $\beta$").latex()


def test_equation_needs_lhs():
    with pytest.raises(ValueError, match="lhs"):
        Derivation(u).equation


def test_trials_validated():
    with pytest.raises(ValueError):
        Derivation(u, trials=0)


def test_numeric_path_evaluates_softplus_and_sigmoid():
    """A true step sympy does not prove must still be decided numerically."""
    d = Derivation(softplus(u) - softplus(-u)).step(u, because="softplus(u) - softplus(-u) = u")
    assert d.steps[-1].proof == "proved" or d.steps[-1].proof.startswith("tested at")
    with pytest.raises(DerivationError):
        Derivation(sigmoid(u) + sigmoid(-u)).step(sp.Integer(2), because="wrong total")
