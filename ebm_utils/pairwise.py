r"""Pairwise (one correct, one incorrect answer) losses: symbols, a tiny model, the chain rule.

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
  into :math:`(g_1, g_2)` as expressions in the two energies, and
  :func:`coefficient_to_torch` into torch functions;
* :class:`TinyEnergy`: a small nonlinear energy :math:`F_W(x, y)` with a flat
  parameter vector, so that :func:`ebm_utils.checks.check_gradient` can test
  the chain rule on a real model;
* :func:`chain_rule_gradient`: :math:`\partial L / \partial W` assembled from
  the derived coefficients and the model's :math:`\partial F / \partial W`;
* :func:`one_sided_derivatives`: left and right difference quotients, for kinks.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp
import torch
from torch import Tensor

from .symbolic import _AbstractEnergy, _BookTorchPrinter, _check_args, energy, indicator

__all__ = [
    "PairwiseSymbols",
    "pairwise_symbols",
    "gradient_symbol",
    "energy_form",
    "outer_coefficients",
    "TinyEnergy",
    "chain_rule_gradient",
    "one_sided_derivatives",
    "coefficient_to_torch",
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


class _PairwiseTorchPrinter(_BookTorchPrinter):
    """The book's torch printer with the step functions' argument parenthesised.

    ``indicator._torchcode`` and ``_BookTorchPrinter._print_Heaviside`` in
    :mod:`ebm_utils.symbolic` print ``z.dtype`` without parentheses, so a
    compound argument such as ``m - E_neg`` becomes ``-E_neg + m.dtype``
    (a TypeError).  This printer intercepts both until that is fixed there.
    """

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if isinstance(expr, (indicator, sp.Heaviside)):
            z = super()._print(expr.args[0])
            if isinstance(expr, indicator):
                at_zero = 0.0  # the value torch.relu's gradient takes at its kink
            else:  # sympy's Heaviside(z) is 1/2 at 0 unless a second argument says otherwise
                at_zero = float(expr.args[1]) if len(expr.args) > 1 else 0.5
            step = f"(({z}) > 0).to(({z}).dtype)"
            if at_zero == 0.0:
                return f"({step})"
            return f"({step} + {at_zero!r} * (({z}) == 0).to(({z}).dtype))"
        return super()._print(expr, **kwargs)


def coefficient_to_torch(args: Any, expr: sp.Expr) -> Callable[..., Any]:
    """Like :func:`ebm_utils.symbolic.to_torch`, but safe for step functions of compound arguments.

    Used to turn the outer coefficients :math:`g_1, g_2` of 1.3(a) and 1.3(c),
    which contain :math:`\\mathbb{1}[m - F_W(x, \\bar y) > 0]`, into torch functions
    (the result keeps autograd, as ``to_torch`` does).
    """
    args = _check_args(args)
    if isinstance(expr, sp.MatrixBase):
        raise TypeError("coefficient_to_torch does not convert matrices: convert each entry")
    return sp.lambdify(args, expr, modules="torch", printer=_PairwiseTorchPrinter)


class TinyEnergy:
    r"""A small nonlinear energy with a flat parameter vector (for gradient checks).

    .. math::
        F_W(x, y) = v_y^\top \tanh(A x + b) + c_y,

    with :math:`A \in \mathbb{R}^{h \times d}`, :math:`b \in \mathbb{R}^h`,
    :math:`v_y \in \mathbb{R}^h` and :math:`c_y \in \mathbb{R}` for each of
    ``n_labels`` answers, all packed in one 1-D tensor ``w`` (so that
    :func:`ebm_utils.checks.check_gradient` can perturb it).  Used by the
    pages of chapter 1.3.
    """

    def __init__(self, dim: int = 2, n_labels: int = 3, hidden: int = 4) -> None:
        for name, v in (("dim", dim), ("n_labels", n_labels), ("hidden", hidden)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if n_labels < 2:
            raise ValueError(f"a pairwise loss needs at least 2 labels, got n_labels={n_labels}")
        self.dim, self.n_labels, self.hidden = dim, n_labels, hidden
        self.num_params = hidden * dim + hidden + n_labels * hidden + n_labels

    def init(self, seed: int = 0, scale: float = 1.0) -> Tensor:
        """Seeded standard-normal parameters times ``scale`` (float64)."""
        g = torch.Generator().manual_seed(seed)
        return scale * torch.randn(self.num_params, generator=g, dtype=torch.float64)

    def _unpack(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if not isinstance(w, Tensor) or w.dim() != 1 or w.numel() != self.num_params:
            shape = tuple(w.shape) if isinstance(w, Tensor) else type(w).__name__
            raise ValueError(f"w must be a 1-D tensor of {self.num_params} parameters, got {shape}")
        h, d, n = self.hidden, self.dim, self.n_labels
        A, rest = w[: h * d].reshape(h, d), w[h * d :]
        b, rest = rest[:h], rest[h:]
        V, c = rest[: n * h].reshape(n, h), rest[n * h :]
        return A, b, V, c

    def __call__(self, w: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Energies ``[B]`` of the answers ``y`` (ints ``[B]``) for inputs ``x`` (``[B, dim]``)."""
        A, b, V, c = self._unpack(w)
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape [B, {self.dim}], got {getattr(x, 'shape', x)}")
        if not isinstance(y, Tensor) or y.dtype not in (torch.int32, torch.int64) or y.shape != x.shape[:1]:
            raise ValueError(f"y must be an integer tensor of shape [{x.shape[0]}]")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.n_labels):
            raise ValueError(f"labels must lie in [0, {self.n_labels - 1}]")
        hidden = torch.tanh(x.to(w.dtype) @ A.T + b)  # [B, h]
        return (hidden * V[y]).sum(dim=1) + c[y]


def chain_rule_gradient(
    g_pos: Callable[[Tensor, Tensor], Tensor],
    g_neg: Callable[[Tensor, Tensor], Tensor],
    model: Callable[[Tensor, Tensor, Tensor], Tensor],
    w: Tensor,
    x: Tensor,
    y: Tensor,
    ybar: Tensor,
) -> Tensor:
    r"""The mean over a batch of :math:`g_1 \partial_W F_W(x, y) + g_2 \partial_W F_W(x, \bar y)`.

    ``g_pos(E_pos, E_neg)`` and ``g_neg(E_pos, E_neg)`` are the *derived*
    outer coefficients (functions of the two energies, ``[B]`` each);
    ``model(w, x, y)`` returns energies ``[B]``.  Only the model's own
    derivatives :math:`\partial F / \partial W` come from autograd, so the
    result tests the derivation when compared with autograd of the whole loss
    (loss reduction ``"mean"``).
    """
    if not isinstance(w, Tensor) or w.dim() != 1:
        raise ValueError("w must be a 1-D parameter tensor")
    if y.shape != ybar.shape:
        raise ValueError(f"y and ybar must have the same shape, got {tuple(y.shape)} and {tuple(ybar.shape)}")
    w = w.detach()
    jac_pos = torch.autograd.functional.jacobian(lambda v: model(v, x, y), w)  # [B, P]
    jac_neg = torch.autograd.functional.jacobian(lambda v: model(v, x, ybar), w)
    with torch.no_grad():
        e_pos, e_neg = model(w, x, y), model(w, x, ybar)
        c1 = torch.as_tensor(g_pos(e_pos, e_neg), dtype=w.dtype).expand_as(e_pos)
        c2 = torch.as_tensor(g_neg(e_pos, e_neg), dtype=w.dtype).expand_as(e_pos)
    return (c1[:, None] * jac_pos + c2[:, None] * jac_neg).mean(dim=0)


def one_sided_derivatives(
    f: Callable[[Tensor], Tensor], z0: float, h: float = 1e-6
) -> tuple[float, float]:
    r"""Left and right difference quotients of a scalar function at ``z0`` (float64).

    .. math::
        \left(\frac{f(z_0) - f(z_0 - h)}{h},\ \frac{f(z_0 + h) - f(z_0)}{h}\right)

    At a kink of a piecewise-smooth function they tend to the two different
    one-sided derivatives; where the function is differentiable, to the same value.
    """
    if not (h > 0 and h < 1):
        raise ValueError(f"h must lie in (0, 1), got {h!r}")
    z = torch.tensor(float(z0), dtype=torch.float64)
    f0 = float(f(z))
    return (f0 - float(f(z - h))) / h, (float(f(z + h)) - f0) / h
