"""The loss registry of ebm_utils.losses (uniform calls, most offending label, shift derivatives) and the soft hinge."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.losses import (
    LOSS_NAMES,
    LOSSES,
    PAIRWISE_NAMES,
    hinge_loss,
    log_loss,
    loss_from_energies,
    loss_info,
    most_offending,
    nll_loss,
    pair_loss,
    shift_derivative,
    simple_loss,
    soft_hinge_loss,
    square_square_loss,
    tempered_softplus,
)
from ebm_utils.seeding import generator

D = torch.float64


def _batch(b: int = 6, n: int = 4, stream: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = generator(stream)
    e = torch.randn(b, n, generator=g, dtype=D)
    t = torch.randint(0, n, (b,), generator=g)
    neg = (t + 1 + torch.randint(0, n - 1, (b,), generator=g)) % n
    return e, t, neg


# ---------------------------------------------------------------- registry
def test_registry_names_and_flags():
    assert LOSS_NAMES == ("nll", "hinge", "log", "simple", "square_square")
    assert PAIRWISE_NAMES == ("hinge", "log", "simple", "square_square")
    assert [k for k, v in LOSSES.items() if v.shift_invariant] == ["nll", "hinge", "log"]
    assert [k for k, v in LOSSES.items() if v.has_margin] == ["hinge", "simple", "square_square"]


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown loss"):
        loss_info("squared_hinge")
    with pytest.raises(TypeError):
        loss_info(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------- uniform calls
@pytest.mark.parametrize(
    "name,fn",
    [("hinge", hinge_loss), ("simple", simple_loss), ("square_square", square_square_loss)],
)
def test_margin_losses_match_library(name, fn):
    e, t, neg = _batch()
    pos, ng = e.gather(1, t[:, None])[:, 0], e.gather(1, neg[:, None])[:, 0]
    for m in (0.0, 0.7, 2.0):
        got = loss_from_energies(name, e, t, neg, margin=m, reduction="none")
        torch.testing.assert_close(got, fn(pos, ng, margin=m, reduction="none"), rtol=0, atol=0)


def test_log_and_nll_match_library():
    e, t, neg = _batch()
    pos, ng = e.gather(1, t[:, None])[:, 0], e.gather(1, neg[:, None])[:, 0]
    torch.testing.assert_close(loss_from_energies("log", e, t, neg), log_loss(pos, ng), rtol=0, atol=0)
    torch.testing.assert_close(
        loss_from_energies("nll", e, t, beta=2.5), nll_loss(e, t, beta=2.5), rtol=0, atol=0
    )


def test_pair_loss_by_name():
    e, t, neg = _batch()
    pos, ng = e.gather(1, t[:, None])[:, 0], e.gather(1, neg[:, None])[:, 0]
    for name, fn in [("hinge", hinge_loss), ("simple", simple_loss), ("square_square", square_square_loss)]:
        assert torch.equal(pair_loss(name, pos, ng, 0.7), fn(pos, ng, margin=0.7))
    assert torch.equal(pair_loss("log", pos, ng, 0.7), log_loss(pos, ng))
    with pytest.raises(ValueError, match="not a pairwise loss"):
        pair_loss("nll", pos, ng)


def test_margin_is_used_not_ignored():
    e, t, neg = _batch()
    a = loss_from_energies("hinge", e, t, neg, margin=0.0)
    b = loss_from_energies("hinge", e, t, neg, margin=3.0)
    assert b > a


def test_most_offending_is_lowest_incorrect_energy():
    e = torch.tensor([[0.0, -1.0, 2.0], [5.0, 1.0, 0.5], [-3.0, 4.0, 4.0]], dtype=D)
    t = torch.tensor([1, 2, 0])
    assert most_offending(e, t).tolist() == [0, 1, 1]
    # a wrong rule (the overall argmin) would pick the correct label of row 0 and row 2
    assert most_offending(e, t).tolist() != e.argmin(1).tolist()
    got = loss_from_energies("hinge", e, t, reduction="none")
    want = loss_from_energies("hinge", e, t, torch.tensor([0, 1, 1]), reduction="none")
    torch.testing.assert_close(got, want)


def test_bad_negatives_and_arguments_are_refused():
    e, t, neg = _batch()
    with pytest.raises(ValueError, match="equals the correct label"):
        loss_from_energies("hinge", e, t, t.clone())
    with pytest.raises(ValueError, match="do not pass negative"):
        loss_from_energies("nll", e, t, neg)
    with pytest.raises(TypeError):
        loss_from_energies("log", e, t, neg.to(D))
    with pytest.raises(ValueError, match="shape"):
        loss_from_energies("log", e, t, neg[:-1])
    with pytest.raises(IndexError):
        loss_from_energies("log", e, t, neg + 10)
    with pytest.raises(ValueError):
        loss_from_energies("hinge", e, t, neg, margin=-1.0)
    with pytest.raises(ValueError):
        loss_from_energies("nll", e, t, beta=0.0)
    with pytest.raises(ValueError, match=r"\[B, n\]"):
        loss_from_energies("log", e[0], t[0])
    with pytest.raises(ValueError, match="at least 2"):
        most_offending(e[:, :1], torch.zeros(6, dtype=torch.long))


# ---------------------------------------------------------------- shift
def test_shift_derivative_zero_only_for_relative_losses():
    e, t, neg = _batch(b=8, n=3, stream=5)
    e = 3 * e  # spread, so that some simple-loss terms are active
    for name in ("hinge", "log"):
        assert bool((shift_derivative(name, e, t, neg) == 0).all())
    assert float(shift_derivative("nll", e, t).abs().max()) < 1e-14
    for name in ("simple", "square_square"):
        assert float(shift_derivative(name, e, t, neg).abs().max()) > 0.1


def test_shift_derivative_matches_finite_difference():
    e, t, neg = _batch(b=4, n=3, stream=6)
    h = 1e-6
    for name in LOSS_NAMES:
        kw = {} if name == "nll" else {"negative": neg}
        fd = (
            loss_from_energies(name, e + h, t, reduction="none", **kw)
            - loss_from_energies(name, e - h, t, reduction="none", **kw)
        ) / (2 * h)
        torch.testing.assert_close(shift_derivative(name, e, t, **kw), fd, atol=1e-6, rtol=0)


# ---------------------------------------------------------------- soft hinge
def test_tempered_softplus_gap_bound_and_limit():
    u = torch.linspace(-5, 5, 1001, dtype=D)
    for beta in (0.5, 1.0, 4.0, 50.0):
        gap = tempered_softplus(u, beta) - torch.relu(u)
        # float64 rounds the gap to 0 (or one ulp below) once beta*|u| > ~37
        assert float(gap.min()) >= -1e-15
        assert bool((gap[(beta * u).abs() < 30] > 0).all())
        assert float(gap.max()) <= math.log(2) / beta + 1e-15
        assert float(gap[500]) == pytest.approx(math.log(2) / beta, rel=1e-14)  # u = 0
    # a wrong bound, log(2) / beta^2, is violated for beta > 1
    assert float((tempered_softplus(u, 4.0) - torch.relu(u)).max()) > math.log(2) / 4.0**2


def test_soft_hinge_special_cases():
    e, t, neg = _batch()
    pos, ng = e.gather(1, t[:, None])[:, 0], e.gather(1, neg[:, None])[:, 0]
    torch.testing.assert_close(soft_hinge_loss(pos, ng), log_loss(pos, ng), rtol=1e-15, atol=0)
    for m in (0.5, 1.0):
        far = soft_hinge_loss(pos, ng, margin=m, beta=1e3, reduction="none")
        assert float((far - hinge_loss(pos, ng, margin=m, reduction="none")).abs().max()) <= math.log(2) / 1e3
    with pytest.raises(ValueError):
        soft_hinge_loss(pos, ng, beta=-1.0)
    with pytest.raises(ValueError):
        soft_hinge_loss(pos, ng, reduction="max")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tempered_softplus([0.0, 1.0])  # type: ignore[arg-type]
