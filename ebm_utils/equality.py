r"""Deciding one step of a derivation: is the expression ``a`` equal to ``b``?

:class:`ebm_utils.derivation.Derivation` accepts a line only if this module
cannot find a point where it differs from the line before.  Two routes are
taken, and both must agree:

**A randomized test that explores** (:func:`decide`, always run).

* *Abstract functions* (an energy :math:`F_W(x, y)`, any undefined
  ``sympy.Function``) are replaced by random *jets*: at every distinct tuple of
  argument values, the value of the function and each of its partial
  derivatives is an independent random number of either sign with a magnitude
  between about :math:`10^{-2}` and :math:`10^{2}`.  Any finite set of jets at
  distinct points is the jet of some smooth function, so an identity that
  holds for every smooth function holds for these; a false one is caught
  wherever it fails.  Two label symbols that happen to take the same value
  give the *same* argument tuple, hence the same energy.
* *Symbols* honour their assumptions (positive, integer, ...).  Real ones are
  drawn on several scales, :math:`|x|` from about :math:`10^{-3}` to
  :math:`10^{3}`, with both signs where allowed.  Integer ones come from a
  small pool (so that two labels often coincide) or are at least 100.
* *Kinks* -- the points where :func:`~ebm_utils.symbolic.positive_part`,
  :func:`~ebm_utils.symbolic.indicator`, ``Heaviside``, ``Max``/``Min``,
  ``Abs``, ``sign``, a ``Piecewise`` condition or a ``KroneckerDelta``
  switches -- are exercised on purpose: for each one the test solves for one
  variable (a symbol, or the value of an abstract function at one point) to
  put the kink's argument slightly below zero, slightly above zero, and
  exactly on zero.  A step whose kinks were not all seen on both sides is
  refused, and the message names the kink.  On the kink the book's
  conventions matter: ``Heaviside(z, 0)``, ``Heaviside(z, 1/2)`` and
  ``Heaviside(z, 1)`` are different functions.
* Both lines are evaluated with ``mpmath`` at 50 significant digits (no
  overflow, no underflow); a disagreement is confirmed at 100, 200, 400 and
  800 digits before it refuses the step, so rounding never refuses a true
  step, even one that cancels down to 1e-400 (``1 - sigma(z) = sigma(-z)``
  with z near 900).
* *Integrals* are computed by ``mpmath.quad`` (tanh-sinh).  An abstract
  function integrated over one of its arguments cannot be a jet; it becomes a
  random smooth, confining function instead (:class:`_SmoothStandIn`), so that
  integration by parts and normalisation hold as they do for a real energy.
  Quadrature is trusted to about 14 digits, so lines with integrals are
  compared to 10 digits of their integrals' size, at moderate symbol values.

**A symbolic proof** (:func:`symbolic_residual`): the difference of the two
lines in canonical form (:func:`ebm_utils.symbolic.canonical`, which keeps
Heaviside's value at 0) simplifies to 0.  If sympy proves the difference is
*not* zero, the step is refused at once.

The verdict says honestly what was done: ``"proved"`` when sympy proved the
step (and the random test found no counterexample), otherwise ``"tested at N
points, every branch"`` (or ``"tested at N points"`` when there are no kinks).

Anything the test cannot evaluate -- an unknown kind of function, an
unevaluated integral, a symbol with assumptions it cannot honour, conditions
no point satisfies -- raises :class:`DerivationError` naming the offending
subexpression.  The page "How this book checks itself" shows the machinery;
``tests/test_derivation_adversarial.py`` feeds it false steps.
"""
from __future__ import annotations

import builtins
import functools
import itertools
import random
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.pycode import MpmathPrinter

from .seeding import python_rng
from .symbolic import _AbstractEnergy, canonical, indicator, positive_part, sigmoid, softplus

__all__ = ["DerivationError", "Verdict", "decide", "symbolic_residual"]

#: digits used to evaluate both lines, and to confirm a disagreement
EVAL_DIGITS = 50
CONFIRM_DIGITS = 100
#: ... and, if the disagreement persists, at these (a cancellation below 1e-100 is still rounding)
ESCALATE_DIGITS = (200, 400, 800)
#: two values agree when |a - b| <= AGREE * max(|a|, |b|) (relative, at EVAL_DIGITS)
AGREE = mpmath.mpf("1e-25")
#: ... or when their difference shrinks by this factor at CONFIRM_DIGITS (it was rounding)
ROUNDING_SHRINK = mpmath.mpf("1e-20")
#: on a point solved onto a kink, a kink argument within this of 0 *is* 0
SNAP = mpmath.mpf("1e-25")
#: digits used while solving for a kink
SOLVE_DIGITS = 110


class DerivationError(ValueError):
    """A step of a derivation is false, or cannot be decided."""


@dataclass(frozen=True)
class Verdict:
    """How a step was decided: proved by sympy, or tested at ``points`` points.

    ``kinks`` names every kink of the two lines (all of them were exercised on
    both sides, and on the kink wherever one variable could be solved for).
    """

    proved: bool
    points: int
    kinks: tuple[str, ...]

    @property
    def label(self) -> str:
        if self.proved:
            return "proved"
        if self.kinks:
            return f"tested at {self.points} points, every branch"
        return f"tested at {self.points} points"


# --------------------------------------------------------------------------- symbolic route
class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _Timeout after ``seconds`` of this process's CPU time.

    CPU time, not wall time (``ITIMER_PROF``): a loaded machine slows the
    clock on the wall, not the work sympy does, so the guard trips for the
    same steps everywhere.  Only where signals work: the main thread on Unix.
    """
    usable = hasattr(signal, "SIGPROF") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGPROF, handler)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


@functools.lru_cache(maxsize=512)
def symbolic_residual(a: sp.Expr, b: sp.Expr, seconds: float = 10.0) -> sp.Expr | None:
    """The simplified canonical difference ``a - b``, or None if sympy ran out of time.

    Cached: the same pair of lines is simplified once per process.
    """
    try:
        with _time_limit(seconds):
            r = canonical(sp.sympify(a) - sp.sympify(b))
            if r == 0:
                return sp.S.Zero
            r = sp.simplify(r)
            if r != 0 and r.has(sp.Piecewise):
                r = sp.simplify(sp.piecewise_fold(r))
            return r
    except _Timeout:
        return None


# --------------------------------------------------------------------------- jets
class _JetBase(sp.Function):
    """The value (``slots == ()``) or a partial derivative of an abstract function.

    ``slots`` lists the argument positions differentiated (sorted, so mixed
    partials commute).  Printed as a lookup into the random jet table.
    """

    fname: str = ""
    slots: tuple[int, ...] = ()
    is_real = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return _jet_class(self.fname, tuple(sorted(self.slots + (argindex - 1,))))(*self.args)


@functools.cache
def _jet_class(fname: str, slots: tuple[int, ...]) -> type[_JetBase]:
    tag = "_".join(str(s) for s in slots)
    return type(f"_jet_{fname}_{tag}", (_JetBase,), {"fname": fname, "slots": slots, "__module__": __name__})


def _is_abstract(e: sp.Basic) -> bool:
    return isinstance(e, (AppliedUndef, _AbstractEnergy)) and not isinstance(e, _JetBase)


def _smooth_names(expr: sp.Basic) -> set[str]:
    """Abstract functions integrated over one of their arguments (they need to be functions)."""
    names: set[str] = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Integral):
            variables = {lim[0] for lim in node.limits}
            for app in node.function.atoms(AppliedUndef, _AbstractEnergy):
                if app.free_symbols & variables:
                    names.add(type(app).__name__)
    return names


class _SmoothStandIn:
    r"""A random smooth function for an abstract function that a line integrates.

    .. math::
        f(a) = o + s \sum_{j=1}^{3} \alpha_j \sin(b_j \cdot a + \varphi_j)
               + \sum_i \kappa_i a_i^2,\qquad \kappa_i > 0,

    confining (so that :math:`\int e^{-\beta f}` is finite) and smooth in every
    argument; its parameters are drawn afresh at every test point, the offset
    :math:`o` with either sign and a magnitude from about 1e-2 to 1e2.
    """

    def __init__(self, name: str, nargs: int) -> None:
        self.name, self.nargs = name, nargs
        sym = lambda tag: sp.Symbol(f"_ebm_p_{name}_{tag}", real=True)  # noqa: E731
        self.offset, self.scale = sym("o"), sym("s")
        self.alpha = [sym(f"alpha{j}") for j in range(3)]
        self.phase = [sym(f"phi{j}") for j in range(3)]
        self.freq = [[sym(f"b{j}_{i}") for i in range(nargs)] for j in range(3)]
        self.kappa = [sym(f"kappa{i}") for i in range(nargs)]

    @property
    def params(self) -> list[sp.Symbol]:
        return [self.offset, self.scale, *self.alpha, *self.phase,
                *[b for row in self.freq for b in row], *self.kappa]

    def __call__(self, *args: sp.Expr) -> sp.Expr:
        if len(args) != self.nargs:
            raise DerivationError(
                f"the abstract function {self.name} is called with {len(args)} and with "
                f"{self.nargs} arguments"
            )
        waves = sum(a * sp.sin(sum(b * x for b, x in zip(row, args)) + ph)
                    for a, row, ph in zip(self.alpha, self.freq, self.phase))
        return self.offset + self.scale * waves + sum(k * x**2 for k, x in zip(self.kappa, args))

    def draw(self, rng: random.Random) -> dict[sp.Symbol, Any]:
        sign = lambda: 1 if rng.random() < 0.5 else -1  # noqa: E731
        out: dict[sp.Symbol, Any] = {
            self.offset: sign() * _random_magnitude(rng, -2.0, 2.0),
            self.scale: sign() * _random_magnitude(rng, -1.0, 0.0),
        }
        for a in self.alpha:
            out[a] = mpmath.mpf(rng.uniform(-1, 1))
        for ph in self.phase:
            out[ph] = mpmath.mpf(rng.uniform(-3.1, 3.1))
        for row in self.freq:
            for b in row:
                out[b] = mpmath.mpf(rng.uniform(-1, 1))
        for k in self.kappa:
            out[k] = mpmath.mpf(rng.uniform(0.3, 1.0))
        return out


def _with_jets(expr: sp.Expr, smooth: dict[str, _SmoothStandIn] | None = None) -> sp.Expr:
    """Abstract functions replaced by jets (or smooth stand-ins), derivatives carried out."""
    smooth = smooth or {}

    def stand_in(a: sp.Expr) -> sp.Expr:
        name = type(a).__name__
        if name in smooth:
            return smooth[name](*a.args)
        return _jet_class(name, ())(*a.args)

    e = expr.replace(_is_abstract, stand_in)
    for _ in range(3):  # derivatives of sums contain derivatives again
        if not e.has(sp.Derivative, sp.Subs):
            break
        e = e.replace(lambda a: isinstance(a, (sp.Derivative, sp.Subs)), lambda a: a.doit())
    return e


# --------------------------------------------------------------------------- kinks
@dataclass
class _Kink:
    """One place where the lines switch branch: the sign of ``arg`` decides."""

    id: int
    arg: sp.Expr  # canonical sign: the kink is where arg == 0
    shown: str  # the node it came from, for messages
    orient: int  # +1 if ``arg`` has the sign of the first node's argument, else -1
    argument: str  # the first node's argument, for messages
    equality: bool  # True: sides are "equal" / "different" (KroneckerDelta, Eq)
    bound: tuple[tuple[sp.Symbol, sp.Expr, sp.Expr], ...]  # enclosing sums (index, low, high)


def _oriented(g: sp.Expr) -> tuple[sp.Expr, int]:
    """``g`` or ``-g``, whichever sorts first, and the sign relating them."""
    g = sp.expand(g)
    neg = sp.expand(-g)
    if sp.default_sort_key(neg) < sp.default_sort_key(g):
        return neg, -1
    return g, 1


_UNARY_KINKS = (positive_part, indicator, sp.Heaviside, sp.Abs, sp.sign, sp.DiracDelta)


def _kink_args(node: sp.Basic) -> list[tuple[sp.Expr, bool]]:
    """The (argument, is-equality) pairs of the kinks of one node."""
    if isinstance(node, _UNARY_KINKS):
        return [(node.args[0], False)]
    if isinstance(node, (sp.Max, sp.Min)):
        a = node.args
        return [(a[i] - a[j], False) for i in range(len(a)) for j in range(i + 1, len(a))]
    if isinstance(node, sp.KroneckerDelta):
        return [(node.args[0] - node.args[1], True)]
    if isinstance(node, sp.core.relational.Relational):
        return [(node.lhs - node.rhs, isinstance(node, (sp.Eq, sp.Ne)))]
    return []


class _KinkTable:
    def __init__(self, back: dict[sp.Symbol, sp.Symbol] | None = None) -> None:
        self.kinks: list[_Kink] = []
        self._index: dict[sp.Expr, int] = {}
        self.back = back or {}  # compiled dummies -> the symbols they stand for

    def collect(self, expr: sp.Expr) -> None:
        self._walk(expr, ())

    def _walk(self, node: sp.Basic, bound: tuple[tuple[sp.Symbol, sp.Expr, sp.Expr], ...]) -> None:
        for g, equality in _kink_args(node):
            self.lookup(g, node, equality, bound)
        if isinstance(node, (sp.Sum, sp.Product)):
            inner = bound + tuple((i, lo, hi) for i, lo, hi in node.limits)
            self._walk(node.function, inner)
            for _, lo, hi in node.limits:
                self._walk(lo, bound)
                self._walk(hi, bound)
            return
        for arg in node.args:
            if isinstance(arg, sp.Basic):
                self._walk(arg, bound)

    def lookup(
        self, g: sp.Expr, node: sp.Basic, equality: bool = False, bound: tuple = ()
    ) -> tuple[int, int]:
        """The id of the kink with argument ``g`` and the sign relating ``g`` to it."""
        arg, sign = _oriented(g)
        if arg not in self._index:
            self._index[arg] = len(self.kinks)
            self.kinks.append(_Kink(len(self.kinks), arg, _shown(node, self.back), sign,
                                    _shown(g, self.back), equality, bound))
        return self._index[arg], sign


def _shown(node: sp.Basic, back: dict[sp.Symbol, sp.Symbol] | None = None) -> str:
    s = sp.sstr(_without_jets(node).xreplace(back or {}))
    return s if len(s) <= 120 else s[:117] + "..."


def _without_jets(e: sp.Basic) -> sp.Basic:
    """Jets printed back as the functions (and derivatives) they stand for."""

    def back(j: _JetBase) -> sp.Expr:
        f = sp.Function(j.fname)(*j.args)
        if not j.slots:
            return f
        vars_ = [j.args[s] for s in j.slots]
        if all(isinstance(v, sp.Symbol) for v in vars_):
            return sp.Derivative(f, *vars_)
        return sp.Symbol(f"d{j.fname}{list(j.slots)}")

    return e.replace(lambda a: isinstance(a, _JetBase), back) if isinstance(e, sp.Basic) else e


# --------------------------------------------------------------------------- evaluation context
class _Undefined(Exception):
    """A line has no value at this point (division by zero, a delta on its support...)."""


@dataclass
class _Point:
    values: dict[sp.Symbol, Any]
    jets: dict[tuple, Any] = field(default_factory=dict)
    on_kink: bool = False  # solved onto a kink: snap near-zero kink arguments

    def copy(self) -> _Point:
        return _Point(dict(self.values), dict(self.jets), self.on_kink)


class _Context:
    """What the compiled lines see while they run (one evaluation at a time)."""

    def __init__(self) -> None:
        self.point: _Point | None = None
        self.rng: random.Random = python_rng(0, salt="equality context")
        self.seen: dict[int, set[int]] = {}
        self.accessed: set[tuple] | None = None
        self.quad_scale: Any = 0  # largest integral of |f| met while evaluating


_CTX = _Context()


def _argkey(a: Any) -> Any:
    if isinstance(a, mpmath.mpf) and mpmath.isint(a):
        return int(a)
    if isinstance(a, mpmath.mpf):
        return mpmath.nstr(a, 40)
    return a


def _random_magnitude(rng: random.Random, low: float, high: float) -> mpmath.mpf:
    return mpmath.mpf(10) ** mpmath.mpf(rng.uniform(low, high))


def _jet(fname: str, slots: tuple[int, ...], *args: Any) -> Any:
    ctx = _CTX
    key = (fname, slots, tuple(_argkey(a) for a in args))
    jets = ctx.point.jets  # type: ignore[union-attr]
    if key not in jets:
        sign = 1 if ctx.rng.random() < 0.5 else -1
        jets[key] = sign * _random_magnitude(ctx.rng, -2.0, 2.0)
    if ctx.accessed is not None:
        ctx.accessed.add(key)
    return jets[key]


class _KinkHelpers:
    """Kink functions as the compiled lines call them: record the side, then switch."""

    @staticmethod
    def _side(kid: int, orient: int, z: Any) -> int:
        if isinstance(z, mpmath.mpc):
            if abs(z.imag) > SNAP * (1 + abs(z.real)):
                raise _Undefined
            z = z.real
        if _CTX.point is not None and _CTX.point.on_kink and abs(z) <= SNAP:
            s = 0
        else:
            s = 1 if z > 0 else -1 if z < 0 else 0
        _CTX.seen.setdefault(kid, set()).add(s * orient)
        return s

    @classmethod
    def pp(cls, kid: int, orient: int, z: Any) -> Any:
        return z if cls._side(kid, orient, z) > 0 else mpmath.mpf(0)

    @classmethod
    def ind(cls, kid: int, orient: int, z: Any) -> Any:
        return mpmath.mpf(1) if cls._side(kid, orient, z) > 0 else mpmath.mpf(0)

    @classmethod
    def heaviside(cls, kid: int, orient: int, z: Any, at_zero: Any) -> Any:
        s = cls._side(kid, orient, z)
        if s == 0:
            if at_zero is None:
                raise _Undefined
            return at_zero
        return mpmath.mpf(1) if s > 0 else mpmath.mpf(0)

    @classmethod
    def abs(cls, kid: int, orient: int, z: Any) -> Any:
        s = cls._side(kid, orient, z)
        return mpmath.mpf(0) if s == 0 else abs(z)

    @classmethod
    def sign(cls, kid: int, orient: int, z: Any) -> Any:
        return mpmath.mpf(cls._side(kid, orient, z))

    @classmethod
    def dirac(cls, kid: int, orient: int, z: Any) -> Any:
        if cls._side(kid, orient, z) == 0:
            raise _Undefined
        return mpmath.mpf(0)

    @classmethod
    def kd(cls, kid: int, orient: int, i: Any, j: Any) -> Any:
        return mpmath.mpf(1) if cls._side(kid, orient, i - j) == 0 else mpmath.mpf(0)

    @classmethod
    def extreme(cls, pick: str, pairs: Sequence[tuple[int, int, int, int]], *args: Any) -> Any:
        """Max or Min: record every pairwise comparison, return the extreme value."""
        for kid, orient, i, j in pairs:
            cls._side(kid, orient, args[i] - args[j])
        best = args[0]
        for a in args[1:]:
            if (a > best) if pick == "max" else (a < best):
                best = a
        return best

    @classmethod
    def rel(cls, kid: int, orient: int, op: str, lhs: Any, rhs: Any) -> bool:
        s = cls._side(kid, orient, lhs - rhs)
        return {
            ">": s > 0, ">=": s >= 0, "<": s < 0, "<=": s <= 0, "==": s == 0, "!=": s != 0,
        }[op]


_RELOPS = {"StrictGreaterThan": ">", "GreaterThan": ">=", "StrictLessThan": "<",
           "LessThan": "<=", "Equality": "==", "Unequality": "!="}


class _Printer(MpmathPrinter):
    """mpmath code for a line: jets become table lookups, kinks record their side."""

    def __init__(self, table: _KinkTable) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True,
                          "allow_unknown_functions": False, "user_functions": {}, "strict": False})
        self.table = table

    def _kink(self, node: sp.Basic, g: sp.Expr, equality: bool = False) -> str:
        kid, orient = self.table.lookup(g, node, equality)
        return f"{kid}, {orient}"

    def _print__JetBase(self, e: _JetBase) -> str:
        args = ", ".join(self._print(a) for a in e.args)
        return f"_J({e.fname!r}, {e.slots!r}, {args})"

    def _print_positive_part(self, e: sp.Expr) -> str:
        return f"_K.pp({self._kink(e, e.args[0])}, {self._print(e.args[0])})"

    def _print_indicator(self, e: sp.Expr) -> str:
        return f"_K.ind({self._kink(e, e.args[0])}, {self._print(e.args[0])})"

    def _print_Heaviside(self, e: sp.Expr) -> str:
        at_zero = self._print(e.args[1]) if len(e.args) > 1 else "None"
        return f"_K.heaviside({self._kink(e, e.args[0])}, {self._print(e.args[0])}, {at_zero})"

    def _print_Abs(self, e: sp.Expr) -> str:
        return f"_K.abs({self._kink(e, e.args[0])}, {self._print(e.args[0])})"

    def _print_sign(self, e: sp.Expr) -> str:
        return f"_K.sign({self._kink(e, e.args[0])}, {self._print(e.args[0])})"

    def _print_DiracDelta(self, e: sp.Expr) -> str:
        if len(e.args) > 1 and e.args[1] != 0:
            return self._print_not_supported(e)
        return f"_K.dirac({self._kink(e, e.args[0])}, {self._print(e.args[0])})"

    def _print_KroneckerDelta(self, e: sp.Expr) -> str:
        i, j = e.args[:2]
        return f"_K.kd({self._kink(e, i - j, True)}, {self._print(i)}, {self._print(j)})"

    def _extreme(self, e: sp.Expr, pick: str) -> str:
        a = e.args
        pairs = []
        for i in range(len(a)):
            for j in range(i + 1, len(a)):
                kid, orient = self.table.lookup(a[i] - a[j], e)
                pairs.append((kid, orient, i, j))
        args = ", ".join(self._print(x) for x in a)
        return f"_K.extreme({pick!r}, {pairs!r}, {args})"

    def _print_Max(self, e: sp.Expr) -> str:
        return self._extreme(e, "max")

    def _print_Min(self, e: sp.Expr) -> str:
        return self._extreme(e, "min")

    def _print_Relational(self, e: sp.Expr) -> str:
        op = _RELOPS[type(e).__name__]
        kid, orient = self.table.lookup(e.lhs - e.rhs, e, op in ("==", "!="))
        return f"_K.rel({kid}, {orient}, {op!r}, {self._print(e.lhs)}, {self._print(e.rhs)})"

    def _print_softplus(self, e: sp.Expr) -> str:
        return f"mpmath.log1p(mpmath.exp({self._print(e.args[0])}))"

    def _print_sigmoid(self, e: sp.Expr) -> str:
        return f"(1/(1 + mpmath.exp(-({self._print(e.args[0])}))))"

    def _print_Derivative(self, e: sp.Expr) -> str:
        return self._print_not_supported(e)

    def _print_Integral(self, e: sp.Expr) -> str:
        """Nested one-dimensional quadratures; an inaccurate one makes the point undefined."""
        code = self._print(e.function)
        for lim in e.limits:
            if len(lim) != 3:
                return self._print_not_supported(e)
            var, lo, hi = lim
            code = f"_Q(lambda {self._print(var)}: {code}, {self._print(lo)}, {self._print(hi)})"
        return code


#: largest error estimate accepted from a quadrature, relative to the integral of |f|
QUAD_ERROR = mpmath.mpf("1e-14")


def _quad(f: Callable[[Any], Any], lo: Any, hi: Any) -> Any:
    r"""``mpmath.quad`` (tanh-sinh) with an error estimate checked against :math:`\int |f|`.

    mpmath stops on an absolute tolerance, which a tiny integral (say
    :math:`e^{-400}`) meets at once, and an integral that cancels to 0 has no
    relative error: the integrand is rescaled by :math:`\int |f|` first.
    """
    with mpmath.workdps(8):  # the scale needs no accuracy
        scale = +mpmath.quad(lambda t: abs(f(t)), [lo, hi])
    if not mpmath.isfinite(scale):
        raise _Undefined
    if scale == 0:
        return mpmath.mpf(0)
    _CTX.quad_scale = max(_CTX.quad_scale, scale)
    value, error = mpmath.quad(lambda t: f(t) / scale, [lo, hi], error=True)
    if not mpmath.isfinite(value) or error > QUAD_ERROR:
        raise _Undefined
    return value * scale


def _namespace() -> dict[str, Any]:
    return {"_J": _jet, "_K": _KinkHelpers, "_Q": _quad, "mpmath": mpmath, "builtins": builtins}


# --------------------------------------------------------------------------- drawing symbols
def _check_drawable(s: sp.Symbol) -> None:
    if s.is_integer:
        bad = [a for a in ("prime", "composite") if getattr(s, f"is_{a}") is True]
    elif s.is_rational:
        bad = []
    else:
        bad = [a for a in ("irrational", "transcendental", "algebraic", "imaginary")
               if getattr(s, f"is_{a}") is True]
    if bad:
        raise DerivationError(
            f"cannot test numerically: symbol {s} is assumed {bad[0]}, which the random test "
            f"cannot honour; use real, positive, nonnegative, integer or rational symbols"
        )
    if s.is_finite is False:
        raise DerivationError(f"cannot test numerically: symbol {s} is assumed infinite")
    if s.is_real is not True:
        raise DerivationError(
            f"cannot test numerically: symbol {s} is not known to be real; the random test "
            f"draws real values only (declare it with real=True, positive=True or integer=True)"
        )


def _allowed_sign(s: sp.Symbol) -> tuple[bool, bool, bool]:
    """(negative allowed, zero allowed, positive allowed) under the symbol's assumptions."""
    neg = s.is_nonnegative is not True
    pos = s.is_nonpositive is not True
    zero = s.is_nonzero is not True
    return neg, zero, pos


#: how the random points draw their symbols, in turn: each regime is visited by
#: a quarter of the points, so large integers and extreme scales never go missing
REGIMES = ("mixed", "small", "large", "mixed")


def _draw(s: sp.Symbol, rng: random.Random, regime: str = "mixed") -> Any:
    """A random value for ``s`` honouring its assumptions.

    ``regime`` ``"small"``: integers from the small pool; ``"large"``:
    integers of at least 100 and reals of magnitude between 1e-3 and 1e3;
    ``"mixed"``: each symbol picks at random.
    """
    neg, zero, pos = _allowed_sign(s)
    signs = [x for x, ok in ((-1, neg), (1, pos)) if ok]
    small = {"small": True, "large": False}.get(regime)
    if s.is_integer:
        if small if small is not None else rng.random() < 0.7:
            # a small pool, smallest magnitudes most often: two labels coincide often
            pool = [v for v in (-3, -2, -1, 0, 1, 2, 3) if (v < 0 and neg) or (v > 0 and pos) or (v == 0 and zero)]
            pool = sorted(pool, key=lambda v: (abs(v), v))[:3]
            v = rng.choices(pool, weights=(0.5, 0.3, 0.2)[: len(pool)])[0]
        else:
            v = rng.choice(signs) * rng.randint(100, 124) if signs else 0
        if s.is_even and v % 2:
            v += 1 if v >= 0 or not pos else -1
        if s.is_odd and v % 2 == 0:
            v += 1 if (v >= 0 and pos) or not neg else -1
        return v
    if not signs:
        return mpmath.mpf(0)
    if zero and rng.random() < (0.08 if not neg or not pos else 0.03):
        return mpmath.mpf(0)
    sign = rng.choice(signs)
    if s.is_rational:
        q = rng.randint(1, 7)
        return mpmath.mpf(sign * rng.randint(1, 40)) / q
    if regime == "large" or (regime == "mixed" and rng.random() < 0.5):
        mag = _random_magnitude(rng, -3.0, 3.0)
    elif regime == "moderate":
        mag = mpmath.mpf(rng.uniform(0.2, 2.0))
    else:
        mag = mpmath.mpf(rng.uniform(0.1, 3.0))
    return sign * mag


def _fits(s: sp.Symbol, v: Any) -> bool:
    neg, zero, pos = _allowed_sign(s)
    if isinstance(v, mpmath.mpc):
        return False
    if (v < 0 and not neg) or (v > 0 and not pos) or (v == 0 and not zero):
        return False
    if s.is_integer and not (isinstance(v, int) or mpmath.isint(v)):
        return False
    return True


# --------------------------------------------------------------------------- the problem
def _check_assumptions_consistent(symbols: Iterable[sp.Symbol]) -> None:
    by_name: dict[str, sp.Symbol] = {}
    for s in symbols:
        other = by_name.setdefault(s.name, s)
        if other is not s and other != s:
            raise DerivationError(
                f"symbol {s.name} appears with two different sets of assumptions "
                f"({other.assumptions0} and {s.assumptions0}); sympy treats them as different "
                f"symbols, so the lines cannot be compared"
            )


def _bound_symbols(expr: sp.Basic) -> set[sp.Symbol]:
    out: set[sp.Symbol] = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Sum, sp.Product)):
            out.update(i for i, *_ in node.limits)
    return out


def _hoist_sums(expr: sp.Expr) -> tuple[list[tuple[sp.Symbol, sp.Expr]], sp.Expr]:
    r"""Compute every sum that does not depend on an enclosing summation index once.

    Passed to ``lambdify`` as its ``cse``: the normalised sum
    :math:`\sum_k e^{-\beta F_k} / \sum_j e^{-\beta F_j}` then costs
    :math:`2n` terms instead of :math:`n^2`.
    """
    bound = _bound_symbols(expr)
    hoisted: list[tuple[sp.Symbol, sp.Expr]] = []

    def hoist(a: sp.Expr) -> sp.Symbol:
        d = sp.Dummy(f"s{len(hoisted)}")
        hoisted.append((d, a))
        return d

    reduced = expr.replace(
        lambda a: isinstance(a, (sp.Sum, sp.Product)) and not (a.free_symbols & bound), hoist
    )
    return hoisted, reduced


def _safe(name: str, like: sp.Symbol) -> sp.Symbol:
    """A symbol with a safe Python name and the assumptions of ``like``."""
    return sp.Symbol(f"_ebm_{name}", **like.assumptions0)


class _Compiled:
    """A line (or kink argument) compiled to a Python function of the symbols."""

    def __init__(self, expr: sp.Expr, args: Sequence[sp.Symbol], printer: _Printer) -> None:
        """``expr`` and ``args`` are in terms of the problem's dummies (safe names)."""
        self.expr = expr
        back = printer.table.back
        for node in sp.preorder_traversal(expr):
            if isinstance(node, (sp.Limit, sp.Derivative, sp.Subs)):
                raise DerivationError(
                    f"cannot evaluate numerically: {_shown(node, back)} (an unevaluated "
                    f"{type(node).__name__}; evaluate it, or state the step without it)"
                )
        printer._not_supported = set()
        try:
            self.fn = sp.lambdify(
                list(args), expr, modules=[_namespace(), "mpmath"], printer=printer,
                cse=_hoist_sums, dummify=False,
            )
        except Exception as err:  # a sympy object no printer rule covers
            raise DerivationError(
                f"cannot evaluate numerically: {_shown(expr, back)} ({type(err).__name__}: {err})"
            ) from None
        bad = sorted(printer._not_supported, key=sp.default_sort_key)
        # a function printed as a plain call to a name the code does not know
        known = self.fn.__globals__
        missing = {name for name in self.fn.__code__.co_names if name not in known
                   and not hasattr(builtins, name)}
        bad += [f for f in sorted(expr.atoms(sp.Function), key=sp.default_sort_key)
                if type(f).__name__ in missing]
        if bad:
            shown = ", ".join(sp.sstr(_without_jets(b).xreplace(back)) for b in bad[:3])
            raise DerivationError(
                f"cannot evaluate numerically: {shown} (not a function the random test knows; "
                f"write it with sympy's elementary functions or the book's symbolic building blocks)"
            )

    def __call__(self, values: Sequence[Any]) -> Any:
        return self.fn(*values)


class _Problem:
    """Two lines prepared for random testing: compiled once, tested under many seeds."""

    def __init__(self, a: sp.Expr, b: sp.Expr, where: tuple[sp.Basic, ...]) -> None:
        self.lines = (a, b)
        free = a.free_symbols | b.free_symbols
        for c in where:
            free |= c.free_symbols
        _check_assumptions_consistent(free)
        self.symbols = sorted(free, key=sp.default_sort_key)
        for s in self.symbols:
            _check_drawable(s)
        # compiled code sees dummies with safe names; messages map them back
        self.dummies = [_safe(f"v{i}", s) for i, s in enumerate(self.symbols)]
        bound = sorted(_bound_symbols(a) | _bound_symbols(b), key=sp.default_sort_key)
        safe_bound = [_safe(f"b{i}", s) for i, s in enumerate(bound)]
        to_dummy = dict(zip([*self.symbols, *bound], [*self.dummies, *safe_bound]))
        back = dict(zip([*self.dummies, *safe_bound], [*self.symbols, *bound]))
        # functions a line integrates over one of their arguments get smooth stand-ins
        self.smooth: dict[str, _SmoothStandIn] = {}
        for name in sorted(_smooth_names(a) | _smooth_names(b)):
            apps = [f for e in (a, b) for f in e.atoms(AppliedUndef, _AbstractEnergy)
                    if type(f).__name__ == name]
            self.smooth[name] = _SmoothStandIn(name, len(apps[0].args))
        self.params = [p for st in self.smooth.values() for p in st.params]
        self.args = [*self.dummies, *self.params]
        self.integrals = a.has(sp.Integral) or b.has(sp.Integral)
        # quadrature is accurate to ~14 digits, not 50: integrals are compared to 10
        self.digits, self.confirm = (20, 30) if self.integrals else (EVAL_DIGITS, CONFIRM_DIGITS)
        self.agree = mpmath.mpf("1e-10") if self.integrals else AGREE
        ja, jb = (_with_jets(e, self.smooth).xreplace(to_dummy) for e in (a, b))
        self.table = _KinkTable(back)
        self.table.collect(ja)
        self.table.collect(jb)
        printer = _Printer(self.table)
        self.fa = _Compiled(ja, self.args, printer)
        self.fb = _Compiled(jb, self.args, printer)
        # conditions are not kinks of the step: compiled with a table of their own
        wprinter = _Printer(_KinkTable(back))
        self.where = [_Compiled(_with_jets(c, self.smooth).xreplace(to_dummy), self.args, wprinter)
                      for c in where]
        self.where_shown = ", ".join(sp.sstr(c) for c in where)
        self.kinks = list(self.table.kinks)
        self.printer = printer
        self._kink_fns: dict[int, _Compiled] = {}
        self._limit_fns: dict[int, list[tuple[_Compiled, _Compiled]]] = {}

    # ------------------------------------------------------------------ evaluation
    def values(self, point: _Point) -> list[Any]:
        return [point.values[s] for s in (*self.symbols, *self.params)]

    def evaluate(self, f: _Compiled, point: _Point, digits: int, extra: Sequence[Any] = ()) -> Any:
        """The value of ``f`` at ``point`` (raises _Undefined where it has none)."""
        _CTX.point = point
        try:
            with mpmath.workdps(digits):
                v = f([*self.values(point), *extra])
                if isinstance(v, bool) or v is None:
                    raise _Undefined
                v = mpmath.mpmathify(v)
                if not mpmath.isfinite(v):
                    raise _Undefined
                return +v
        except (ZeroDivisionError, ValueError, TypeError, OverflowError, _Undefined):
            raise _Undefined from None
        except NameError as err:  # pragma: no cover - the printer refuses unknown functions first
            raise DerivationError(f"cannot evaluate numerically: {err}") from None

    def satisfies_where(self, point: _Point) -> bool:
        if not self.where:
            return True
        _CTX.point = point
        seen, _CTX.seen = _CTX.seen, {}
        try:
            with mpmath.workdps(EVAL_DIGITS):
                return all(bool(c(self.values(point))) for c in self.where)
        except (ZeroDivisionError, ValueError, TypeError, _Undefined):
            return False
        finally:
            _CTX.seen = seen

    # ------------------------------------------------------------------ points
    def regime(self, i: int) -> str:
        """How the ``i``-th random point draws its symbols (see :data:`REGIMES`).

        Lines with integrals are evaluated by quadrature, which is slow and
        unreliable for extreme scales: their real symbols stay moderate
        (magnitudes 0.2 to 2; integers still take every regime).
        """
        regime = REGIMES[i % len(REGIMES)]
        if self.integrals and regime != "small":
            return "moderate"
        return regime

    def random_point(self, rng: random.Random, regime: str = "mixed") -> _Point:
        for _ in range(200):
            point = _Point({s: _draw(s, rng, regime) for s in self.symbols})
            for stand_in in self.smooth.values():
                point.values.update(stand_in.draw(rng))
            if self.satisfies_where(point):
                return point
        raise DerivationError(
            f"no test point satisfies the conditions where=({self.where_shown}) in 200 draws; "
            f"are they contradictory?"
        )

    def kink_function(self, kink: _Kink) -> _Compiled:
        if kink.id not in self._kink_fns:
            idx = [i for i, *_ in kink.bound]
            self._kink_fns[kink.id] = _Compiled(kink.arg, [*self.args, *idx], self.printer)
            self._limit_fns[kink.id] = [
                (_Compiled(sp.sympify(lo), [*self.args, *idx[:k]], self.printer),
                 _Compiled(sp.sympify(hi), [*self.args, *idx[:k]], self.printer))
                for k, (_, lo, hi) in enumerate(kink.bound)
            ]
        return self._kink_fns[kink.id]

    def bound_values(self, kink: _Kink, point: _Point, rng: random.Random) -> list[int] | None:
        """Values of the summation indices around the kink, inside their limits."""
        chosen: list[int] = []
        for lo_f, hi_f in self._limit_fns[kink.id]:
            try:
                lo = self.evaluate(lo_f, point, EVAL_DIGITS, chosen)
                hi = self.evaluate(hi_f, point, EVAL_DIGITS, chosen)
            except _Undefined:
                return None
            if not (mpmath.isint(lo) and mpmath.isint(hi)) or lo > hi:
                return None
            chosen.append(rng.randint(int(lo), int(hi)))
        return chosen

    def solve_kink(self, kink: _Kink, target: int, rng: random.Random) -> _Point | None:
        """A point where the kink's argument has the sign of ``target`` (0: exactly on it).

        Sets :attr:`outside` when the only points found violate ``where=``:
        that side of the kink lies outside the region the step is claimed on.
        """
        self.outside = False
        for attempt in range(4):
            base = self.random_point(rng, self.regime(attempt))
            found = self._solve_from(base, kink, target, rng)
            if found is not None:
                return found[0]
        return None

    def _kink_side(self, kink: _Kink, point: _Point, rng: random.Random) -> int | None:
        """The sign of the kink's argument at ``point`` (one instance inside sums), or None."""
        idx = self.bound_values(kink, point, rng)
        if idx is None:
            return None
        seen, _CTX.seen = _CTX.seen, {}
        try:
            g = self.evaluate(self.kink_function(kink), point, EVAL_DIGITS, idx)
        except _Undefined:
            return None
        finally:
            _CTX.seen = seen
        return 1 if g > 0 else -1 if g < 0 else 0

    def solve_pattern(self, kinks: Sequence[_Kink], signs: Sequence[int], rng: random.Random) -> _Point | None:
        """A point where each kink's argument has the given sign (a combination of branches).

        Each kink is moved to its side by a variable no earlier kink used, so
        products of kinks such as :math:`[x - 5]^+ [y - 5]^+` are seen with
        both factors active.
        """
        self.outside = False
        for attempt in range(3):
            point: _Point | None = self.random_point(rng, self.regime(attempt))
            used: set[Any] = set()
            for kink, sign in zip(kinks, signs):
                if point is None:
                    break
                if self._kink_side(kink, point, rng) == sign:
                    continue
                found = self._solve_from(point, kink, sign, rng, exclude=used)
                if found is None:
                    point = None
                    break
                point, variable = found
                used.add(variable)
            if point is not None and all(
                self._kink_side(k, point, rng) == sign for k, sign in zip(kinks, signs)
            ):
                return point
        return None

    def _solve_from(
        self, base: _Point, kink: _Kink, target: int, rng: random.Random,
        exclude: set[Any] | None = None,
    ) -> tuple[_Point, Any] | None:
        """From ``base``, solve one variable so that the kink's argument has ``target``'s sign."""
        g = self.kink_function(kink)
        idx = self.bound_values(kink, base, rng)
        if idx is None:
            return None
        _CTX.accessed = set()
        try:
            self.evaluate(g, base, EVAL_DIGITS, idx)
            accessed = sorted(_CTX.accessed, key=repr)
        except _Undefined:
            return None
        finally:
            _CTX.accessed = None
        # a symbol inside an abstract function's arguments moves to an unrelated
        # random value of the function: it cannot be solved for
        inside = set().union(*(j.free_symbols for j in g.expr.atoms(_JetBase)))
        free = g.expr.free_symbols - inside
        cands: list[tuple[str, Any]] = [("jet", k) for k in accessed]
        cands += [("sym", s) for s, d in zip(self.symbols, self.dummies) if d in free]
        cands += [("sym", st.offset) for st in self.smooth.values() if st.offset in free]
        cands = [c for c in cands if c[1] not in (exclude or set())]
        rng.shuffle(cands)
        for kind, which in cands:
            point = self._solve_for(g, base, idx, kind, which, target, rng)
            if point is not None:
                return point, which
        return None

    def _solve_for(
        self, g: _Compiled, base: _Point, idx: list[int], kind: str, which: Any,
        target: int, rng: random.Random,
    ) -> _Point | None:
        def at(v: Any) -> _Point:
            p = base.copy()
            if kind == "jet":
                p.jets[which] = v
            else:
                p.values[which] = v
            return p

        def value(p: _Point, digits: int) -> Any:
            seen = _CTX.seen
            _CTX.seen = {}
            try:
                return self.evaluate(g, p, digits, idx)
            finally:
                _CTX.seen = seen

        if kind == "sym" and which.is_integer:
            return self._solve_integer(value, at, which, target, rng)
        offset = 0 if target == 0 else target * _random_magnitude(rng, -4.0, 0.0)
        start = base.jets[which] if kind == "jet" else base.values[which]
        try:
            with mpmath.workdps(SOLVE_DIGITS):
                phi = lambda v: value(at(v), SOLVE_DIGITS) - offset  # noqa: E731
                root = mpmath.findroot(phi, mpmath.mpf(start), tol=mpmath.mpf(10) ** -190, maxsteps=80)
                if isinstance(root, mpmath.mpc) or not mpmath.isfinite(root):
                    return None
                residual = phi(root)
        except (ZeroDivisionError, ValueError, TypeError, _Undefined, OverflowError):
            return None
        if abs(residual) > mpmath.mpf(10) ** -60 * (1 + abs(offset)):
            return None
        if kind == "sym" and not _fits(which, root):
            return None
        point = at(root)
        point.on_kink = target == 0
        if not self.satisfies_where(point):
            self.outside = True
            return None
        return point

    def _integer_roots(
        self, value: Callable[[_Point, int], Any], at: Callable[[Any], _Point], s: sp.Symbol
    ) -> list[int]:
        """Integers next to where the kink's argument crosses 0 as ``s`` varies.

        A secant on the integers from a few starts: exact for an argument affine
        in ``s`` (``n - 7``, ``k - y``, ``2 n - 9``), and a good guess otherwise.
        """
        found: list[int] = []
        for start in (1, -1, 10, 1000):
            a, b = start, start + 1
            try:
                for _ in range(6):
                    ga, gb = value(at(a), EVAL_DIGITS), value(at(b), EVAL_DIGITS)
                    if gb == ga:
                        break
                    r = b - gb * (b - a) / (gb - ga)
                    if not mpmath.isfinite(r) or abs(r) > 10**9:
                        break
                    a, b = b, int(mpmath.nint(r))
                    if a == b:
                        break
                    found += [int(mpmath.floor(r)) + d for d in (-1, 0, 1, 2)]
            except (_Undefined, ZeroDivisionError, TypeError, ValueError):
                continue
        return list(dict.fromkeys(found))

    def _solve_integer(
        self, value: Callable[[_Point, int], Any], at: Callable[[Any], _Point],
        s: sp.Symbol, target: int, rng: random.Random,
    ) -> _Point | None:
        trial = [v for v in range(-4, 5)] + [rng.randint(100, 124), -rng.randint(100, 124)]
        trial += [int(v) for v in at(0).values.values() if isinstance(v, int)]
        trial += [v + d for v in trial for d in (-1, 1)]
        rng.shuffle(trial)
        trial = self._integer_roots(value, at, s) + trial  # where the kink is, first
        for v in trial:
            if not _fits(s, v):
                continue
            p = at(v)
            try:
                g = value(p, EVAL_DIGITS)
            except _Undefined:
                continue
            side = 1 if g > 0 else -1 if g < 0 else 0
            if side == target:
                if self.satisfies_where(p):
                    return p
                self.outside = True
        return None


@functools.lru_cache(maxsize=256)
def _problem(a: sp.Expr, b: sp.Expr, where: tuple[sp.Basic, ...]) -> _Problem:
    return _Problem(a, b, where)


# --------------------------------------------------------------------------- the test
@dataclass
class _Mismatch:
    point: _Point
    va: Any
    vb: Any


def _compare(prob: _Problem, point: _Point) -> tuple[bool, _Mismatch | None, dict[int, set[int]]]:
    """Evaluate both lines at ``point``: (defined?, mismatch or None, kink sides seen)."""
    _CTX.seen = {}
    _CTX.quad_scale = 0
    try:
        va = prob.evaluate(prob.fa, point, prob.digits)
        vb = prob.evaluate(prob.fb, point, prob.digits)
    except _Undefined:
        return False, None, {}
    seen = _CTX.seen
    # a line made of integrals is known to the accuracy of those integrals
    scale = _CTX.quad_scale

    def close(a: Any, b: Any) -> bool:
        return abs(a - b) <= prob.agree * max(abs(a), abs(b), scale)

    if va == vb or close(va, vb):
        return True, None, seen
    # confirm with more digits, doubling them: rounding never refuses a true step.  A
    # cancellation such as 1 - sigma(z) = sigma(-z) at z = 900 needs about 400 digits.
    levels = (prob.confirm,) if prob.integrals else (prob.confirm, *ESCALATE_DIGITS)
    for digits in levels:
        try:
            va2 = prob.evaluate(prob.fa, point, digits)
            vb2 = prob.evaluate(prob.fb, point, digits)
        except _Undefined:
            return False, None, {}
        if va2 == vb2 or close(va2, vb2):
            return True, None, seen
        # a difference made by rounding shrinks with the extra digits; a true one does not
        if abs(va2 - vb2) <= ROUNDING_SHRINK * abs(va - vb):
            return True, None, seen
        va, vb = va2, vb2
    return True, _Mismatch(point, va, vb), seen


def _describe_point(prob: _Problem, point: _Point) -> str:
    parts = []
    for s in prob.symbols:
        v = point.values[s]
        parts.append(f"{s}={v if isinstance(v, int) else mpmath.nstr(v, 6)}")
    for (fname, slots, args), v in sorted(point.jets.items(), key=repr)[:6]:
        head = fname if not slots else f"d{fname}/d{list(slots)}"
        shown = ", ".join(str(a) if isinstance(a, int) else mpmath.nstr(mpmath.mpf(a), 4) for a in args)
        parts.append(f"{head}({shown})={mpmath.nstr(v, 6)}")
    return ", ".join(parts)


def _random_test(prob: _Problem, trials: int, stream: int, salt: str) -> tuple[int, list[str]]:
    """Run the test; return (points compared, names of kinks).  Raise on a counterexample."""
    rng = python_rng(stream, salt=f"equality {salt}")
    _CTX.rng = rng
    sides: dict[int, set[int]] = {k.id: set() for k in prob.kinks}
    zero_reachable: dict[int, bool] = {k.id: False for k in prob.kinks}
    outside: dict[int, set[int]] = {k.id: set() for k in prob.kinks}
    compared = 0
    undefined = 0

    def run(point: _Point) -> bool:
        nonlocal compared, undefined
        ok, bad, seen = _compare(prob, point)
        if not ok:
            undefined += 1
            return False
        if bad is not None:
            raise DerivationError(
                f"at the point ({_describe_point(prob, bad.point)})"
                f"{' on a kink' if bad.point.on_kink else ''}, the previous line is "
                f"{mpmath.nstr(bad.va, 10)} and this line is {mpmath.nstr(bad.vb, 10)}"
            )
        compared += 1
        for kid, s in seen.items():
            sides.setdefault(kid, set()).update(s)
        return True

    for i in range(trials):
        run(prob.random_point(rng, prob.regime(i)))
    for kink in list(prob.kinks):
        for target in (0, 0, -1, 1):  # the kink twice: one point may be degenerate
            if kink.equality and target == -1:
                continue
            point = prob.solve_kink(kink, target, rng)
            if point is None:
                if prob.outside:
                    outside[kink.id].add(target)
                continue
            if run(point) and target == 0:
                zero_reachable[kink.id] = True
    # combinations of branches: every sign pattern of up to four kinks, 16 patterns beyond
    kinks = [k for k in prob.kinks if not k.equality]
    if len(kinks) >= 2:
        if len(kinks) <= 4:
            patterns = list(itertools.product((-1, 1), repeat=len(kinks)))
        else:
            patterns = [tuple(rng.choice((-1, 1)) for _ in kinks) for _ in range(16)]
        for signs in patterns:
            point = prob.solve_pattern(kinks, signs, rng)
            if point is not None:
                run(point)
    if compared < max(3, trials // 2):
        raise DerivationError(
            f"the lines could be evaluated at only {compared} of {compared + undefined} test points "
            f"(division by zero, logarithm of zero, ...): the step cannot be tested"
        )
    for kink in prob.kinks:
        got = sides.get(kink.id, set())
        if kink.equality:
            need = {0: "equal", 1: "different"}
            got = {0 if s == 0 else 1 for s in got}
        else:
            need = {-1: "negative", 1: "positive"}
            if zero_reachable[kink.id]:
                need[0] = "zero"
        # a side that lies outside the region claimed with where= need not be visited
        missing = [s for s in need if s not in got and s not in outside[kink.id]]
        if missing:
            # name the sides as the page wrote the kink's argument
            names = [need[s] if kink.equality or s == 0 else need[s * kink.orient] for s in missing]
            raise _Uncovered(
                f"the kink at {kink.argument} = 0 (from {kink.shown}) was never "
                f"evaluated on its {' or '.join(names)} side; a step whose branches cannot all "
                f"be exercised is not accepted"
            )
    return compared, [k.shown for k in prob.kinks]


class _Uncovered(DerivationError):
    pass


def decide(
    a: sp.Expr,
    b: sp.Expr,
    *,
    where: Iterable[sp.Basic] = (),
    trials: int = 12,
    stream: int = 0,
    salt: str = "",
    prove: bool = True,
    timeout: float = 120.0,
) -> Verdict:
    """Decide whether ``a == b``; return a :class:`Verdict` or raise :class:`DerivationError`.

    ``where`` lists conditions (sympy relationals) every test point must
    satisfy, for steps that hold only on a region; ``trials`` random points
    are tested besides the points solved onto each kink; the points come from
    the book's random ``stream`` (:mod:`ebm_utils.seeding`, so they change with
    ``EBM_SEED``), split by ``salt``.

    ``prove=False`` skips sympy: the step is only tested (label "tested at
    ..."), for steps sympy cannot simplify in reasonable time.  With
    ``prove=True`` the label must not depend on the machine's speed, so
    ``timeout`` is only a guard against a hang: if sympy has not finished
    after ``timeout`` seconds the step raises, and the page passes
    ``prove=False`` for it.
    """
    a, b = sp.sympify(a), sp.sympify(b)
    if isinstance(a, (sp.MatrixBase, sp.MatrixExpr)) or isinstance(b, (sp.MatrixBase, sp.MatrixExpr)):
        return _decide_matrix(a, b, where=where, trials=trials, stream=stream, salt=salt,
                              prove=prove, timeout=timeout)
    for name, e in (("previous line", a), ("this line", b)):
        if not isinstance(e, sp.Expr):
            raise DerivationError(f"{name} is not an expression: {sp.sstr(e)}")
    where_t = tuple(sp.sympify(c) for c in where)
    for c in where_t:
        if not isinstance(c, sp.logic.boolalg.Boolean):
            raise DerivationError(f"a condition in where= must be a relation, got {sp.sstr(c)}")
    residual = symbolic_residual(a, b, timeout) if prove else None
    if prove and residual is None:
        raise DerivationError(
            f"sympy did not finish simplifying within {timeout:g} s; a label must not depend on "
            f"the speed of the machine, so pass prove=False to test this step without a proof"
        )
    if residual is not None and residual != 0 and residual.is_zero is False:
        raise DerivationError(
            f"previous line minus this line simplifies to {sp.sstr(residual)}, which sympy "
            f"proves is not zero"
        )
    proved = residual is not None and residual == 0
    try:
        prob = _problem(a, b, where_t)
        points, kinks = _random_test(prob, trials, stream, salt)
    except _Uncovered:
        if proved:
            return Verdict(True, 0, ())
        raise
    except DerivationError as err:
        if proved and "the point" in str(err):
            raise DerivationError(
                f"sympy simplifies the difference to 0, but {err}; the symbolic proof is not trusted"
            ) from None
        raise
    finally:
        _CTX.point = None
    return Verdict(proved, points, tuple(kinks))


def _decide_matrix(a: Any, b: Any, **kwargs: Any) -> Verdict:
    """Two matrices of one shape, entry by entry: proved if every entry is proved."""
    try:
        ma, mb = sp.Matrix(a), sp.Matrix(b)
    except (TypeError, ValueError, sp.SympifyError):
        raise DerivationError(
            f"a matrix line can only be compared with a matrix: {sp.sstr(a)} and {sp.sstr(b)}"
        ) from None
    if ma.shape != mb.shape:
        raise DerivationError(f"the lines are matrices of shapes {ma.shape} and {mb.shape}")
    salt = kwargs.pop("salt")
    verdicts = []
    for (i, j), _ in sorted(((i, j), 0) for i in range(ma.rows) for j in range(ma.cols)):
        try:
            verdicts.append(decide(ma[i, j], mb[i, j], salt=f"{salt} [{i},{j}]", **kwargs))
        except DerivationError as err:
            raise DerivationError(f"entry ({i}, {j}): {err}") from None
    kinks = tuple(dict.fromkeys(k for v in verdicts for k in v.kinks))
    tested = [v.points for v in verdicts if not v.proved]
    return Verdict(all(v.proved for v in verdicts), min(tested) if tested else 0, kinks)
