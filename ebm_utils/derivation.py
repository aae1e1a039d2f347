r"""Machine-checked derivation chains.

A derivation in this book is a list of expressions, each claimed equal to the
one before it for a stated reason.  :class:`Derivation` refuses a line unless
it can show the claim:

1. **symbolically**: the difference of the two lines, put in canonical form
   (:func:`ebm_utils.symbolic.canonical`), simplifies to 0; or, if sympy can
   decide that the difference is *not* zero, the step is refused at once;
2. **numerically**, when sympy can decide neither way: every abstract function
   (such as an energy :math:`F_W(x, y)`) is replaced by a random concrete
   smooth function, every symbol by a random value that honours its
   assumptions (positive, integer, ...), and the two lines are compared at
   ``trials`` such points with 30 significant digits.  One mismatch refuses
   the step; agreement everywhere accepts it, and the rendering says that the
   proof was numeric.

The page "How this book checks itself" introduces the chain; every chapter
uses it for its multi-step derivations.
"""
from __future__ import annotations

import random
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from .symbolic import _AbstractEnergy, canonical

__all__ = ["Derivation", "DerivationError", "Step"]


class DerivationError(ValueError):
    """A step of a :class:`Derivation` is not equal to the line before it."""


@dataclass(frozen=True)
class Step:
    """One line of a derivation: the expression, why it holds, how it was checked."""

    expr: sp.Expr
    because: str
    proof: str  # "given", "symbolic" or "numeric (N points)"


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _Timeout after ``seconds`` (only where SIGALRM works: the main thread on Unix)."""
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _symbolic_residual(a: sp.Expr, b: sp.Expr, seconds: float) -> sp.Expr | None:
    """The simplified difference ``a - b``, or None if sympy ran out of time."""
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


class _RandomInstance:
    """Random concrete values for the symbols and functions of an expression."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.functions: dict[type, sp.Lambda] = {}

    def value(self, s: sp.Symbol) -> sp.Expr:
        r = self.rng
        if s.is_integer:
            lo = 1 if s.is_positive else 0 if s.is_nonnegative else -5
            hi = -1 if s.is_negative else 0 if s.is_nonpositive else 6
            return sp.Integer(r.randint(lo, max(lo, hi)))
        if s.is_positive:
            return sp.Float(r.uniform(0.2, 3.0), 30)
        if s.is_nonnegative:
            return sp.Float(r.uniform(0.0, 3.0), 30)
        if s.is_negative:
            return sp.Float(-r.uniform(0.2, 3.0), 30)
        if s.is_nonpositive:
            return sp.Float(-r.uniform(0.0, 3.0), 30)
        return sp.Float(r.uniform(-3.0, 3.0), 30)

    def function(self, f: type, nargs: int) -> sp.Lambda:
        """A smooth random function: c + sum_j a_j sin(b_j . args + d_j) + q |args|^2."""
        if f not in self.functions:
            r = self.rng
            xs = sp.symbols(f"_a0:{nargs}", real=True)
            body = sp.Float(r.uniform(-1, 1), 30)
            for _ in range(3):
                phase = sum(sp.Float(r.uniform(-1.5, 1.5), 30) * a for a in xs)
                body += sp.Float(r.uniform(-1, 1), 30) * sp.sin(phase + sp.Float(r.uniform(-3, 3), 30))
            body += sp.Float(r.uniform(0.05, 0.3), 30) * sum(a**2 for a in xs)
            self.functions[f] = sp.Lambda(xs, body)
        return self.functions[f]


def _instantiate(expr: sp.Expr, inst: _RandomInstance, values: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """Replace undefined functions by concrete ones and free symbols by values."""
    for app in sorted(expr.atoms(AppliedUndef, _AbstractEnergy), key=sp.default_sort_key):
        inst.function(app.func, len(app.args))
    e = expr.replace(
        lambda a: isinstance(a, (AppliedUndef, _AbstractEnergy)),
        lambda a: inst.functions[a.func](*a.args),
    )
    # Differentiate while the symbols are still symbols, then substitute values.
    e = e.replace(lambda a: isinstance(a, sp.Derivative), lambda a: a.doit())
    e = e.xreplace({s: v for s, v in values.items() if s in e.free_symbols})
    return e.doit()


def _numeric_mismatch(
    a: sp.Expr, b: sp.Expr, trials: int, seed: int, rtol: float
) -> tuple[dict[sp.Symbol, sp.Expr], sp.Expr, sp.Expr] | None:
    """The first random point where ``a`` and ``b`` differ, or None if none does."""
    inst = _RandomInstance(random.Random(seed))
    symbols = sorted((a.free_symbols | b.free_symbols), key=sp.default_sort_key)
    for _ in range(trials):
        values = {s: inst.value(s) for s in symbols}
        va = sp.N(_instantiate(a, inst, values), 30)
        vb = sp.N(_instantiate(b, inst, values), 30)
        if not (va.is_number and vb.is_number):
            raise DerivationError(f"could not evaluate the step numerically: {va} vs {vb}")
        if abs(va - vb) > rtol * (1 + max(abs(va), abs(vb))):
            return values, va, vb
        inst.functions.clear()  # new random functions for the next point
    return None


class Derivation:
    r"""A chain of expressions, each proved equal to the previous one.

    >>> import sympy as sp
    >>> u = sp.Symbol("u", real=True)
    >>> d = (Derivation(sp.diff(sp.log(1 + sp.exp(u)), u), lhs=sp.Symbol("g"))
    ...      .step(1 / (1 + sp.exp(-u)), because="divide by e^u"))
    >>> d.result
    1/(1 + exp(-u))

    Parameters
    ----------
    expr:
        The first line, taken as given.
    lhs:
        What the chain computes, printed left of the first ``=`` and used by
        :attr:`equation`.
    because:
        The reason for the first line (default: "definition").
    trials, seed:
        Number of random points and seed of the numeric test (deterministic).
    timeout:
        Seconds sympy may spend simplifying one step before the numeric test
        takes over.
    """

    def __init__(
        self,
        expr: sp.Expr,
        *,
        lhs: sp.Expr | None = None,
        because: str = "definition",
        trials: int = 12,
        seed: int = 0,
        timeout: float = 10.0,
        rtol: float = 1e-20,
    ) -> None:
        if trials < 1:
            raise ValueError(f"trials must be at least 1, got {trials}")
        self.lhs = None if lhs is None else sp.sympify(lhs)
        self.trials = trials
        self.seed = seed
        self.timeout = timeout
        self.rtol = rtol
        self.steps: list[Step] = [Step(sp.sympify(expr), because, "given")]

    def step(self, expr: sp.Expr, because: str) -> Derivation:
        """Append ``expr`` if it equals the current last line; return ``self``.

        Raises :class:`DerivationError` naming the step, its reason and the
        residual (symbolic) or the point where the two sides differ (numeric).
        """
        expr = sp.sympify(expr)
        prev = self.steps[-1].expr
        number = len(self.steps)
        where = f"step {number} ({because!r})"
        residual = _symbolic_residual(prev, expr, self.timeout)
        if residual is not None and residual == 0:
            self.steps.append(Step(expr, because, "symbolic"))
            return self
        if residual is not None and residual.is_zero is False:
            raise DerivationError(
                f"{where} is false: previous line minus this line simplifies to "
                f"{sp.sstr(residual)}, which sympy proves is not zero"
            )
        found = _numeric_mismatch(prev, expr, self.trials, self.seed + number, self.rtol)
        if found is not None:
            values, va, vb = found
            point = ", ".join(
                f"{s}={v if v.is_Integer else sp.N(v, 6)}" for s, v in values.items()
            )
            shown = "not simplified (timeout)" if residual is None else sp.sstr(residual)
            raise DerivationError(
                f"{where} is false: at the random point ({point}), with abstract "
                f"functions replaced by random smooth ones, the previous line is "
                f"{sp.N(va, 10)} and this line is {sp.N(vb, 10)}; residual: {shown}"
            )
        self.steps.append(Step(expr, because, f"numeric ({self.trials} points)"))
        return self

    @property
    def result(self) -> sp.Expr:
        """The last line of the chain."""
        return self.steps[-1].expr

    @property
    def equation(self) -> sp.Eq:
        """``lhs = result`` as a sympy equation (its LaTeX can be glued)."""
        if self.lhs is None:
            raise ValueError("this derivation has no lhs: pass lhs= to Derivation()")
        return sp.Eq(self.lhs, self.result, evaluate=False)

    def __len__(self) -> int:
        return len(self.steps)

    def latex(self) -> str:
        r"""The chain as one ``aligned`` block with each line's reason and proof."""
        lines = []
        for i, s in enumerate(self.steps):
            left = sp.latex(self.lhs) if (i == 0 and self.lhs is not None) else ""
            note = s.because if s.proof == "given" else f"{s.because}; {s.proof}"
            lines.append(rf"{left} &= {sp.latex(s.expr)} && \text{{{_tex_text(note)}}}")
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def __repr__(self) -> str:
        body = "\n".join(
            f"  {'=' if i else ' '} {sp.sstr(s.expr)}    [{s.because}; {s.proof}]"
            for i, s in enumerate(self.steps)
        )
        head = f"Derivation of {sp.sstr(self.lhs)}" if self.lhs is not None else "Derivation"
        return f"{head}:\n{body}"


_FORBIDDEN_IN_REASON = set("\\{}$&#%^~")


def _tex_text(s: str) -> str:
    """A reason as plain text for ``\\text{}``; LaTeX-special characters are refused."""
    bad = sorted(set(s) & _FORBIDDEN_IN_REASON)
    if bad:
        raise ValueError(f"a reason is plain text; it may not contain {''.join(bad)!r}: {s!r}")
    return s
