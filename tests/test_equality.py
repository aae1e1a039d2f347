"""How the step checker explores, what it says it did, and how it refuses bad input."""
from __future__ import annotations

import random

import mpmath
import pytest
import sympy as sp

from ebm_utils import equality as eq
from ebm_utils.derivation import Derivation, DerivationError
from ebm_utils.equality import Verdict, decide, symbolic_residual
from ebm_utils.symbolic import canonical, energy, indicator, positive_part, softplus

F = energy("F")
W, x, y, z = sp.symbols("W x y z", real=True)
n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
ly, lyb = sp.symbols("l_y l_ybar", integer=True, positive=True)


# ----------------------------------------------------------------------------- stand-ins
def _jet_values(count: int = 400) -> list[mpmath.mpf]:
    eq._CTX.rng = random.Random(1)
    eq._CTX.point = eq._Point({})
    return [eq._jet("F", (), i) for i in range(count)]


def test_abstract_functions_take_both_signs_and_a_wide_range_of_magnitudes():
    vals = _jet_values()
    assert any(v < -10 for v in vals) and any(v > 10 for v in vals)
    mags = sorted(abs(v) for v in vals)
    assert mags[0] < 0.02 and mags[-1] > 50
    assert min(abs(v) for v in vals) >= mpmath.mpf("0.0099")


def test_different_argument_tuples_get_unrelated_values_and_equal_tuples_equal_ones():
    eq._CTX.rng = random.Random(2)
    eq._CTX.point = eq._Point({})
    a = eq._jet("F", (), mpmath.mpf("0.5"), 3)
    b = eq._jet("F", (), mpmath.mpf("0.5"), 4)
    again = eq._jet("F", (), mpmath.mpf("0.5"), mpmath.mpf(3))  # label 3 as a float: same point
    assert a != b and a == again
    assert eq._jet("F", (0,), mpmath.mpf("0.5"), 3) != a  # a derivative is its own random value


def test_real_symbols_are_drawn_on_several_scales_with_both_signs():
    rng = random.Random(3)
    vals = [eq._draw(x, rng) for _ in range(2000)]
    mags = [abs(v) for v in vals if v != 0]
    assert min(mags) < 2e-3 and max(mags) > 5e2
    assert any(v < 0 for v in vals) and any(v > 0 for v in vals)
    pos = sp.Symbol("p", positive=True)
    assert all(eq._draw(pos, rng) > 0 for _ in range(500))
    nonneg = sp.Symbol("q", nonnegative=True)
    drawn = [eq._draw(nonneg, rng) for _ in range(500)]
    assert all(v >= 0 for v in drawn) and any(v == 0 for v in drawn)


def test_integer_symbols_coincide_often_and_are_sometimes_large():
    rng = random.Random(4)
    pairs = [(eq._draw(ly, rng), eq._draw(lyb, rng)) for _ in range(1000)]
    assert all(isinstance(a, int) and a >= 1 for a, _ in pairs)
    coincide = sum(a == b for a, b in pairs) / len(pairs)
    large = sum(a >= 100 for a, _ in pairs) / len(pairs)
    assert coincide > 0.15 and large > 0.2
    even = sp.Symbol("e", integer=True, even=True)
    assert all(eq._draw(even, rng) % 2 == 0 for _ in range(200))


# ----------------------------------------------------------------------------- kinks
def test_every_kink_is_visited_on_both_sides_and_on_it():
    prob = eq._problem(positive_part(x - 3) + sp.Abs(y), positive_part(x - 3) + sp.Abs(y), ())
    sides: dict[int, set[int]] = {}
    seen = []
    original = eq._compare

    def spy(p, point):
        ok, bad, got = original(p, point)
        seen.append(point.on_kink)
        for kid, s in got.items():
            sides.setdefault(kid, set()).update(s)
        return ok, bad, got

    eq._compare = spy
    try:
        eq._random_test(prob, 12, 0, "")
    finally:
        eq._compare = original
    assert len(prob.kinks) == 2
    assert all(sides[kk.id] == {-1, 0, 1} for kk in prob.kinks)
    assert any(seen)


def test_a_kink_that_cannot_be_exercised_is_refused_by_name():
    # x^2 + 1 - cos(x) > 0, but sympy cannot tell: the negative side is never reached
    g = x**2 + 1 - sp.cos(x)
    with pytest.raises(DerivationError, match=r"kink at .*cos\(x\).* never evaluated on its negative"):
        Derivation(positive_part(g) + x**3).step(g + x**3, because="claim")


def test_a_side_outside_the_claimed_region_is_not_required():
    d = Derivation(sp.sqrt(x**2), where=[x > 0]).step(x, because="x > 0")
    assert d.steps[-1].proof.startswith("tested at")
    with pytest.raises(DerivationError):
        Derivation(sp.sqrt(x**2)).step(x, because="no region")


def test_heaviside_keeps_its_value_at_zero_in_canonical_form():
    half, zero, one = sp.Heaviside(z), sp.Heaviside(z, 0), sp.Heaviside(z, 1)
    assert canonical(half - zero) != 0 and canonical(zero - one) != 0
    assert symbolic_residual(indicator(z), zero) == 0
    assert symbolic_residual(indicator(z), half) != 0


# ----------------------------------------------------------------------------- honest labels
def test_labels_say_what_was_done():
    proved = decide(sp.exp(x) * sp.exp(-x), sp.Integer(1))
    assert proved.proved and proved.label == "proved"
    j = sp.Symbol("j", integer=True, positive=True)
    beta = sp.Symbol("beta", positive=True)
    Z = sp.Sum(sp.exp(-beta * F(W, x, j)), (j, 1, n))
    tested = decide(sp.Sum(sp.exp(-beta * F(W, x, k)) / Z, (k, 1, n)), sp.Integer(1), prove=False)
    assert not tested.proved and tested.label == f"tested at {tested.points} points"
    assert tested.points >= 12
    v = Verdict(False, 20, ("indicator(x)",))
    assert v.label == "tested at 20 points, every branch"


def test_refused_step_leaves_the_chain_unchanged_and_names_the_step():
    d = Derivation(positive_part(F(W, x, y)), lhs=sp.Symbol("L"))
    with pytest.raises(DerivationError, match=r"step 1 \('drop the kink'\) is refused: at the point"):
        d.step(F(W, x, y), because="drop the kink")
    assert len(d) == 1


def test_seed_changes_the_points_but_not_the_verdict():
    Z = sp.Sum(sp.exp(-F(W, x, k)) / sp.Sum(sp.exp(-F(W, x, n + k)), (k, 1, n)), (k, 1, n))
    labels = {decide(Z, Z * 1, stream=s).label for s in range(5)}
    assert labels == {"proved"}


# ----------------------------------------------------------------------------- bad input
def test_unknown_function_is_named():
    class mystery(sp.Function):
        pass

    with pytest.raises(DerivationError, match=r"cannot evaluate numerically: mystery\(x\)"):
        Derivation(mystery(x) + 1).step(mystery(x) + 2 - 1, because="arithmetic")


def test_unevaluated_limit_is_named():
    t = sp.Symbol("t", real=True)
    lim = sp.Limit(sp.sin(t * x) / t, t, 0)
    with pytest.raises(DerivationError, match="an unevaluated Limit"):
        decide(lim + x, x + lim + 0 * y)


def test_integrals_are_computed_by_quadrature_with_smooth_stand_ins():
    beta = sp.Symbol("beta", positive=True)
    Zx = sp.Symbol("Z", positive=True)
    lhs = sp.Integral(sp.exp(-beta * F(W, x, y)) / Zx, (y, -sp.oo, sp.oo))
    rhs = sp.Integral(sp.exp(-beta * F(W, x, y)), (y, -sp.oo, sp.oo)) / Zx
    assert decide(lhs, rhs).points >= 12
    # integration by parts against a confining energy: no boundary term
    ibp = sp.Integral(sp.diff(F(W, x, y), y) * sp.exp(-F(W, x, y)), (y, -sp.oo, sp.oo))
    assert decide(ibp, sp.Integer(0), prove=False).label.startswith("tested at")
    with pytest.raises(DerivationError, match="at the point"):
        decide(ibp, sp.exp(-F(W, x, 0)), prove=False)


def test_contradictory_conditions_are_reported():
    with pytest.raises(DerivationError, match="no test point satisfies"):
        Derivation(x, where=[x > 1, x < -1]).step(x + 0 * z, because="nothing")


def test_symbol_with_two_sets_of_assumptions_is_reported():
    x_pos = sp.Symbol("x", positive=True)
    with pytest.raises(DerivationError, match="two different sets of assumptions"):
        decide(x + x_pos, 2 * x)


def test_non_real_symbol_is_reported():
    c = sp.Symbol("c")
    with pytest.raises(DerivationError, match="not known to be real"):
        decide(c * 2, c + c + sp.Integer(0) * x)


def test_unsupported_assumption_is_reported():
    p = sp.Symbol("p", prime=True)
    with pytest.raises(DerivationError, match="assumed prime"):
        decide(p + 1, 1 + p + 0 * x)


def test_non_expression_line_is_reported():
    with pytest.raises(DerivationError, match="not an expression"):
        decide(sp.Eq(x, 1), x)
    with pytest.raises(DerivationError, match="must be a relation"):
        decide(x, x, where=[x + 1])


def test_lines_that_are_undefined_almost_everywhere_are_reported():
    never = 1 / sp.floor(x**2 / 10**8)  # |x| <= 1e3 in the test: division by zero everywhere
    with pytest.raises(DerivationError, match="could be evaluated at only 0 of"):
        decide(never + y, y + never)
    with pytest.raises(DerivationError, match="zoo"):
        decide(1 / (x - x), x)


def test_constructor_validates():
    with pytest.raises(ValueError):
        Derivation(x, trials=0)
    with pytest.raises(ValueError):
        Derivation(x, timeout=0)


def test_matrix_lines_are_compared_entry_by_entry():
    m = sp.Matrix([[sp.exp(x) * sp.exp(-x)], [positive_part(x) + positive_part(-x)]])
    v = decide(m, sp.Matrix([[1], [sp.Abs(x)]]))
    assert v.label in ("proved", f"tested at {v.points} points, every branch")
    with pytest.raises(DerivationError, match=r"entry \(1, 0\)"):
        decide(m, sp.Matrix([[1], [x]]))
    with pytest.raises(DerivationError, match="shapes"):
        decide(m, sp.Matrix([[1, 0]]))


def test_a_label_never_depends_on_the_speed_of_the_machine():
    j = sp.Symbol("j", integer=True, positive=True)
    beta = sp.Symbol("beta", positive=True)
    Z = sp.Sum(sp.exp(-beta * F(W, x, j)), (j, 1, n))
    total = sp.Sum(sp.exp(-beta * F(W, x, k)) / Z, (k, 1, n))
    # sympy is never asked: the label is "tested", whatever the machine
    assert decide(total, sp.Integer(1), prove=False).label.startswith("tested at")
    assert decide(sp.exp(x) * sp.exp(-x), sp.Integer(1), prove=False).label.startswith("tested at")
    # a proof attempt that outlives the guard raises instead of quietly changing the label
    with pytest.raises(DerivationError, match="pass prove=False"):
        decide(sp.expand((x + y) ** 40), (x + y) ** 40 + z - z, timeout=0.01)
    d = Derivation(sp.exp(x) * sp.exp(-x), prove=False).step(sp.Integer(1), because="exponents")
    d.step(sp.Integer(1) + 0 * x, because="nothing", prove=True)
    assert [s.proof for s in d.steps[1:]] == ["tested at 12 points", "proved"]
    with pytest.raises(TypeError):
        Derivation(x, prove=1)  # type: ignore[arg-type]
