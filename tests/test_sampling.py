"""Exact and Metropolis label sampling, the Monte Carlo negative phase and its cost."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.costs import EvalCount
from ebm_utils.label_energies import LinearLabelEnergy, MLPLabelEnergy
from ebm_utils.losses import gibbs_distribution
from ebm_utils.sampling import (
    metropolis_distribution,
    metropolis_labels,
    negative_phase,
    negative_phase_mc,
    negative_phase_variance,
    nll_gradient_exact,
    nll_gradient_sampled,
    sample_labels,
)
from ebm_utils.seeding import generator

E = torch.tensor([0.0, 1.0, 2.0, -0.5], dtype=torch.float64)


def frequencies(labels, n):
    return torch.bincount(labels.reshape(-1), minlength=n).double() / labels.numel()


def test_sample_labels_follow_gibbs():
    g = generator(0)
    s = sample_labels(E, 200_000, beta=1.3, generator=g)
    p = gibbs_distribution(E, beta=1.3)
    se = (p * (1 - p) / s.numel()).sqrt()
    assert s.shape == (200_000,) and s.dtype == torch.long
    assert bool(((frequencies(s, 4) - p).abs() < 5 * se).all())


def test_sample_labels_wrong_beta_is_detected():
    """The frequency test above is able to fail: samples at another beta are rejected."""
    g = generator(0)
    s = sample_labels(E, 200_000, beta=2.0, generator=g)
    p = gibbs_distribution(E, beta=1.3)
    se = (p * (1 - p) / s.numel()).sqrt()
    assert not bool(((frequencies(s, 4) - p).abs() < 5 * se).all())


def test_sample_labels_batched_and_seeded():
    e = torch.stack([E, -E])
    a = sample_labels(e, 7, generator=generator(3))
    b = sample_labels(e, 7, generator=generator(3))
    assert a.shape == (2, 7) and torch.equal(a, b)
    assert torch.equal(sample_labels(e, 7, stream=3), a)  # a stream of the book seed, or a generator
    assert torch.equal(sample_labels(e, 7), sample_labels(e, 7, stream=0))
    assert not torch.equal(sample_labels(e, 7, stream=4), a)
    with pytest.raises(ValueError, match="not both"):
        sample_labels(e, 7, stream=3, generator=generator(3))


def test_negative_phase_exact_and_mc():
    g = torch.arange(8, dtype=torch.float64).reshape(4, 2)
    p = gibbs_distribution(E, beta=0.7)
    torch.testing.assert_close(negative_phase(g, E, beta=0.7), p @ g)
    labels = torch.tensor([[0, 3], [1, 1]])
    torch.testing.assert_close(negative_phase_mc(g, labels), torch.stack([(g[0] + g[3]) / 2, g[1]]))
    var = sum(p[i] * (g[i] - p @ g).square().sum() for i in range(4))
    assert negative_phase_variance(g, E, beta=0.7) == pytest.approx(float(var), rel=1e-12)


def test_mc_estimate_unbiased_with_variance_over_k():
    gen = generator(1)
    g = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    exact = negative_phase(g, E)
    k, reps = 5, 40_000
    est = negative_phase_mc(g, sample_labels(E.expand(reps, 4), k, generator=gen))
    mse = (est - exact).square().sum(-1).mean().item()
    assert mse == pytest.approx(negative_phase_variance(g, E) / k, rel=0.05)
    z = (est.mean(0) - exact) / (est.std(0) / math.sqrt(reps))
    assert bool((z.abs() < 4.5).all())


@pytest.mark.parametrize("make", [lambda: LinearLabelEnergy(3, 6), lambda: MLPLabelEnergy(3, 6, 5)])
def test_gradient_costs_and_expectation(make):
    m = make()
    w = m.init(stream=4)
    x = torch.tensor([0.5, -0.2, 0.9], dtype=torch.float64)
    exact, cost = nll_gradient_exact(m, w, x, 2, beta=1.5)
    assert cost == EvalCount(6, 6)
    gen = generator(0)
    grads = []
    for _ in range(3000):
        gk, cost_k = nll_gradient_sampled(m, w, x, 2, num_samples=3, beta=1.5, generator=gen)
        grads.append(gk)
    assert cost_k == EvalCount(6 + 1 + 3, 1 + 3)
    grads = torch.stack(grads)
    z = (grads.mean(0) - exact) / (grads.std(0) / math.sqrt(len(grads)) + 1e-12)
    assert bool((z.abs() < 4.5).all())


def test_exact_gradient_matches_label_grad_formula():
    m = LinearLabelEnergy(2, 3)
    w = m.init(stream=5)
    x = torch.tensor([1.0, -2.0], dtype=torch.float64)
    jac = m.grad_w(w, x[None], torch.arange(3))  # [n, P]: row y' is dF(x, y')/dW
    with torch.no_grad():
        e = m.energies(w, x[None])[0]
    grad, _ = nll_gradient_exact(m, w, x, 1, beta=2.0)
    torch.testing.assert_close(grad, jac[1] - negative_phase(jac, e, beta=2.0))
    wrong = jac[1] - gibbs_distribution(e, beta=1.0) @ jac  # wrong beta in p
    assert not torch.allclose(grad, wrong)


def test_metropolis_converges_and_is_biased_when_short():
    gen = generator(0)
    e = torch.tensor([0.0, 3.0, 3.0, 3.0, 3.0], dtype=torch.float64)
    p = gibbs_distribution(e)

    def energy_of(labels):
        return e[labels]

    long, evals = metropolis_labels(energy_of, 5, num_chains=50_000, steps=40, generator=gen)
    assert evals == 50_000 * 41
    assert (frequencies(long, 5) - p).abs().max().item() < 0.01
    short, _ = metropolis_labels(energy_of, 5, num_chains=50_000, steps=1, generator=gen)
    assert (frequencies(short, 5) - p).abs().max().item() > 0.1


def test_validation():
    with pytest.raises(ValueError):
        sample_labels(E, 0)
    with pytest.raises(ValueError):
        sample_labels(E[None, None], 2)
    with pytest.raises(ValueError):
        sample_labels(torch.tensor([0.0, math.inf]), 2)
    with pytest.raises(TypeError):
        sample_labels(E, 2, generator=0)
    with pytest.raises(ValueError):
        negative_phase(torch.zeros(3, 2, dtype=torch.float64), E)
    with pytest.raises(IndexError):
        negative_phase_mc(torch.zeros(3, 2, dtype=torch.float64), torch.tensor([3]))
    with pytest.raises(TypeError):
        negative_phase_mc(torch.zeros(3, 2, dtype=torch.float64), torch.tensor([0.0]))
    m = LinearLabelEnergy(2, 3)
    with pytest.raises(ValueError):
        nll_gradient_exact(m, m.init(), torch.zeros(2, dtype=torch.float64), 3)
    with pytest.raises(TypeError):
        nll_gradient_exact("model", m.init(), torch.zeros(2, dtype=torch.float64), 0)
    with pytest.raises(ValueError):
        metropolis_labels(lambda l: E[l], 4, 2, steps=-1)
    with pytest.raises(ValueError):
        metropolis_labels(lambda l: E[:2], 4, 3, steps=1)


def test_negative_phase_mc_large_k_is_memory_light_and_exact():
    g = torch.randn(6, 4, dtype=torch.float64, generator=generator(2))
    labels = torch.randint(0, 6, (3, 500), generator=generator(3))
    torch.testing.assert_close(negative_phase_mc(g, labels), g[labels].mean(1))


def test_metropolis_distribution_matches_simulation_and_converges():
    e = torch.tensor([0.0, 1.0, 2.0, 0.5], dtype=torch.float64)
    p = gibbs_distribution(e, beta=1.2)
    q0 = metropolis_distribution(e, 0, beta=1.2)
    torch.testing.assert_close(q0, torch.full((4,), 0.25, dtype=torch.float64))
    q3 = metropolis_distribution(e, 3, beta=1.2)
    torch.testing.assert_close(q3.sum(), torch.tensor(1.0, dtype=torch.float64))
    labels, _ = metropolis_labels(lambda l: e[l], 4, 200_000, 3, beta=1.2,
                                  generator=generator(0))
    assert (frequencies(labels, 4) - q3).abs().max().item() < 0.005
    assert (q3 - p).abs().max().item() > 0.01  # short chains are biased
    torch.testing.assert_close(metropolis_distribution(e, 400, beta=1.2), p)
    with pytest.raises(ValueError):
        metropolis_distribution(e, -1)


def test_sample_labels_never_draws_impossible_labels():
    e = torch.tensor([[0.0, 1000.0, 0.0, 1000.0]], dtype=torch.float64)
    s = sample_labels(e, 10_000, generator=generator(0))
    assert set(s.unique().tolist()) == {0, 2}
