r"""The chain rule for losses of one correct and one incorrect answer (chapter 1.3).

Chapter 1.3 differentiates losses of the form
:math:`L(F_W(x, y), F_W(x, \bar y))` that see the energy of one correct answer
:math:`y` and of one incorrect answer :math:`\bar y`.  By the chain rule every
such gradient has the shape

.. math::
    \frac{\partial L}{\partial W}
      = g_1 \, \frac{\partial F_W(x, y)}{\partial W}
      + g_2 \, \frac{\partial F_W(x, \bar y)}{\partial W},

where the outer coefficients :math:`g_1 = \partial L / \partial F_W(x, y)` and
:math:`g_2 = \partial L / \partial F_W(x, \bar y)` depend on the two energies
only.  The pages derive :math:`g_1, g_2` with sympy (1.3(a) simple loss,
1.3(b) log loss, 1.3(c) square-square loss); this module supplies

* :func:`pairwise_symbols`: the shared sympy symbols (:math:`W, x, y, \bar y, m`,
  the abstract energy :math:`F_W`) and plain stand-ins for numerics;
* :func:`gradient_symbol`: a left-hand side printing as
  :math:`\partial L_{\text{name}} / \partial W`;
* :func:`energy_form` and :func:`outer_coefficients`: turn a derived gradient
  into :math:`(g_1, g_2)` as expressions in the two energies, which
  :func:`ebm_utils.symbolic.to_torch` turns into torch functions;
* :func:`chain_rule_gradient`: :math:`\partial L / \partial W` assembled from
  the derived coefficients and a model's per-example
  :math:`\partial F / \partial W` (:meth:`ebm_utils.energies.Energy.grad_w`;
  the pages use :class:`ebm_utils.label_energies.TinyLabelEnergy`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp
import torch
from torch import Tensor

from ._validation import check_instance
from .energies import Energy
from .symbolic import _AbstractEnergy, energy

__all__ = [
    "PairwiseSymbols",
    "pairwise_symbols",
    "gradient_symbol",
    "energy_form",
    "outer_coefficients",
    "chain_rule_gradient",
]


@dataclass(frozen=True)
class PairwiseSymbols:
    r"""Symbols shared by the pairwise-loss derivations of chapter 1.3.

    Attributes:
        F: the abstract energy, called as ``F(W, x, y)`` (prints :math:`F_W(x, y)`).
        W, x, y, ybar: parameter, input, correct and incorrect answer (real).
        m: the margin, positive.
        pos, neg: :math:`F_W(x, y)` and :math:`F_W(x, \bar y)`.
        E_pos, E_neg: plain real symbols standing for the two energy values.
        dE_pos, dE_neg: plain real symbols standing for their derivatives in W.
    """

    F: type
    W: sp.Symbol
    x: sp.Symbol
    y: sp.Symbol
    ybar: sp.Symbol
    m: sp.Symbol
    pos: sp.Expr
    neg: sp.Expr
    E_pos: sp.Symbol
    E_neg: sp.Symbol
    dE_pos: sp.Symbol
    dE_neg: sp.Symbol


def pairwise_symbols() -> PairwiseSymbols:
    """The symbols of chapter 1.3 (a fresh but equal set on every call)."""
    F = energy("F")
    W, x, y, ybar = sp.symbols("W x y ybar", real=True)
    m = sp.Symbol("m", positive=True)
    E_pos, E_neg, dE_pos, dE_neg = sp.symbols("E_pos E_neg dE_pos dE_neg", real=True)
    return PairwiseSymbols(
        F, W, x, y, ybar, m, F(W, x, y), F(W, x, ybar), E_pos, E_neg, dE_pos, dE_neg
    )


class _GradientSymbol(sp.Symbol):
    r"""A symbol printing as :math:`\partial L_{\text{name}} / \partial W`."""

    def _latex(self, printer: Any, exp: Any = None) -> str:
        body = r"\frac{\partial L_{\text{%s}}}{\partial W}" % self.name
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)

    def _sympystr(self, printer: Any) -> str:
        return f"dL_{self.name}/dW"


def gradient_symbol(name: str) -> sp.Symbol:
    r"""The left-hand side :math:`\partial L_{\text{name}} / \partial W` of a derivation."""
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_ " for c in name):
        raise ValueError(f"name must be a short plain word (letters, digits, -, _), got {name!r}")
    return _GradientSymbol(name, real=True)


def energy_form(expr: sp.Expr, s: PairwiseSymbols) -> sp.Expr:
    r"""Replace :math:`F_W(x, y), F_W(x, \bar y)` and their W-derivatives by plain symbols.

    The result is an expression in ``s.E_pos, s.E_neg, s.dE_pos, s.dE_neg`` (and
    ``s.m``) that :func:`ebm_utils.symbolic.to_torch` can convert.

    Raises:
        ValueError: if an abstract energy or a derivative other than these remains.
    """
    expr = sp.sympify(expr)
    out = expr.xreplace(
        {
            sp.Derivative(s.pos, s.W): s.dE_pos,
            sp.Derivative(s.neg, s.W): s.dE_neg,
        }
    ).xreplace({s.pos: s.E_pos, s.neg: s.E_neg})
    left = out.atoms(_AbstractEnergy) | out.atoms(sp.Derivative)
    if left:
        shown = ", ".join(sorted(sp.sstr(a) for a in left))
        raise ValueError(f"energy_form could not replace: {shown}")
    return out


def outer_coefficients(expr: sp.Expr, s: PairwiseSymbols) -> tuple[sp.Expr, sp.Expr]:
    r"""The coefficients :math:`(g_1, g_2)` of a gradient :math:`g_1 \partial_W F_W(x, y) + g_2 \partial_W F_W(x, \bar y)`.

    Raises:
        ValueError: if ``expr`` is not of that form (a term without a model
            derivative, or a coefficient that itself contains one).
    """
    e = sp.expand(energy_form(expr, s))
    g1, g2 = e.coeff(s.dE_pos), e.coeff(s.dE_neg)
    rest = sp.simplify(e - g1 * s.dE_pos - g2 * s.dE_neg)
    if rest != 0 or g1.has(s.dE_pos, s.dE_neg) or g2.has(s.dE_pos, s.dE_neg):
        raise ValueError(
            "the gradient is not linear in dF_W(x, y)/dW and dF_W(x, ybar)/dW: "
            f"remainder {sp.sstr(rest)}"
        )
    return g1, g2


def chain_rule_gradient(
    g_pos: Callable[[Tensor, Tensor], Tensor],
    g_neg: Callable[[Tensor, Tensor], Tensor],
    model: Energy,
    w: Tensor,
    x: Tensor | None,
    y: Tensor,
    ybar: Tensor,
) -> Tensor:
    r"""The mean over a batch of :math:`g_1 \partial_W F_W(x, y) + g_2 \partial_W F_W(x, \bar y)`.

    ``g_pos(E_pos, E_neg)`` and ``g_neg(E_pos, E_neg)`` are the *derived*
    outer coefficients (functions of the two energies, ``[B]`` each);
    ``model`` is an :class:`ebm_utils.energies.Energy`.  Only the model's own
    derivatives :math:`\partial F / \partial W` (:meth:`~ebm_utils.energies.Energy.grad_w`)
    come from autograd, so the result tests the derivation when compared with
    autograd of the whole loss (loss reduction ``"mean"``).
    """
    check_instance(model, Energy, "model")
    w = model.check_w(w).detach()
    if y.shape != ybar.shape:
        raise ValueError(f"y and ybar must have the same shape, got {tuple(y.shape)} and {tuple(ybar.shape)}")
    jac_pos = model.grad_w(w, x, y)  # [B, P]
    jac_neg = model.grad_w(w, x, ybar)
    with torch.no_grad():
        e_pos, e_neg = model(w, x, y), model(w, x, ybar)
        c1 = torch.as_tensor(g_pos(e_pos, e_neg), dtype=w.dtype).expand_as(e_pos)
        c2 = torch.as_tensor(g_neg(e_pos, e_neg), dtype=w.dtype).expand_as(e_pos)
    return (c1[:, None] * jac_pos + c2[:, None] * jac_neg).mean(dim=0)
