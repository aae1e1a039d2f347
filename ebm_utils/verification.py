r"""The verification cell of a page: every check adds one row to a small table.

A page verifies its results in **one** folded cell.  That cell builds a
:class:`Verification`, runs each check through it, and ends with the object
itself, which displays as a table a reader can scan::

    v = Verification()
    v.derivation("gradient of the hinge", hinge_chain)
    v.gradient("hinge gradient", loss, derived, points)       # autograd + differences
    v.refuses("the gradient without its indicator", lambda: check_gradient(...))
    v

    check                               points    bound met                     verdict
    gradient of the hinge               2 steps   -                             2 proved
    hinge gradient                      20 of 20  autograd 1e-10, diff. 1e-06   pass
    the gradient without its indicator  -         GradientMismatch              refused, as it must

Every check raises the moment it fails, so the page stops; the table prints
only what is the same on every machine (counts, the tolerances met, the
verdicts), never raw errors.  The page "How this book checks itself" shows the
machinery in full; the other pages use this summary.
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .checks import GradientMismatch, GradientReport, check_gradient, gradcheck_derived
from .derivation import Derivation, DerivationError

__all__ = ["Row", "Verification", "CheckFailed"]


class CheckFailed(AssertionError):
    """A check of the verification cell failed (or accepted an answer it had to refuse)."""


@dataclass(frozen=True)
class Row:
    """One line of the table: what was checked, on how much, which bound was met, the verdict."""

    check: str
    points: str
    bound: str
    verdict: str


def _refusals() -> tuple[type[BaseException], ...]:
    from torch.autograd.gradcheck import GradcheckError

    return (GradientMismatch, DerivationError, AssertionError, GradcheckError)


def _tol(x: float) -> str:
    return f"{x:.0e}"


class Verification:
    """Collects the checks of one page and shows them as a table (see the module docstring)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    # ------------------------------------------------------------------ checks
    def gradient(
        self,
        name: str,
        f: Callable[[Tensor], Tensor],
        gradient: Callable[[Tensor], Tensor],
        points: Tensor,
        **kwargs: object,
    ) -> GradientReport:
        """:func:`ebm_utils.checks.check_gradient` (autograd and central differences)."""
        report = check_gradient(f, gradient, points, name=name, **kwargs)  # type: ignore[arg-type]
        skipped = f", {report.skipped_near_kinks} near kinks skipped" if report.skipped_near_kinks else ""
        self.rows.append(Row(
            name,
            f"{report.checked} of {report.points}{skipped}",
            f"autograd {_tol(report.tol_autograd)}, differences {_tol(report.tol_fd)}",
            "pass",
        ))
        return report

    def gradcheck(
        self,
        name: str,
        forward: Callable[..., Tensor],
        gradients: Callable[..., tuple[Tensor, ...]],
        inputs: tuple[Tensor, ...],
        *,
        atol: float = 1e-5,
        rtol: float = 1e-3,
    ) -> None:
        """``torch.autograd.gradcheck`` of a derived gradient (:func:`~ebm_utils.checks.gradcheck_derived`)."""
        gradcheck_derived(forward, gradients, inputs, atol=atol, rtol=rtol)
        size = sum(x.numel() for x in inputs)
        self.rows.append(Row(name, f"{size} inputs", f"gradcheck atol {atol:g}, rtol {rtol:g}", "pass"))

    def derivation(self, name: str, chain: Derivation) -> None:
        """A derivation chain, with how each of its steps was checked."""
        if not isinstance(chain, Derivation):
            raise TypeError(f"chain must be a Derivation, got {type(chain).__name__}")
        labels = [s.proof for s in chain.steps[1:]]
        if not labels:
            raise ValueError(f"derivation {name!r} has no steps to report")
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        verdict = "; ".join(
            f"{c} {label}" if label == "proved" else (label if c == 1 else f"{c} steps {label}")
            for label, c in counts.items()
        )
        steps = f"{len(labels)} step{'s' if len(labels) > 1 else ''}"
        self.rows.append(Row(name, steps, "-", verdict))

    def values(
        self, name: str, actual: Tensor, expected: Tensor, *, rtol: float, atol: float = 0.0
    ) -> None:
        """Two tensors agree elementwise: ``|a - e| <= atol + rtol |e|`` (NaN never agrees)."""
        a = torch.as_tensor(actual)
        e = torch.as_tensor(expected)
        if a.shape != e.shape:
            raise CheckFailed(f"{name}: shapes differ, {tuple(a.shape)} and {tuple(e.shape)}")
        if not bool(torch.isclose(a, e, rtol=rtol, atol=atol).all()):
            worst = float(((a - e).abs() / e.abs().clamp_min(1e-300)).nan_to_num(math.inf).max())
            raise CheckFailed(f"{name}: values differ (largest relative difference {worst:.2e}, rtol {rtol:.0e})")
        bound = f"rel. {_tol(rtol)}" + (f", abs. {_tol(atol)}" if atol else "")
        self.rows.append(Row(name, f"{a.numel()} values", bound, "pass"))

    def refuses(
        self,
        name: str,
        attempt: Callable[[], object],
        errors: Sequence[type[BaseException]] | None = None,
    ) -> None:
        """A check fed a wrong answer must refuse it: ``attempt()`` must raise one of ``errors``."""
        expected = tuple(errors) if errors is not None else _refusals()
        try:
            attempt()
        except expected as err:
            self.rows.append(Row(name, "-", type(err).__name__, "refused, as it must"))
            return
        raise CheckFailed(f"{name}: the check accepted a wrong answer")

    def claim(self, name: str, holds: bool, detail: str = "-") -> None:
        """A fact computed by the cell (``holds`` must be exactly True)."""
        if holds is not True:
            raise CheckFailed(f"{name}: does not hold ({detail})")
        self.rows.append(Row(name, "-", detail, "pass"))

    # ------------------------------------------------------------------ display
    _HEAD = Row("check", "points", "bound met", "verdict")

    def table(self) -> str:
        """The rows as a plain-text table (what nbval compares)."""
        rows = [self._HEAD, *self.rows]
        widths = [max(len(getattr(r, f)) for r in rows) for f in ("check", "points", "bound")]
        lines = [
            f"{r.check:<{widths[0]}}  {r.points:<{widths[1]}}  {r.bound:<{widths[2]}}  {r.verdict}"
            for r in rows
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table() if self.rows else "Verification (no checks yet)"

    def _repr_html_(self) -> str:
        head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in
                       (self._HEAD.check, self._HEAD.points, self._HEAD.bound, self._HEAD.verdict))
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in (r.check, r.points, r.bound, r.verdict)) + "</tr>"
            for r in self.rows
        )
        return (f'<table class="ebm-verification"><caption>Verification summary</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def __len__(self) -> int:
        return len(self.rows)
