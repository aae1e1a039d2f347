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


# --- found by `make mutation`: each test below fails under a mutant that survived ---

class _Step:
    def __init__(self, proof: str) -> None:
        self.proof = proof


def _chain(*proofs: str) -> Derivation:
    d = Derivation(sp.Symbol("x"))
    d.steps = [_Step("start"), *(_Step(p) for p in proofs)]  # only the labels matter here
    return d


def test_the_whole_table_and_its_html_exactly():
    v = Verification()
    assert repr(v) == "Verification (no checks yet)"
    v.claim("a fact", True)
    v.derivation("mixed chain", _chain("proved", "tested at 12 points, every branch", "proved"))
    v.derivation("numeric chain", _chain("tested at 12 points, every branch", "tested at 12 points, every branch"))
    v.values("halves", torch.tensor([0.5, 1.5]), torch.tensor([0.5, 1.5]), rtol=1e-12, atol=1e-300)
    v.refuses("a wrong claim", lambda: v.claim("inner", False), errors=[CheckFailed])
    v.gradcheck("cube", lambda a: (a**3).sum(), lambda a: (3 * a**2,), (torch.tensor([0.5], dtype=torch.float64),),
                atol=1e-4, rtol=1e-2)
    expected = "\n".join([
        "check          points    bound met                         verdict",
        "a fact         -         -                                 pass",
        "mixed chain    3 steps   -                                 2 proved; tested at 12 points, every branch",
        "numeric chain  2 steps   -                                 2 steps tested at 12 points, every branch",
        "halves         2 values  rel. 1e-12, abs. 1e-300           pass",
        "a wrong claim  -         CheckFailed                       refused, as it must",
        "cube           1 inputs  gradcheck atol 0.0001, rtol 0.01  pass",
    ])
    assert repr(v) == v.table() == expected
    assert v._repr_html_() == (
        '<table class="ebm-verification"><caption>Verification summary</caption><thead><tr>'
        '<th scope="col">check</th><th scope="col">points</th><th scope="col">bound met</th>'
        '<th scope="col">verdict</th></tr></thead><tbody>'
        "<tr><td>a fact</td><td>-</td><td>-</td><td>pass</td></tr>"
        + "".join(f"<tr><td>{r.check}</td><td>{r.points}</td><td>{r.bound}</td><td>{r.verdict}</td></tr>"
                  for r in v.rows[1:])
        + "</tbody></table>"
    )
    assert "<td>2 proved; tested at 12 points, every branch</td>" in v._repr_html_()


def test_gradient_row_passes_the_options_and_names_the_check():
    v = Verification()
    f = lambda w: torch.relu(w).sum()  # noqa: E731
    pts = torch.tensor([[0.5], [-0.5], [1e-5]])
    v.gradient("relu", f, lambda w: (w > 0).double(), pts, kink_distance=lambda w: w.abs(), tol_fd=1e-5)
    assert v.rows[0] == Row("relu", "2 of 3, 1 near kinks skipped", "autograd 1e-10, differences 1e-05", "pass")
    with pytest.raises(GradientMismatch, match="^relu: "):
        v.gradient("relu", f, lambda w: 2 * (w > 0).double(), pts, kink_distance=lambda w: w.abs())


def test_gradcheck_uses_its_tolerances():
    x = (torch.tensor([1e-3], dtype=torch.float64),)
    cube = lambda a: (a**3).sum()  # noqa: E731
    sloppy = lambda a: (3 * a**2 + 1e-3,)  # noqa: E731  an absolute slip of 1e-3
    with pytest.raises(Exception, match="Jacobian mismatch"):
        Verification().gradcheck("default atol 1e-5", cube, sloppy, x)
    Verification().gradcheck("atol 1e-2", cube, sloppy, x, atol=1e-2)
    big = (torch.tensor([10.0], dtype=torch.float64),)
    with pytest.raises(Exception, match="Jacobian mismatch"):  # 1 % off at 300: beyond rtol 1e-3
        Verification().gradcheck("default rtol", cube, lambda a: (3.03 * a**2,), big)
    Verification().gradcheck("rtol 5e-2", cube, lambda a: (3.03 * a**2,), big, rtol=5e-2)


def test_values_uses_both_tolerances_and_reports_the_worst_relative_difference():
    v = Verification()
    with pytest.raises(CheckFailed, match=r"largest relative difference 5\.00e-01, rtol 1e-01"):
        v.values("off", torch.tensor([2.0, 3.0]), torch.tensor([2.0, 2.0]), rtol=0.1)
    v.values("absolute", torch.tensor([1e-9]), torch.tensor([0.0]), rtol=1e-12, atol=1e-8)  # atol counts
    with pytest.raises(CheckFailed):
        v.values("relative", torch.tensor([1.05]), torch.tensor([1.0]), rtol=1e-3, atol=1e-8)  # rtol counts
    v.values("relative", torch.tensor([1.05]), torch.tensor([1.0]), rtol=0.1)
    with pytest.raises(CheckFailed, match=r"largest relative difference inf"):
        v.values("nan", torch.tensor([float("nan")]), torch.tensor([1.0]), rtol=0.1)
    with pytest.raises(CheckFailed, match=r"largest relative difference 2\.00e\+00"):  # |1 - 3| / 1, not / 3
        v.values("small", torch.tensor([1e-9, 3.0]), torch.tensor([1e-9, 1.0]), rtol=0.1)
    with pytest.raises(CheckFailed, match=r"largest relative difference 1\.00e\+00"):  # |1 - 0.5| / 0.5
        v.values("below one", torch.tensor([1.0]), torch.tensor([0.5]), rtol=0.1)
    v.values("atol as given", torch.tensor([1e-6]), torch.tensor([0.0]), rtol=1e-12, atol=1e-5)  # not 1e-8


def test_refuses_only_the_errors_it_is_given_and_messages_name_the_input():
    v = Verification()
    with pytest.raises(ValueError):  # a ValueError is not in the list: it propagates
        v.refuses("wrong kind", lambda: int("x"), errors=[CheckFailed])
    with pytest.raises(CheckFailed):  # an AssertionError is refused by default, but not when only TypeError is
        v.refuses("only TypeError", lambda: v.claim("inner", False), errors=[TypeError])
    v.refuses("a ValueError", lambda: int("x"), errors=[ValueError])
    assert v.rows[-1] == Row("a ValueError", "-", "ValueError", "refused, as it must")
    with pytest.raises(TypeError, match=r"^chain must be a Derivation, got Symbol$"):
        v.derivation("not a chain", sp.Symbol("x"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^derivation 'empty' has no steps to report$"):
        v.derivation("empty", Derivation(sp.Symbol("x")))
