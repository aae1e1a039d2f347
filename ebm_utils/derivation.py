r"""Machine-checked derivation chains.

A derivation in this book is a list of expressions, each claimed equal to the
one before it for a stated reason.  :class:`Derivation` accepts a line only
if :func:`ebm_utils.equality.decide` finds no point where it differs from the
line before:

1. a **randomized test that explores**: abstract functions (an energy
   :math:`F_W(x, y)`) become random functions taking both signs and values
   from about :math:`10^{-2}` to :math:`10^{2}`, symbols are drawn on several
   scales and integer labels often coincide, and every kink (positive part,
   indicator, Heaviside, Max/Min, Abs, sign, Piecewise, KroneckerDelta) is
   visited on both sides and exactly on it;
2. a **symbolic proof**: the difference of the two lines, in canonical form,
   simplifies to 0 (and a difference sympy proves non-zero refuses the step).

Each line says honestly how it was checked: ``proved`` (sympy proved it and
the test found no counterexample) or ``tested at N points, every branch``.
The page "How this book checks itself" introduces the chain; every chapter
uses it for its multi-step derivations.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy as sp

from .equality import DerivationError, decide
from .seeding import seed_for
from .symbolic import book_latex

__all__ = ["Derivation", "DerivationError", "Step"]


@dataclass(frozen=True)
class Step:
    """One line of a derivation: the expression, why it holds, how it was checked.

    ``proof`` is ``"given"`` for the first line, then ``"proved"`` or
    ``"tested at N points[, every branch]"``.
    """

    expr: sp.Expr
    because: str
    proof: str


class Derivation:
    r"""A chain of expressions, each proved equal to the previous one.

    >>> import sympy as sp
    >>> u = sp.Symbol("u", real=True)
    >>> d = (Derivation(sp.diff(sp.log(1 + sp.exp(u)), u), lhs=sp.Symbol("g"))
    ...      .step(1 / (1 + sp.exp(-u)), because="divide by exp(u)"))
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
    where:
        Conditions (sympy relations such as ``y <= n``) under which the whole
        chain is claimed; every test point satisfies them.  Assumptions on
        the symbols (``positive=True``, ...) are honoured as well.
    trials:
        Random points per step, besides the points put on each kink.
    stream:
        The random stream of the test (:mod:`ebm_utils.seeding`): the points
        change with the book seed ``EBM_SEED``, so ``make test-seeds`` tests
        every chain at other points.
    prove:
        Whether sympy tries to prove each step (``step(..., prove=...)``
        overrides it for one step).  With ``prove=False`` a step is only
        tested; use it for steps sympy cannot simplify quickly, so that no
        label depends on the speed of the machine.
    timeout:
        A guard against a hang, not a budget: a proof attempt still running
        after this many seconds of CPU time raises (and asks for ``prove=False``).
    """

    def __init__(
        self,
        expr: sp.Expr,
        *,
        lhs: sp.Expr | None = None,
        because: str = "definition",
        where: Iterable[sp.Basic] = (),
        trials: int = 12,
        stream: int = 0,
        prove: bool = True,
        timeout: float = 120.0,
    ) -> None:
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials must be a positive int, got {trials!r}")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.lhs = None if lhs is None else sp.sympify(lhs)
        self.where = tuple(sp.sympify(c) for c in where)
        self.trials = trials
        seed_for(stream)  # validates the stream now, not at the first step
        self.stream = stream
        self.timeout = float(timeout)
        if not isinstance(prove, bool):
            raise TypeError(f"prove must be True or False, got {type(prove).__name__}")
        self.prove = prove
        self.steps: list[Step] = [Step(sp.sympify(expr), because, "given")]

    def step(self, expr: sp.Expr, because: str, *, prove: bool | None = None) -> Derivation:
        """Append ``expr`` if it equals the current last line; return ``self``.

        ``prove`` overrides the chain's setting for this step.  Raises
        :class:`DerivationError` naming the step, its reason and why: the
        residual sympy proves non-zero, the point where the two lines differ,
        or the kink that could not be exercised.  A refused step leaves the
        chain unchanged.
        """
        expr = sp.sympify(expr)
        _tex_text(because)
        if prove is not None and not isinstance(prove, bool):
            raise TypeError(f"prove must be True, False or None, got {type(prove).__name__}")
        number = len(self.steps)
        try:
            verdict = decide(
                self.steps[-1].expr, expr, where=self.where, trials=self.trials,
                stream=self.stream, salt=f"step {number}",
                prove=self.prove if prove is None else prove, timeout=self.timeout,
            )
        except DerivationError as err:
            raise DerivationError(f"step {number} ({because!r}) is refused: {err}") from None
        self.steps.append(Step(expr, because, verdict.label))
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
        r"""The chain as one ``aligned`` block with each line's reason and proof.

        Sums print positive terms first (:func:`ebm_utils.symbolic.book_latex`).
        """
        lines = []
        for i, s in enumerate(self.steps):
            left = book_latex(self.lhs) if (i == 0 and self.lhs is not None) else ""
            note = s.because if s.proof == "given" else f"{s.because}; {s.proof}"
            lines.append(rf"{left} &= {book_latex(s.expr)} && \text{{{_tex_text(note)}}}")
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
