"""Symbolic building blocks shared by every derivation in the book.

The book's vocabulary, as sympy objects that differentiate, simplify and print
the way the text writes them:

==========================  ==============================  =========================
object                      meaning                         printed as
==========================  ==============================  =========================
``positive_part(z)``        :math:`\\max(0, z)`             :math:`[z]^+`
``indicator(z)``            1 if z > 0, else 0 (0 at z=0)   :math:`\\mathbb{1}[z > 0]`
``softplus(z)``             :math:`\\log(1 + e^z)`          :math:`\\operatorname{softplus}(z)`
``sigmoid(z)``              :math:`1 / (1 + e^{-z})`        :math:`\\sigma(z)`
``energy("F")(W, x, y)``    an abstract energy              :math:`F_W(x, y)`
==========================  ==============================  =========================

The indicator takes the value 0 at the kink, which is the derivative that
``torch.relu`` reports at 0; ``sympy.diff(Max(0, z), z)`` would give
``Heaviside(z)`` with the value 1/2 there instead.  Derived on the page
"How this book checks itself"; the kink convention is discussed in 1.3(a).

``to_numpy`` and ``to_torch`` turn expressions into functions.  Both print the
functions above with numerically stable code (``logaddexp`` rather than
``log(1 + exp(z))``), and the torch version keeps the autograd graph.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pytorch import TorchPrinter

from ._validation import check_symbols

__all__ = [
    "positive_part",
    "indicator",
    "softplus",
    "sigmoid",
    "energy",
    "label_sum",
    "canonical",
    "to_numpy",
    "to_torch",
    "book_latex",
    "use_book_printing",
]


def _arg_latex(printer: Any, arg: sp.Expr) -> str:
    return printer._print(arg)


class positive_part(sp.Function):
    r"""The positive part :math:`[z]^+ = \max(0, z)`.

    Its derivative is :func:`indicator`, the convention of ``torch.relu``.
    """

    nargs = 1
    is_real = True

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_nonnegative:
            return z
        if z.is_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return indicator(self.args[0])

    def _eval_is_nonnegative(self) -> bool:
        return True

    def _eval_rewrite_as_Max(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Max(0, z)

    def _eval_rewrite_as_Piecewise(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Piecewise((z, z > 0), (0, True))

    def _latex(self, printer: Any, exp: Any = None) -> str:
        body = r"\left[%s\right]^{+}" % _arg_latex(printer, self.args[0])
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)

    def _numpycode(self, printer: Any) -> str:
        return "numpy.maximum(%s, 0)" % printer._print(self.args[0])

    def _torchcode(self, printer: Any) -> str:
        return "torch.relu(%s)" % printer._print(self.args[0])


class indicator(sp.Function):
    r"""The indicator :math:`\mathbb{1}[z > 0]`: 1 for z > 0, and 0 for z <= 0.

    The value 0 at z = 0 matches the gradient ``torch.relu`` takes at its kink.
    """

    nargs = 1
    is_real = True

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_positive:
            return sp.S.One
        if z.is_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.DiracDelta(self.args[0])

    def _eval_rewrite_as_Heaviside(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Heaviside(z, 0)

    def _eval_rewrite_as_Piecewise(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Piecewise((1, z > 0), (0, True))

    def _latex(self, printer: Any, exp: Any = None) -> str:
        body = r"\mathbb{1}\left[%s > 0\right]" % _arg_latex(printer, self.args[0])
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)

    def _numpycode(self, printer: Any) -> str:
        return "numpy.heaviside(%s, 0.0)" % printer._print(self.args[0])

    def _torchcode(self, printer: Any) -> str:
        # A step function: derivative 0 almost everywhere, so no autograd graph.
        z = printer._print(self.args[0])
        return "((%s) > 0).to((%s).dtype)" % (z, z)


class sigmoid(sp.Function):
    r"""The logistic sigmoid :math:`\sigma(z) = 1 / (1 + e^{-z})`."""

    nargs = 1
    is_real = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    def _eval_rewrite_as_exp(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-z))

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        if self.args[0].is_number:
            return self.rewrite(sp.exp)._eval_evalf(prec)
        return None

    def _latex(self, printer: Any, exp: Any = None) -> str:
        body = r"\sigma\left(%s\right)" % _arg_latex(printer, self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def _numpycode(self, printer: Any) -> str:
        # exp(-logaddexp(0, -z)) never overflows.
        return "numpy.exp(-numpy.logaddexp(0, -(%s)))" % printer._print(self.args[0])

    def _torchcode(self, printer: Any) -> str:
        return "torch.sigmoid(%s)" % printer._print(self.args[0])


class softplus(sp.Function):
    r"""The softplus :math:`\log(1 + e^z)`, a smooth version of :math:`[z]^+`.

    Its derivative is :func:`sigmoid`.
    """

    nargs = 1
    is_real = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_log(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.log(1 + sp.exp(z))

    def _eval_rewrite_as_exp(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.log(1 + sp.exp(z))

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        if self.args[0].is_number:
            return self.rewrite(sp.exp)._eval_evalf(prec)
        return None

    def _latex(self, printer: Any, exp: Any = None) -> str:
        body = r"\operatorname{softplus}\left(%s\right)" % _arg_latex(printer, self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def _numpycode(self, printer: Any) -> str:
        return "numpy.logaddexp(0, %s)" % printer._print(self.args[0])

    def _torchcode(self, printer: Any) -> str:
        z = printer._print(self.args[0])
        return "torch.logaddexp(torch.zeros_like(%s), %s)" % (z, z)


class _AbstractEnergy(sp.Function):
    """An undefined energy applied as ``F(W, x, y)``; prints as F_W(x, y)."""

    is_real = True

    def _latex(self, printer: Any, exp: Any = None) -> str:
        head, *rest = self.args
        name = type(self).__name__
        body = r"%s_{%s}\left(%s\right)" % (
            name,
            printer._print(head),
            ", ".join(printer._print(a) for a in rest),
        )
        return body if exp is None else r"%s^{%s}" % (body, exp)


def energy(name: str = "F") -> type[sp.Function]:
    r"""An abstract energy :math:`F_W(x, y)`: call it as ``F(W, x, y)``.

    The first argument is the parameter and prints as a subscript. The
    function is left undefined, so ``sp.diff(F(W, x, y), W)`` stays the
    symbolic :math:`\partial F_W(x, y) / \partial W` that the chapters reason
    with.  :class:`ebm_utils.derivation.Derivation` replaces it by random
    concrete smooth functions when it has to test a step numerically.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"energy name must be an identifier, got {name!r}")
    return type(name, (_AbstractEnergy,), {"__module__": __name__})


def label_sum(term: sp.Expr, index: sp.Symbol, n: int | sp.Expr) -> sp.Expr:
    r"""The sum of ``term`` over labels ``index = 1, ..., n``.

    For an integer ``n`` the sum is written out term by term (``n`` terms,
    e.g. ``F_W(x, 1) + F_W(x, 2) + F_W(x, 3)``); for a symbolic ``n`` it is an
    unevaluated ``sympy.Sum`` that sympy differentiates term-wise.
    """
    if not isinstance(index, sp.Symbol):
        raise TypeError(f"index must be a sympy Symbol, got {type(index).__name__}")
    if isinstance(n, int) and not isinstance(n, bool):
        if n < 1:
            raise ValueError(f"need at least one label, got n={n}")
        return sp.Add(*[term.xreplace({index: sp.Integer(i)}) for i in range(1, n + 1)])
    if isinstance(n, sp.Expr):
        return sp.Sum(term, (index, 1, n))
    raise TypeError(f"n must be an int or a sympy expression, got {type(n).__name__}")


def canonical(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``expr`` into the forms sympy simplifies best.

    * :func:`positive_part`, :func:`indicator`, ``Heaviside`` and
      ``Max``/``Min`` become ``Piecewise``, then nested piecewise expressions
      are folded.  Heaviside keeps its value at 0: ``Heaviside(z)`` (1/2 at
      0, sympy's default), ``Heaviside(z, 0)`` (= :func:`indicator`) and
      ``Heaviside(z, 1)`` stay three different functions, so a step that
      swaps one for another is not proved (the kink is where conventions
      matter; page 1.3(a)).
    * :func:`softplus` and :func:`sigmoid` become ``log``/``exp``.
    * Unevaluated derivatives and sums of concrete terms are evaluated.
    """
    expr = sp.sympify(expr)
    expr = expr.replace(
        lambda e: isinstance(e, (positive_part, indicator, sp.Max, sp.Min, sp.Heaviside)),
        lambda e: e.rewrite(sp.Piecewise),
    )
    expr = expr.replace(
        lambda e: isinstance(e, (softplus, sigmoid)), lambda e: e.rewrite(sp.exp)
    )
    expr = expr.doit()
    if expr.has(sp.Piecewise):
        expr = sp.piecewise_fold(expr)
    return expr


class _BookNumPyPrinter(NumPyPrinter):
    def _print_Max(self, expr: sp.Max) -> str:
        return self._reduce("numpy.maximum", expr.args)

    def _print_Min(self, expr: sp.Min) -> str:
        return self._reduce("numpy.minimum", expr.args)

    def _reduce(self, fn: str, args: Sequence[sp.Expr]) -> str:
        code = self._print(args[0])
        for a in args[1:]:
            code = f"{fn}({code}, {self._print(a)})"
        return code


class _BookTorchPrinter(TorchPrinter):
    def _print_Max(self, expr: sp.Max) -> str:
        return self._reduce("torch.maximum", expr.args)

    def _print_Min(self, expr: sp.Min) -> str:
        return self._reduce("torch.minimum", expr.args)

    def _reduce(self, fn: str, args: Sequence[sp.Expr]) -> str:
        # torch.maximum needs tensors on both sides: broadcast constants.
        tensors = [a for a in args if not a.is_number]
        if not tensors:
            return self._print(sp.Max(*args) if fn.endswith("maximum") else sp.Min(*args))
        like = self._print(tensors[0])
        code = self._as_tensor(args[0], like)
        for a in args[1:]:
            code = f"{fn}({code}, {self._as_tensor(a, like)})"
        return code

    def _as_tensor(self, arg: sp.Expr, like: str) -> str:
        if arg.is_number:
            return f"torch.full_like({like}, {float(arg)!r})"
        return self._print(arg)

    def _print_Heaviside(self, expr: sp.Heaviside) -> str:
        z = self._print(expr.args[0])
        h0 = float(expr.args[1]) if len(expr.args) > 1 else 0.5
        return f"((({z}) > 0).to(({z}).dtype) + {h0!r} * (({z}) == 0).to(({z}).dtype))"


def to_numpy(args: Iterable[sp.Symbol], expr: sp.Expr) -> Callable[..., Any]:
    """A numpy function of ``args`` that evaluates ``expr`` stably."""
    args = check_symbols(args)
    return sp.lambdify(args, expr, modules="numpy", printer=_BookNumPyPrinter)


def to_torch(args: Iterable[sp.Symbol], expr: sp.Expr) -> Callable[..., Any]:
    """A torch function of ``args`` that evaluates ``expr`` and keeps autograd.

    Pass tensors; the result is built from torch operations only, so
    ``.backward()`` through it works.  Step functions of compound arguments,
    such as the coefficient :math:`\\mathbb{1}[m - F_W(x, \\bar y) > 0]` of
    pages 1.3(a) and 1.3(c), print with their argument parenthesised.
    Matrices are not supported (sympy's torch printer builds them with
    ``torch.tensor``, which detaches).
    """
    args = check_symbols(args)
    if isinstance(expr, sp.MatrixBase):
        raise TypeError("to_torch does not convert matrices: convert each entry")
    return sp.lambdify(args, _constants_as_floats(sp.sympify(expr)), modules="torch", printer=_BookTorchPrinter)


def _constants_as_floats(expr: sp.Expr) -> sp.Expr:
    """Replace constant subexpressions such as sqrt(2) or log(2) by floats.

    torch functions take tensors, so ``torch.sqrt(2)`` would raise; a Python
    float multiplies a tensor fine.
    """
    return expr.replace(
        lambda e: isinstance(e, sp.Expr) and e.is_number and not e.is_Atom and e.is_real is True,
        lambda e: sp.Float(e.evalf(30), 30),  # printed in full, parsed to the nearest double
    )


# ---------------------------------------------------------------- printing in the book's order
class _BookLatexPrinter(LatexPrinter):
    """sympy's LaTeX printer with the terms of a sum in the order a person writes them.

    Within a sum, terms with a plus sign come first, then those with a minus
    sign, each group in sympy's usual order: :math:`F_2 - F_1` rather than
    :math:`- F_1 + F_2`.
    """

    def _as_ordered_terms(self, expr: sp.Expr, order: Any = None) -> list[sp.Expr]:
        terms = super()._as_ordered_terms(expr, order=order)
        if not isinstance(expr, sp.Add):
            return terms
        plus = [t for t in terms if not t.could_extract_minus_sign()]
        minus = [t for t in terms if t.could_extract_minus_sign()]
        return plus + minus


def book_latex(expr: Any, **settings: Any) -> str:
    """LaTeX of ``expr`` with positive terms first (see :class:`_BookLatexPrinter`)."""
    return _BookLatexPrinter(settings).doprint(expr)


def use_book_printing() -> None:
    """Display sympy objects in notebooks as MathJax LaTeX in the book's term order.

    Calls ``sympy.init_printing`` with :func:`book_latex`; no PNG is embedded
    (``use_latex="mathjax"``), so outputs stay small and comparable by nbval.
    """
    sp.init_printing(use_latex="mathjax", latex_printer=book_latex)

# ---------------------------------------------------------------------------
# Pages 2(a)-2(e): a derivative that prints unambiguously.
__all__ += ["UnevaluatedDerivative", "derivative"]


class UnevaluatedDerivative(sp.Derivative):
    r"""``sympy.Derivative`` (unevaluated) whose LaTeX puts a sum or product argument in parentheses.

    sympy prints ``Derivative(p(y) * F'(y), y)`` as ``d/dy p(y) d/dy F(y)``,
    which reads as a product of two derivatives.  This subclass prints
    :math:`\frac{\partial}{\partial y}\left(p(y)\, \frac{\partial}{\partial y} F(y)\right)`;
    everything else (``doit``, equality, the derivation checker) is sympy's.
    Its printing precedence is that of a product, so a power of it is
    parenthesised: :math:`\left(\frac{\partial}{\partial y} F(y)\right)^{2}`.
    """

    precedence = 50  # sympy's PRECEDENCE["Mul"]

    def _latex(self, printer: Any) -> str:
        inner = printer._print(self.expr)
        if isinstance(self.expr, (sp.Mul, sp.Add, sp.Pow)):
            inner = rf"\left({inner}\right)"
        ops = []
        for var, count in self.variable_count:
            v = printer._print(var)
            ops.append(rf"\frac{{\partial}}{{\partial {v}}}" if count == 1
                       else rf"\frac{{\partial^{{{count}}}}}{{\partial {v}^{{{count}}}}}")
        return " ".join(ops) + " " + inner


def derivative(expr: sp.Expr, var: sp.Symbol, order: int = 1) -> UnevaluatedDerivative:
    """The unevaluated ``order``-th derivative of ``expr`` in ``var``, printed unambiguously."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive int, got {order!r}")
    return UnevaluatedDerivative(sp.sympify(expr), (var, order))
