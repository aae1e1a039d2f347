"""The zoo losses as functions of (E_C, E_I), their profile along the gap E_I - E_C, and their
gradients (page "The loss zoo")."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.checks import finite_difference_gradient
from ebm_utils.losses import (
    ZOO_NAMES,
    energy_loss,
    hinge_loss,
    log_loss,
    lvq2_loss,
    mce_loss,
    mee_loss,
    nll_loss,
    perceptron_loss,
    square_exp_loss,
    square_square_loss,
    zoo_gap_profile,
    zoo_pair_gradient,
    zoo_pair_loss,
)

D = torch.float64
OPTIONS = {"margin": 0.7, "saturation": 1.3, "gamma": 0.4, "beta": 2.5}


def pairs(n: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    e = 6 * torch.rand(2, n, generator=g, dtype=D) - 3
    return e[0], e[1]


def expected(name: str, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Each loss written out by hand from its formula, with the options above."""
    m, big_m, gamma, beta = OPTIONS["margin"], OPTIONS["saturation"], OPTIONS["gamma"], OPTIONS["beta"]
    u = pos - neg
    return {
        "energy": pos,
        "perceptron": torch.clamp(u, min=0),
        "hinge": torch.clamp(m + u, min=0),
        "log": torch.log1p(torch.exp(u)),
        "LVQ2": torch.clamp(torch.clamp(u, min=0), max=big_m),
        "MCE": 1 / (1 + torch.exp(-u)),
        "square-square": torch.clamp(pos, min=0) ** 2 + torch.clamp(m - neg, min=0) ** 2,
        "square-exp": pos**2 + gamma * torch.exp(-neg),
        "NLL": torch.log1p(torch.exp(beta * u)) / beta,
        "MEE": 1 / (1 + torch.exp(-beta * u)),
    }[name]


def test_the_zoo_has_the_ten_rows_of_the_table_once():
    assert len(ZOO_NAMES) == 10 == len(set(ZOO_NAMES))


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_each_loss_equals_its_formula(name):
    pos, neg = pairs()
    got = zoo_pair_loss(name, pos, neg, reduction="none", **OPTIONS)
    torch.testing.assert_close(got, expected(name, pos, neg), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_each_loss_is_the_library_function(name):
    pos, neg = pairs()
    two = torch.stack([pos, neg], -1)
    zero = torch.zeros(len(pos), dtype=torch.long)
    m, big_m, gamma, beta = OPTIONS["margin"], OPTIONS["saturation"], OPTIONS["gamma"], OPTIONS["beta"]
    library = {
        "energy": lambda: energy_loss(pos, "none"),
        "perceptron": lambda: perceptron_loss(two, zero, "none"),
        "hinge": lambda: hinge_loss(pos, neg, m, "none"),
        "log": lambda: log_loss(pos, neg, "none"),
        "LVQ2": lambda: lvq2_loss(pos, neg, big_m, "none"),
        "MCE": lambda: mce_loss(pos, neg, "none"),
        "square-square": lambda: square_square_loss(pos, neg, m, "none"),
        "square-exp": lambda: square_exp_loss(pos, neg, gamma, "none"),
        "NLL": lambda: nll_loss(two, zero, beta, "none"),
        "MEE": lambda: mee_loss(two, zero, beta, "none"),
    }[name]()
    assert torch.equal(zoo_pair_loss(name, pos, neg, reduction="none", **OPTIONS), library)


def test_reduction_and_shape_are_kept():
    pos, neg = pairs(12)
    pos, neg = pos.reshape(3, 4), neg.reshape(3, 4)
    for name in ZOO_NAMES:
        each = zoo_pair_loss(name, pos, neg, reduction="none")
        assert each.shape == (3, 4)
        torch.testing.assert_close(zoo_pair_loss(name, pos, neg, reduction="sum"), each.sum())
        torch.testing.assert_close(zoo_pair_loss(name, pos, neg), each.mean())


def test_options_a_loss_does_not_have_are_ignored():
    pos, neg = pairs()
    base = zoo_pair_loss("log", pos, neg, reduction="none")
    assert torch.equal(zoo_pair_loss("log", pos, neg, margin=5.0, gamma=3.0, beta=7.0, reduction="none"), base)


def test_bad_names_and_inputs_are_refused():
    pos, neg = pairs(3)
    with pytest.raises(ValueError, match="one of"):
        zoo_pair_loss("hinge-squared", pos, neg)
    with pytest.raises(TypeError):
        zoo_pair_loss(3, pos, neg)
    with pytest.raises(ValueError):
        zoo_pair_loss("hinge", pos, neg[:2])
    with pytest.raises(ValueError):
        zoo_pair_loss("LVQ2", pos, neg, saturation=0.0)
    with pytest.raises(ValueError):
        zoo_pair_loss("NLL", pos, neg, beta=-1.0)


# ---------------------------------------------------------------- the gap profile
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_profile_slopes_match_finite_differences_away_from_kinks(name):
    gaps = torch.linspace(-3, 3, 41, dtype=D) + 0.0371  # > 0.01 from every kink (-1.3, -0.2, 0, 0.7, 1.6)
    values, slopes = zoo_gap_profile(name, gaps, level=0.8, **OPTIONS)
    for g, v, s in zip(gaps, values, slopes):
        f = lambda w: zoo_pair_loss(name, 0.8 - w / 2, 0.8 + w / 2, reduction="sum", **OPTIONS)  # noqa: E731
        assert float(v) == pytest.approx(float(f(g)), abs=1e-12)
        fd = float(finite_difference_gradient(f, g.reshape(1))[0])
        assert float(s) == pytest.approx(fd, abs=1e-6), (name, float(g))


def test_profile_uses_the_books_gap_sign():
    # gap = E_I - E_C: a positive gap means the correct answer is ahead
    gaps = torch.tensor([-2.0, 2.0], dtype=D)
    values, _ = zoo_gap_profile("perceptron", gaps, level=0.3)
    assert values.tolist() == [2.0, 0.0]
    values, _ = zoo_gap_profile("energy", gaps, level=0.3)
    assert values.tolist() == [1.3, -0.7]


def test_profile_slope_at_a_kink_follows_relu():
    # hinge with margin 1: the kink is at gap 1, where torch.relu reports slope 0
    _, slopes = zoo_gap_profile("hinge", torch.tensor([1.0, 0.5], dtype=D), margin=1.0)
    assert [abs(s) for s in slopes.tolist()] == [0.0, 1.0]
    assert slopes[1] == -1.0


GAP_ONLY = ("perceptron", "hinge", "log", "LVQ2", "MCE", "NLL", "MEE")


@pytest.mark.parametrize("level", [-3.0, 0.0, 1.0, 3.0])
def test_profile_shows_which_gap_losses_stop_pushing_at_any_level(level):
    gaps = torch.logspace(0.7, 1.5, 9, dtype=D)  # clearly right: gaps from 5 to about 32
    flat = {n for n in GAP_ONLY if bool((zoo_gap_profile(n, gaps, level=level)[1] == 0).all())}
    assert flat == {"perceptron", "hinge", "LVQ2"}
    for n in set(GAP_ONLY) - flat:  # the others push, and the right way: the slope is negative
        assert bool((zoo_gap_profile(n, gaps, level=level)[1] < 0).all()), n


def test_gap_losses_do_not_depend_on_the_level():
    gaps = torch.linspace(-4, 4, 33, dtype=D) + 0.013
    for n in GAP_ONLY:
        ref = zoo_gap_profile(n, gaps, level=0.0, **OPTIONS)
        for level in (-5.0, 2.5):
            got = zoo_gap_profile(n, gaps, level=level, **OPTIONS)
            torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


def test_square_square_stops_exactly_where_ec_is_at_most_0_and_ei_at_least_m():
    ec = torch.linspace(-3, 3, 61, dtype=D)
    ei = torch.linspace(-2, 4, 61, dtype=D)
    ec, ei = torch.meshgrid(ec, ei, indexing="ij")
    gc, gi = zoo_pair_gradient("square-square", ec, ei, margin=0.7)
    assert torch.equal((gc == 0) & (gi == 0), (ec <= 0) & (ei >= 0.7))
    # at one gap the verdict changes with the level: not a property of the gap
    gaps = torch.tensor([3.0], dtype=D)
    assert zoo_gap_profile("square-square", gaps, level=0.5, margin=1.0)[1].item() == 0
    assert zoo_gap_profile("square-square", gaps, level=3.0, margin=1.0)[1].item() != 0
    assert zoo_gap_profile("square-square", gaps, level=-3.0, margin=1.0)[1].item() != 0


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_pair_gradient_matches_finite_differences(name):
    pos, neg = pairs(20)
    pos, neg = pos + 0.0123, neg - 0.0071  # away from the kinks of these options
    gc, gi = zoo_pair_gradient(name, pos, neg, **OPTIONS)
    for i in range(len(pos)):
        f = lambda w: zoo_pair_loss(name, w[:1], w[1:], reduction="sum", **OPTIONS)  # noqa: E731
        fd = finite_difference_gradient(f, torch.stack([pos[i], neg[i]]))
        assert float(gc[i]) == pytest.approx(float(fd[0]), abs=1e-6), (name, i)
        assert float(gi[i]) == pytest.approx(float(fd[1]), abs=1e-6), (name, i)


def test_pair_gradient_signs():
    pos, neg = pairs(200)
    for name in ZOO_NAMES:
        gc, gi = zoo_pair_gradient(name, pos, neg, **OPTIONS)
        assert bool((gi <= 0).all()), name  # descent never lowers E_I
        if name != "square-exp":
            assert bool((gc >= 0).all()), name  # descent never raises E_C ...
    gc, _ = zoo_pair_gradient("square-exp", pos, neg, **OPTIONS)
    assert bool((gc[pos < 0] < 0).all())  # ... except square-exp's E_C^2 at E_C < 0


def test_pair_gradient_energy_loss_has_no_ei_component():
    pos, neg = pairs(5)
    gc, gi = zoo_pair_gradient("energy", pos, neg)
    assert gc.tolist() == [1.0] * 5 and gi.tolist() == [0.0] * 5


def test_profile_refuses_bad_arguments():
    with pytest.raises(ValueError, match="1-D"):
        zoo_gap_profile("log", torch.zeros(2, 2, dtype=D))
    with pytest.raises(ValueError, match="level"):
        zoo_gap_profile("log", torch.zeros(2, dtype=D), level=math.inf)
    with pytest.raises(TypeError, match="reduction"):
        zoo_gap_profile("log", torch.zeros(2, dtype=D), reduction="sum")
    with pytest.raises(ValueError, match="one of"):
        zoo_gap_profile("squared", torch.zeros(2, dtype=D))


def test_pair_gradient_refuses_bad_arguments():
    with pytest.raises(TypeError, match="reduction"):
        zoo_pair_gradient("log", torch.zeros(2, dtype=D), torch.zeros(2, dtype=D), reduction="sum")
    with pytest.raises(ValueError):
        zoo_pair_gradient("log", torch.zeros(2, dtype=D), torch.zeros(3, dtype=D))
    with pytest.raises(ValueError, match="one of"):
        zoo_pair_gradient("squared", torch.zeros(2, dtype=D), torch.zeros(2, dtype=D))
