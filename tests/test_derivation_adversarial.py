"""The derivation checker, attacked: false steps it must refuse and true steps it must accept.

Every false step below is refused for *every* seed from 0 to 99, and every
true step is accepted for every seed.  The false steps are chosen to slip
through a naive random test: wrong only on one side of a kink, only exactly
on a kink, only outside a small box, only when two integer labels coincide,
only for large integers, or only when an energy is negative.
"""
from __future__ import annotations

import os

import pytest
import sympy as sp

from ebm_utils.derivation import Derivation, DerivationError
from ebm_utils.symbolic import energy, indicator, label_sum, positive_part, sigmoid, softplus

#: every seed from 0 to 99; mutation testing (tools/mutation.py) runs a few, to finish in hours, not days
SEEDS = range(int(os.environ.get("EBM_ADVERSARIAL_SEEDS", "100")))
# the proof budget in CPU seconds; `make mutation` raises it, since it switches sympy's cache off
TIMEOUT = float(os.environ.get("EBM_ADVERSARIAL_PROOF_SECONDS", "120"))

F = energy("F")
G = sp.Function("G")
W, x, y, yb, u, z, a, b, c = sp.symbols("W x y ybar u z a b c", real=True)
m = sp.Symbol("m", nonnegative=True)
beta = sp.Symbol("beta", positive=True)
n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
j = sp.Symbol("j", integer=True, positive=True)
i_ = sp.Symbol("i", integer=True)
ly, lyb = sp.symbols("l_y l_ybar", integer=True, positive=True)  # integer labels

Fp, Fn = F(W, x, y), F(W, x, yb)
dFp, dFn = sp.diff(Fp, W), sp.diff(Fn, W)
Fl, Flb = F(W, x, ly), F(W, x, lyb)

simple = positive_part(Fp) + positive_part(m - Fn)
simple_grad = indicator(Fp) * dFp - indicator(m - Fn) * dFn
sqsq = positive_part(Fp) ** 2 + positive_part(m - Fn) ** 2
sqsq_grad = 2 * positive_part(Fp) * dFp - 2 * positive_part(m - Fn) * dFn
hinge = positive_part(m + Fp - Fn)
hinge_grad = indicator(m + Fp - Fn) * (dFp - dFn)
log_loss = softplus(Fp - Fn)
log_grad = sigmoid(Fp - Fn) * (dFp - dFn)
Z = label_sum(sp.exp(-beta * F(W, x, k)), k, n)
p_k = sp.exp(-beta * F(W, x, k)) / Z
nll = F(W, x, ly) + sp.log(Z) / beta
nll_grad = sp.diff(F(W, x, ly), W) - sp.Sum(p_k * sp.diff(F(W, x, k), W), (k, 1, n))
Zj = sp.Sum(sp.exp(-beta * F(W, x, j)), (j, 1, n))
poly6 = sp.prod([n - r for r in range(1, 7)])

# (name, previous line, claimed next line, conditions)
FALSE_STEPS: list[tuple[str, sp.Expr, sp.Expr, tuple]] = [
    # a kink dropped: wrong only where the energy is negative
    ("positive part of an energy dropped", positive_part(Fp), Fp, ()),
    ("simple-loss gradient, 1[F > 0] dropped", sp.diff(simple, W), dFp - indicator(m - Fn) * dFn, ()),
    ("square-square gradient with 2F for 2[F]+", sp.diff(sqsq, W), 2 * Fp * dFp - 2 * positive_part(m - Fn) * dFn, ()),
    ("hinge gradient without its indicator", sp.diff(hinge, W), dFp - dFn, ()),
    ("hinge with the margin's sign flipped", hinge, positive_part(-m + Fp - Fn), ()),
    ("|F| = F", sp.Abs(Fp), Fp, ()),
    ("sqrt(F^2) = F", sp.sqrt(Fp**2), Fp, ()),
    ("[m - F]+ = m - F", positive_part(m - Fn), m - Fn, ()),
    ("[F]+ [-F]+ = [F]+", positive_part(Fp) + positive_part(-Fp), positive_part(Fp), ()),
    # wrong only outside a small box
    ("Max(x, -4) = x", sp.Max(x, -4), x, ()),
    ("Min(x, 5) = x", sp.Min(x, 5), x, ()),
    ("[x - 200]+ = 0", positive_part(x - 200), sp.Integer(0), ()),
    ("[-x - 50]+ = 0", positive_part(-x - 50), sp.Integer(0), ()),
    ("Max(u, u^3/1000) = u", sp.Max(u, u**3 / 1000), u, ()),
    ("[F - 20]+ = 0 for an energy", positive_part(Fp - 20), sp.Integer(0), ()),
    ("[-F - 20]+ = 0 for an energy", positive_part(-Fp - 20), sp.Integer(0), ()),
    ("sqrt(x^2) = x", sp.sqrt(x**2), x, ()),
    # wrong only for large integers
    ("n + (n-1)(n-2)...(n-6) = n", n + poly6, n, ()),
    ("Min(n, 50) = n", sp.Min(n, 50), n, ()),
    ("Heaviside(n - 60) = 0", sp.Heaviside(n - 60), sp.Integer(0), ()),
    # wrong only exactly at a kink
    ("indicator(z) = Heaviside(z)", indicator(z), sp.Heaviside(z), ()),
    ("Heaviside(z, 0) = Heaviside(z, 1)", sp.Heaviside(z, 0), sp.Heaviside(z, 1), ()),
    ("d Max(0, F)/dW = 1[F > 0] dF/dW", sp.diff(sp.Max(0, Fp), W), indicator(Fp) * dFp, ()),
    ("sign(z) = 2 1[z > 0] - 1", sp.sign(z), 2 * indicator(z) - 1, ()),
    ("Heaviside(m - F, 0) = 1 - 1[F - m > 0]", sp.Heaviside(m - Fn, 0), 1 - indicator(Fn - m), ()),
    ("Piecewise(z >= 0) = 1[z > 0]", sp.Piecewise((1, z >= 0), (0, True)), indicator(z), ()),
    ("hinge gradient at the margin, Heaviside 1/2",
     sp.diff(hinge, W), sp.Heaviside(m + Fp - Fn) * (dFp - dFn), ()),
    # wrong only when two labels coincide
    ("KroneckerDelta(y, ybar) = 0", sp.KroneckerDelta(ly, lyb), sp.Integer(0), ()),
    ("(1 - delta) F(y) = F(y)", (1 - sp.KroneckerDelta(ly, lyb)) * Fl, Fl, ()),
    ("F(y) - F(ybar) never vanishes: 1[F(y) - F(ybar) != 0] = 1",
     sp.Piecewise((1, sp.Ne(Fl - Flb, 0)), (0, True)), sp.Integer(1), ()),
    ("Heaviside(y - ybar, 0) + Heaviside(ybar - y, 0) = 1",
     sp.Heaviside(ly - lyb, 0) + sp.Heaviside(lyb - ly, 0), sp.Integer(1), ()),
    ("sum over k of delta(k, y) = 0", sp.Sum(sp.KroneckerDelta(k, ly), (k, 1, n)), sp.Integer(0), ()),
    ("two labels, two different energies", Fl - Flb, Fl - Flb + sp.KroneckerDelta(ly, lyb), ()),
    # sums over labels
    ("probabilities sum to 2", sp.Sum(sp.exp(-beta * F(W, x, k)) / Zj, (k, 1, n)), sp.Integer(2), ()),
    ("NLL gradient with n + 1 labels", sp.diff(nll, W),
     sp.diff(F(W, x, ly), W) - sp.Sum(p_k * sp.diff(F(W, x, k), W), (k, 1, n + 1)), ()),
    ("NLL gradient with the negative phase's sign flipped", sp.diff(nll, W),
     sp.diff(F(W, x, ly), W) + sp.Sum(p_k * sp.diff(F(W, x, k), W), (k, 1, n)), ()),
    ("NLL gradient with beta left in the negative phase", sp.diff(nll, W),
     sp.diff(F(W, x, ly), W) - beta * sp.Sum(p_k * sp.diff(F(W, x, k), W), (k, 1, n)), ()),
    ("sum_k k = n^2 / 2", sp.Sum(k, (k, 1, n)), n**2 / 2, ()),
    ("(-1)^n = 1", (-1) ** n, sp.Integer(1), ()),
    # wrong only exactly at an integer kink away from the small pool
    ("Heaviside(n - 7, 0) n = Heaviside(n - 7, 1) n", sp.Heaviside(n - 7, 0) * n, sp.Heaviside(n - 7, 1) * n, ()),
    ("Heaviside(n - 60, 0) = Heaviside(n - 60, 1)", sp.Heaviside(n - 60, 0), sp.Heaviside(n - 60, 1), ()),
    # wrong only when two kinks are active together
    ("[x - 5]+ [y - 5]+ = 0", positive_part(x - 5) * positive_part(y - 5), sp.Integer(0), ()),
    ("[x - 500]+ [u - 500]+ = 0", positive_part(x - 500) * positive_part(u - 500), sp.Integer(0), ()),
    ("three kinks at once", positive_part(a - 5) * positive_part(b - 5) * positive_part(c - 5), sp.Integer(0), ()),
    # wrong only relatively: both sides are tiny
    ("x e^-100 = 2 x e^-100", x * sp.exp(-100), 2 * x * sp.exp(-100), ()),
    ("F e^(-200) = 0", Fp * sp.exp(-200), sp.Integer(0), ()),
    # smooth slips
    ("log-loss gradient with sigma of the wrong sign", sp.diff(log_loss, W), sigmoid(Fn - Fp) * (dFp - dFn), ()),
    ("softplus(u) = [u]+", softplus(u), positive_part(u), ()),
    ("d(F^2)/dW = F dF/dW", sp.diff(Fp**2, W), Fp * dFp, ()),
    ("chain rule forgets the inner derivative", sp.diff(G(W**2), W), sp.Subs(sp.Derivative(G(a), a), a, W**2), ()),
    ("second derivative slip", sp.diff(sp.exp(-beta * Fp), W, 2),
     beta**2 * dFp**2 * sp.exp(-beta * Fp), ()),
    ("shift invariance claimed for the simple loss",
     positive_part(Fp + c) + positive_part(m - Fn - c), simple, ()),
]

TRUE_STEPS: list[tuple[str, sp.Expr, sp.Expr, tuple]] = [
    ("simple-loss gradient", sp.diff(simple, W), simple_grad, ()),
    ("square-square gradient", sp.diff(sqsq, W), sqsq_grad, ()),
    ("hinge gradient", sp.diff(hinge, W), hinge_grad, ()),
    ("log-loss gradient", sp.diff(log_loss, W), log_grad, ()),
    ("NLL gradient", sp.diff(nll, W), nll_grad, ()),
    ("probabilities sum to 1", sp.Sum(sp.exp(-beta * F(W, x, k)) / Zj, (k, 1, n)), sp.Integer(1), ()),
    ("Max(x, -4) = x + [-4 - x]+", sp.Max(x, -4), x + positive_part(-4 - x), ()),
    ("|F| = [F]+ + [-F]+", sp.Abs(Fp), positive_part(Fp) + positive_part(-Fp), ()),
    ("sign(z) = 2 Heaviside(z) - 1", sp.sign(z), 2 * sp.Heaviside(z) - 1, ()),
    ("Heaviside(z, 1) = 1 - 1[-z > 0]", sp.Heaviside(z, 1), 1 - indicator(-z), ()),
    ("indicator(z) = Heaviside(z, 0)", indicator(z), sp.Heaviside(z, 0), ()),
    ("[z]+ = z 1[z > 0]", positive_part(z), z * indicator(z), ()),
    ("Min(a, b) = a - [a - b]+", sp.Min(a, b), a - positive_part(a - b), ()),
    ("Piecewise form of the positive part", sp.Piecewise((x, x > 0), (0, True)), positive_part(x), ()),
    ("softplus(u) - softplus(-u) = u", softplus(u) - softplus(-u), u, ()),
    ("sigma(u) + sigma(-u) = 1", sigmoid(u) + sigmoid(-u), sp.Integer(1), ()),
    ("log loss is shift invariant", softplus((Fp + c) - (Fn + c)), log_loss, ()),
    ("free energy shifts with the energies",
     -sp.log(label_sum(sp.exp(-beta * (F(W, x, k) + c)), k, n)) / beta,
     -sp.log(Z) / beta + c, ()),
    ("picking one label with a Kronecker delta",
     sp.Sum(sp.KroneckerDelta(k, ly) * F(W, x, k), (k, 1, n)), F(W, x, ly), (sp.Le(ly, n),)),
    ("delta of two labels is symmetric", sp.KroneckerDelta(ly, lyb) * Fl, sp.KroneckerDelta(lyb, ly) * Flb, ()),
    ("n + (n-1)...(n-6), expanded", n + poly6, sp.expand(n + poly6), ()),
    ("sum_k k = n(n + 1)/2", sp.Sum(k, (k, 1, n)), n * (n + 1) / 2, ()),
    ("(-1)^(2n) = 1", (-1) ** (2 * n), sp.Integer(1), ()),
    ("sqrt(x^2) = |x|", sp.sqrt(x**2), sp.Abs(x), ()),
    ("sqrt(x^2) = x where x > 0", sp.sqrt(x**2), x, (x > 0,)),
    ("chain rule", sp.diff(G(W**2), W), 2 * W * sp.Subs(sp.Derivative(G(a), a), a, W**2), ()),
    ("two kinks active together, rewritten", positive_part(x - 5) * positive_part(y - 5),
     sp.Piecewise(((x - 5) * (y - 5), (x > 5) & (y > 5)), (0, True)), ()),
    ("tiny values, equal", x * sp.exp(-100) + Fp * sp.exp(-200), (x + Fp * sp.exp(-100)) * sp.exp(-100), ()),
    ("second derivative of a Boltzmann factor", sp.diff(sp.exp(-beta * Fp), W, 2),
     (beta**2 * dFp**2 - beta * sp.diff(Fp, W, 2)) * sp.exp(-beta * Fp), ()),
    ("d/dW of [F]+^2 with the book's convention", sp.diff(positive_part(Fp) ** 2, W),
     2 * positive_part(Fp) * dFp, ()),
]


@pytest.mark.parametrize("name, prev, claim, where", FALSE_STEPS, ids=[s[0] for s in FALSE_STEPS])
def test_false_step_refused_for_every_seed(name, prev, claim, where):
    accepted = []
    for seed in SEEDS:
        try:
            Derivation(prev, where=where, stream=seed, timeout=TIMEOUT).step(claim, because="claim")
        except DerivationError:
            continue
        accepted.append(seed)
    assert not accepted, f"{name!r} was accepted for seeds {accepted}"


@pytest.mark.parametrize("name, prev, claim, where", TRUE_STEPS, ids=[s[0] for s in TRUE_STEPS])
def test_true_step_accepted_for_every_seed(name, prev, claim, where):
    refused = {}
    for seed in SEEDS:
        try:
            Derivation(prev, where=where, stream=seed, timeout=TIMEOUT).step(claim, because="claim")
        except DerivationError as err:
            refused[seed] = str(err)
    assert not refused, f"{name!r} was refused for seeds {sorted(refused)}: {next(iter(refused.values()))}"


def test_enough_adversarial_cases():
    assert len(FALSE_STEPS) >= 40 and len(TRUE_STEPS) >= 20


# The random test alone (prove=False), where the lines cancel far below 1e-100: with |z| up to
# 1e3, 1 - sigma(z) is about e^-1000 = 1e-434, so only the escalation to 800 digits sees it.
@pytest.mark.parametrize("name, prev, claim, true", [
    ("1 - sigma(z) = sigma(-z)", 1 - sigmoid(u), sigmoid(-u), True),
    ("1 - sigma(z) = 2 sigma(-z)", 1 - sigmoid(u), 2 * sigmoid(-u), False),
    ("1 - sigma(z) = sigma(-z) (1 + e^-z)", 1 - sigmoid(u), sigmoid(-u) * (1 + sp.exp(-u)), False),
])
def test_cancellation_below_100_digits(name, prev, claim, true):
    verdicts = []
    for seed in SEEDS:
        try:
            Derivation(prev, stream=seed, prove=False, timeout=TIMEOUT).step(claim, because="claim")
            verdicts.append(True)
        except DerivationError:
            verdicts.append(False)
    assert all(v is true for v in verdicts), f"{name!r}: wrong verdict for seeds {[s for s, v in zip(SEEDS, verdicts) if v is not true]}"
