"""How a derivation chain shows itself: the rendered LaTeX block and the plain-text repr, exactly."""
from __future__ import annotations

import sympy as sp

from ebm_utils.derivation import Derivation

x = sp.Symbol("x", real=True)


def _chain(lhs=None) -> Derivation:
    return Derivation(sp.exp(x) * sp.exp(-x), lhs=lhs).step(sp.Integer(1), because="exponents add").step(
        sp.cos(x) ** 2 + sp.sin(x) ** 2, because="Pythagoras")


def test_latex_names_the_left_side_once_and_separates_lines():
    assert _chain(sp.Symbol("L")).latex() == (
        r"\begin{aligned}L &= 1 && \text{definition} \\ "
        r" &= 1 && \text{exponents add; proved} \\ "
        r" &= \sin^{2}{\left(x \right)} + \cos^{2}{\left(x \right)} && \text{Pythagoras; proved}\end{aligned}")
    assert _chain().latex() == (
        r"\begin{aligned} &= 1 && \text{definition} \\ "
        r" &= 1 && \text{exponents add; proved} \\ "
        r" &= \sin^{2}{\left(x \right)} + \cos^{2}{\left(x \right)} && \text{Pythagoras; proved}\end{aligned}")
    assert _chain()._repr_latex_() == "$$" + _chain().latex() + "$$"


def test_repr_lists_each_step_with_its_reason_and_proof():
    assert repr(_chain(sp.Symbol("L"))) == (
        "Derivation of L:\n"
        "    1    [definition; given]\n"
        "  = 1    [exponents add; proved]\n"
        "  = sin(x)**2 + cos(x)**2    [Pythagoras; proved]")
    assert repr(_chain()).splitlines()[0] == "Derivation:"
