"""The verification table: each check adds a row, raises when it fails, and refusals must refuse."""
from __future__ import annotations

import pytest
import sympy as sp
import torch

from ebm_utils.checks import GradientMismatch, check_gradient, random_points
from ebm_utils.derivation import Derivation
from ebm_utils.symbolic import sigmoid, softplus
from ebm_utils.verification import CheckFailed, Row, Verification


def _f(w: torch.Tensor) -> torch.Tensor:
    return (w**2).sum()


def _g(w: torch.Tensor) -> torch.Tensor:
    return 2 * w


def test_rows_and_table_show_only_machine_independent_facts():
    v = Verification()
    pts = random_points(5, 3)
    v.gradient("square", _f, _g, pts)
    u = sp.Symbol("u", real=True)
    v.derivation("softplus derivative", Derivation(sp.diff(softplus(u), u)).step(sigmoid(u), because="chain rule"))
    v.values("doubling", 2 * pts, pts + pts, rtol=1e-15)
    v.refuses("wrong gradient", lambda: check_gradient(_f, lambda w: 3 * w, pts))
    v.claim("a fact", True, "exact")
    assert len(v) == 5
    assert v.rows[0] == Row("square", "5 of 5", "autograd 1e-10, differences 1e-06", "pass")
    assert v.rows[1] == Row("softplus derivative", "1 step", "-", "1 proved")
    assert v.rows[2].points == "15 values" and v.rows[2].bound == "rel. 1e-15"
    assert v.rows[3] == Row("wrong gradient", "-", "GradientMismatch", "refused, as it must")
    text = repr(v)
    assert text.splitlines()[0].split() == ["check", "points", "bound", "met", "verdict"]
    assert "refused, as it must" in text and "0x" not in text
    html = v._repr_html_()
    assert html.count("<tr>") == 6 and '<th scope="col">check</th>' in html


def test_a_refusal_check_fails_when_nothing_is_refused():
    v = Verification()
    with pytest.raises(CheckFailed, match="accepted a wrong answer"):
        v.refuses("a right gradient", lambda: check_gradient(_f, _g, random_points(3, 2)))
    assert len(v) == 0


def test_failing_checks_raise_and_add_no_row():
    v = Verification()
    with pytest.raises(GradientMismatch):
        v.gradient("wrong", _f, lambda w: w, random_points(3, 2))
    with pytest.raises(CheckFailed, match="values differ"):
        v.values("off", torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1]), rtol=1e-3)
    with pytest.raises(CheckFailed, match="shapes differ"):
        v.values("shape", torch.zeros(2), torch.zeros(3), rtol=1e-3)
    with pytest.raises(CheckFailed, match="does not hold"):
        v.claim("false", False)
    with pytest.raises(CheckFailed):
        v.claim("truthy but not True", 1)  # type: ignore[arg-type]
    with pytest.raises(CheckFailed):
        v.values("nan", torch.tensor([float("nan")]), torch.tensor([float("nan")]), rtol=1e-3)
    assert len(v) == 0


def test_derivation_rows_count_how_steps_were_checked():
    x = sp.Symbol("x", real=True)
    d = Derivation(sp.exp(x) * sp.exp(-x)).step(sp.Integer(1), because="exponents add").step(
        sp.cos(x) ** 2 + sp.sin(x) ** 2, because="Pythagoras"
    )
    v = Verification()
    v.derivation("two steps", d)
    assert v.rows[0].points == "2 steps" and v.rows[0].verdict == "2 proved"
    with pytest.raises(ValueError):
        v.derivation("empty", Derivation(x))
    with pytest.raises(TypeError):
        v.derivation("not a chain", x)  # type: ignore[arg-type]


def test_gradcheck_row():
    v = Verification()
    v.gradcheck("square", lambda w: (w**2).sum(), lambda w: (2 * w,), (torch.tensor([0.5, -1.0], dtype=torch.float64),))
    assert v.rows[0].points == "2 inputs" and v.rows[0].verdict == "pass"
