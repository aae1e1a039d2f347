"""Exact label draws without the partition function, chains from the data, and measured compute.

Tests of the functions that chapter 1.2(iii) appends to ``ebm_utils.sampling``
(rejection from a lower bound, Gumbel-max, the Metropolis transition matrix,
the chain from a start label, the chi-square score) and to ``ebm_utils.costs``
(``measure_compute``).  Every test that accepts a sampler also shows the same
check rejecting a wrong one.
"""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.costs import ComputeCost, measure_compute
from ebm_utils.losses import gibbs_distribution
from ebm_utils.sampling import (
    chain_distribution,
    chi_square_z,
    gumbel_max_labels,
    metropolis_distribution,
    metropolis_transition,
    rejection_cost,
    rejection_labels,
    sample_labels,
)
from ebm_utils.seeding import generator

D = torch.float64
E = torch.tensor([0.3, 1.0, 0.0, 2.5, 0.7, 1.2], dtype=D)


def counting(energies):
    calls = [0]

    def energy_of(labels):
        calls[0] += labels.numel()
        return energies[labels]

    return energy_of, calls


# ---------------------------------------------------------------- chi-square score
def test_chi_square_accepts_exact_draws_and_rejects_wrong_beta():
    p = gibbs_distribution(E, beta=1.5)
    draws = sample_labels(E, 50_000, beta=1.5, stream=1)
    assert abs(chi_square_z(draws, p)) < 4
    wrong = sample_labels(E, 50_000, beta=2.0, stream=1)
    assert chi_square_z(wrong, p) > 4


def test_chi_square_null_distribution_is_standard_normal():
    """Under the null the score has mean about 0 and standard deviation about 1."""
    p = gibbs_distribution(E)
    z = torch.tensor([chi_square_z(sample_labels(E, 2000, stream=s), p) for s in range(200)])
    assert abs(float(z.mean())) < 0.25 and 0.8 < float(z.std()) < 1.2


def test_chi_square_input_checks():
    p = gibbs_distribution(E)
    with pytest.raises(ValueError, match="too few draws"):
        chi_square_z(torch.zeros(10, dtype=torch.long), p)
    with pytest.raises(ValueError, match="probability vector"):
        chi_square_z(torch.zeros(10, dtype=torch.long), torch.tensor([0.5, 0.6], dtype=D))
    with pytest.raises(IndexError):
        chi_square_z(torch.full((100,), 6), p)


def test_chi_square_pools_rare_labels():
    """Labels expected fewer than 5 times are pooled, so a skewed distribution can still be tested."""
    e = torch.tensor([0.0, 0.2, 0.5, 6.0, 7.0, 8.0, 9.0], dtype=D)  # the last four are rare
    p = gibbs_distribution(e)
    assert float((2000 * p).min()) < 5
    draws = sample_labels(e, 2000, stream=3)
    assert abs(chi_square_z(draws, p)) < 4
    # the pooled test still sees a distribution that moves mass into the rare labels
    wrong = torch.cat([draws[:1800], torch.full((200,), 6)])
    assert chi_square_z(wrong, p) > 4
    # pooling by hand gives the same score: three large cells and one pooled cell
    merged = torch.where(draws >= 3, torch.tensor(3), draws)
    p_merged = torch.cat([p[:3], p[3:].sum()[None]])
    assert chi_square_z(merged, p_merged) == pytest.approx(chi_square_z(draws, p), rel=1e-12)


# ---------------------------------------------------------------- rejection
def test_rejection_draws_are_exact():
    energy_of, _ = counting(E)
    labels, _ = rejection_labels(energy_of, 6, 0.0, 60_000, beta=1.3, stream=2)
    assert labels.shape == (60_000,) and labels.dtype == torch.long
    assert abs(chi_square_z(labels, gibbs_distribution(E, beta=1.3))) < 4
    assert chi_square_z(labels, gibbs_distribution(E, beta=1.0)) > 10


@pytest.mark.parametrize("low", [0.0, -0.5, -2.0])
def test_rejection_cost_matches_its_prediction(low):
    """Evaluations per draw: n e^{-beta F_low} / Z, within 5 standard errors of the geometric count."""
    energy_of, calls = counting(E)
    k = 20_000
    _, evals = rejection_labels(energy_of, 6, low, k, stream=3)
    cost = rejection_cost(E, low)
    assert cost == pytest.approx(6 * math.exp(-low) / float(torch.exp(-E).sum()), rel=1e-12)
    acc = 1 / cost
    se = math.sqrt(k * (1 - acc)) / acc  # standard deviation of a sum of k geometric counts
    assert abs(evals - k * cost) < 5 * se
    assert calls[0] >= evals  # the batches may evaluate a few proposals the sequential sampler would not


def test_rejection_count_is_that_of_the_sequential_sampler():
    """With energies at the bound every proposal is accepted: exactly one evaluation per draw."""
    flat = torch.zeros(5, dtype=D)
    energy_of, _ = counting(flat)
    labels, evals = rejection_labels(energy_of, 5, 0.0, 37, stream=4)
    assert evals == 37 and labels.shape == (37,)


def test_rejection_refuses_a_wrong_bound():
    energy_of, _ = counting(E)
    with pytest.raises(ValueError, match="bound is wrong"):
        rejection_labels(energy_of, 6, 0.5, 100, stream=5)
    with pytest.raises(ValueError, match="smallest energy"):
        rejection_cost(E, 0.5)
    with pytest.raises(ValueError, match="finite"):
        rejection_labels(energy_of, 6, math.inf, 10)
    with pytest.raises(TypeError):
        rejection_labels("not callable", 6, 0.0, 10)


def test_rejection_follows_the_book_seed():
    energy_of, _ = counting(E)
    a, ea = rejection_labels(energy_of, 6, 0.0, 50, stream=6)
    b, eb = rejection_labels(energy_of, 6, 0.0, 50, generator=generator(6))
    assert torch.equal(a, b) and ea == eb
    c, _ = rejection_labels(energy_of, 6, 0.0, 50, stream=7)
    assert not torch.equal(a, c)


# ---------------------------------------------------------------- Gumbel-max
def test_gumbel_max_draws_are_exact():
    labels = gumbel_max_labels(E, 60_000, beta=0.8, stream=8)
    assert labels.shape == (60_000,)
    assert abs(chi_square_z(labels, gibbs_distribution(E, beta=0.8))) < 4
    assert chi_square_z(labels, gibbs_distribution(E, beta=1.6)) > 10


def test_gumbel_max_batched_and_chunked():
    e = torch.stack([E, -E])
    labels = gumbel_max_labels(e, 7, stream=9)
    assert labels.shape == (2, 7)
    assert torch.equal(labels, gumbel_max_labels(e, 7, generator=generator(9)))
    wide = torch.zeros(300_000, dtype=D)  # more than one chunk of noise per draw
    assert gumbel_max_labels(wide, 3, stream=1).shape == (3,)
    with pytest.raises(ValueError):
        gumbel_max_labels(torch.tensor([0.0, math.nan], dtype=D), 3)


# ---------------------------------------------------------------- chains
def test_transition_matrix_is_stochastic_and_keeps_gibbs():
    t = metropolis_transition(E, beta=1.4)
    assert torch.allclose(t.sum(1), torch.ones(6, dtype=D))
    assert bool((t >= 0).all())
    p = gibbs_distribution(E, beta=1.4)
    assert torch.allclose(p @ t, p, atol=1e-15)
    flow = p[:, None] * t
    assert torch.allclose(flow, flow.T, atol=1e-15)  # detailed balance


def test_chain_distribution_from_a_label_and_from_uniform():
    uniform = torch.full((6,), 1 / 6, dtype=D)
    assert torch.allclose(chain_distribution(E, 9, beta=1.1, start=uniform), metropolis_distribution(E, 9, beta=1.1))
    start_at_2 = chain_distribution(E, 0, start=2)
    assert torch.equal(start_at_2, torch.eye(6, dtype=D)[2])
    one = chain_distribution(E, 1, beta=1.1, start=2)
    assert torch.allclose(one, metropolis_transition(E, 1.1)[2])
    far = chain_distribution(E, 400, start=3)
    assert torch.allclose(far, gibbs_distribution(E), atol=1e-10)
    with pytest.raises(ValueError):
        chain_distribution(E, 3, start=torch.tensor([0.5, 0.5], dtype=D))
    with pytest.raises(ValueError):
        chain_distribution(E, 3, start=6)


# ---------------------------------------------------------------- measured compute
def test_measure_compute_counts_a_matrix_product():
    a = torch.randn(3, 4, dtype=D, generator=generator(1), requires_grad=True)
    b = torch.randn(4, 5, dtype=D, generator=generator(2))
    cost = measure_compute(lambda: (a @ b).sum(), exclude=[a])
    # forward: 2*3*4*5 for the product, 15 for the sum; backward: grad_a = ones @ b.T
    assert cost == ComputeCost(forward_ops=135, backward_ops=120, saved_bytes=4 * 5 * 8)
    assert cost.total_ops == 255
    with_a = measure_compute(lambda: (a @ b).sum())
    assert with_a.saved_bytes == cost.saved_bytes  # a is not saved: only b is needed for grad_a


def test_measure_compute_saved_memory_grows_with_the_graph():
    w = torch.randn(10, dtype=D, generator=generator(3), requires_grad=True)
    small = measure_compute(lambda: torch.tanh(w[:2] * 3.0).sum(), exclude=[w])
    large = measure_compute(lambda: torch.tanh(w.expand(100, 10) * 3.0).sum(), exclude=[w])
    assert large.saved_bytes > 50 * small.saved_bytes
    no_graph = measure_compute(lambda: torch.tanh(w.detach() * 3.0).sum() + w.sum(), exclude=[w])
    assert no_graph.saved_bytes == 0  # work without a graph saves nothing, but is counted
    assert no_graph.forward_ops >= 30


def test_measure_compute_needs_a_graph():
    with pytest.raises(ValueError, match="graph"):
        measure_compute(lambda: torch.tensor(1.0))
    with pytest.raises(TypeError):
        measure_compute(3)


def test_measure_compute_does_not_import_dynamo():
    """Entering a dispatch mode would import torch._dynamo (about a second per page) unless told not to."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from ebm_utils.costs import measure_compute\n"
        "w = torch.ones(3, requires_grad=True)\n"
        "measure_compute(lambda: (w * w).sum())\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
