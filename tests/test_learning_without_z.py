"""Part 2 (learning without Z): samplers, the ML-gradient estimators, the new losses and energies.

Every statistical test draws from a fixed stream and uses a tolerance of
several standard errors computed from theory, so that a wrong formula (a
missing Metropolis correction, a sign, a factor 2) fails it.
"""
from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from ebm_utils.continuous_energies import GaussianMixtureEnergy, MLPEnergy, ConfinedRBFEnergy
from ebm_utils.inference import midpoint_grid
from ebm_utils.langevin import ChainRun, ReplayBuffer, langevin, mala, mode_switches
from ebm_utils.losses import (
    denoising_score_matching_loss,
    log_loss,
    nce_loss,
    nll_loss,
    sampled_softmax_loss,
    score_matching_loss,
)
from ebm_utils.ml_gradient import cd_gradient, exact_gradient, grid_distribution, kl_divergence, pcd_gradient
from ebm_utils.seeding import generator
from ebm_utils.symbolic import UnevaluatedDerivative, derivative



@pytest.fixture(autouse=True)
def float64_default():
    """float64 inside these tests only: the default dtype is global, and other test files rely on float32."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def quadratic(std: float = 1.0) -> tuple[GaussianMixtureEnergy, torch.Tensor]:
    """F(y) = y^2 / (2 std^2) + const in one dimension: curvature a = 1 / std^2."""
    model = GaussianMixtureEnergy(y_dim=1, k=1)
    return model, model.params([1.0], [[0.0]], [std])


def skewed_mixture() -> tuple[GaussianMixtureEnergy, torch.Tensor, float, float]:
    """A 1-D two-component mixture with its exact mean and variance."""
    model = GaussianMixtureEnergy(y_dim=1, k=2)
    w = model.params([0.3, 0.7], [[-0.5], [0.8]], [0.4, 0.9])
    pi, mu, sd = torch.tensor([0.3, 0.7]), torch.tensor([-0.5, 0.8]), torch.tensor([0.4, 0.9])
    mean = float((pi * mu).sum())
    var = float((pi * (sd**2 + mu**2)).sum()) - mean**2
    return model, w, mean, var


# ------------------------------------------------------------------ energies
def test_gaussian_mixture_is_normalised_and_its_gradients_are_right():
    model = GaussianMixtureEnergy(y_dim=2, k=3)
    w = model.params([0.2, 0.5, 0.3], [[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]], [0.5, 0.7, 0.4])
    pts, cell = midpoint_grid(-6.0, 6.0, 200, dim=2)
    assert float(torch.exp(-model(w, None, pts)).sum() * cell) == pytest.approx(1.0, abs=1e-6)
    y = torch.randn(9, 2, generator=generator(0))
    yy = y.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(model(w, None, yy).sum(), yy)
    value, grad = model.value_and_grad_y(w, None, y)
    assert torch.allclose(model.grad_y(w, None, y), auto, atol=1e-12)
    assert torch.allclose(grad, auto, atol=1e-12) and torch.allclose(value, model(w, None, y), atol=1e-12)


def test_gaussian_mixture_samples_have_the_right_moments():
    model, w, mean, var = skewed_mixture()
    s = model.sample(w, 40000, stream=1)[:, 0]
    assert abs(float(s.mean()) - mean) < 5 * math.sqrt(var / 40000)
    assert abs(float(s.var()) / var - 1) < 0.05
    with pytest.raises(ValueError, match="either a stream or a generator"):
        model.sample(w, 3, stream=1, generator=generator(2))


def test_gaussian_mixture_params_are_validated():
    model = GaussianMixtureEnergy(y_dim=2, k=2)
    with pytest.raises(ValueError, match="need 2 weights"):
        model.params([1.0], [[0.0, 0.0], [1.0, 1.0]], [1.0, 1.0])
    with pytest.raises(ValueError, match="positive"):
        model.params([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [1.0, -1.0])


def test_rbf_energy_closed_forms_match_autograd():
    model = ConfinedRBFEnergy.lattice(-2.0, 2.0, 4, confinement=1.3)
    w = model.init(stream=3, scale=20.0)
    y = torch.randn(7, 2, generator=generator(4))
    yy = y.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(w, None, yy).sum(), yy, create_graph=True)
    lap = sum(torch.autograd.grad(grad[:, i].sum(), yy, retain_graph=True)[0][:, i] for i in range(2))
    assert torch.allclose(model.grad_y(w, None, y), grad, atol=1e-12)
    assert torch.allclose(model.laplacian_y(w, None, y), lap, atol=1e-12)
    value, g2 = model.value_and_grad_y(w, None, y)
    assert torch.allclose(value, model(w, None, y), atol=1e-12) and torch.allclose(g2, grad, atol=1e-12)
    jac = torch.autograd.functional.jacobian(lambda v: model(v, None, y), w)
    assert torch.allclose(model.grad_w(w, None, y), jac, atol=1e-12)


def test_rbf_grad_y_keeps_the_graph_in_w_when_asked():
    model = ConfinedRBFEnergy.lattice(-1.0, 1.0, 3)
    w = model.init(stream=5).requires_grad_(True)
    y = torch.randn(4, 2, generator=generator(6))
    g = model.grad_y(w, None, y, create_graph=True)
    (dw,) = torch.autograd.grad(g.square().sum(), w)
    assert float(dw.abs().max()) > 0
    assert not model.grad_y(w, None, y).requires_grad


def test_rbf_confinement_bounds_the_energy_below():
    model = ConfinedRBFEnergy.lattice(-2.0, 2.0, 5, width=0.5, confinement=1.0)
    w = model.init(stream=7, scale=50.0)
    y = 10 * torch.randn(500, 2, generator=generator(8))
    bound = y.square().sum(1) / 2 - w.abs().sum()
    assert bool((model(w, None, y) >= bound - 1e-12).all())


def test_rbf_lattice_is_validated():
    with pytest.raises(ValueError, match="low < high"):
        ConfinedRBFEnergy.lattice(2.0, -2.0, 4)
    with pytest.raises(ValueError, match="at least 2"):
        ConfinedRBFEnergy.lattice(-1.0, 1.0, 1)
    with pytest.raises(ValueError, match="width"):
        ConfinedRBFEnergy(torch.zeros(3, 2), width=0.0)
    with pytest.raises(ValueError, match="centres"):
        ConfinedRBFEnergy(torch.zeros(3), width=1.0)


# ------------------------------------------------------------------ samplers
@pytest.mark.parametrize("sampler", [langevin, mala])
def test_samplers_reject_bad_input(sampler):
    model, w = quadratic()
    y0 = torch.zeros(5, 1)
    with pytest.raises(ValueError, match="step"):
        sampler(model, w, y0, 0.0, 3)
    with pytest.raises(ValueError, match="step"):
        sampler(model, w, y0, -0.1, 3)
    with pytest.raises(ValueError, match="beta"):
        sampler(model, w, y0, 0.1, 3, beta=0.0)
    with pytest.raises(ValueError, match="steps"):
        sampler(model, w, y0, 0.1, 0)
    with pytest.raises(ValueError, match=r"y must have shape \[B, 1\]"):
        sampler(model, w, torch.zeros(5, 2), 0.1, 3)
    with pytest.raises(ValueError, match="finite"):
        sampler(model, w, torch.full((5, 1), math.nan), 0.1, 3)
    with pytest.raises(TypeError, match="ContinuousEnergy"):
        sampler(lambda y: y, w, y0, 0.1, 3)
    with pytest.raises(ValueError, match="either a stream or a generator"):
        sampler(model, w, y0, 0.1, 3, stream=1, generator=generator(0))


def test_ula_stationary_variance_follows_the_formula_and_is_biased():
    model, w = quadratic(std=0.5)  # a = 4
    a, beta, eta, chains = 4.0, 2.0, 0.3, 8000  # h = eta a = 1.2
    run = langevin(model, w, torch.zeros(chains, 1), eta, 100, beta, stream=11)
    predicted = 1 / (beta * a * (1 - eta * a / 2))
    se = predicted * math.sqrt(2 / (chains - 1))
    assert abs(float(run.final.var()) - predicted) < 4 * se
    assert float(run.final.var()) - 1 / (beta * a) > 10 * se  # and not the exact variance
    assert run.accept_rate is None and run.trace is None


def test_mala_is_exact_where_ula_is_not():
    model, w, mean, var = skewed_mixture()
    chains = 8000
    start = torch.zeros(chains, 1)
    run = mala(model, w, start, 0.4, 200, stream=12)
    assert abs(float(run.final.mean()) - mean) < 5 * math.sqrt(var / chains)
    assert abs(float(run.final.var()) / var - 1) < 5 * math.sqrt(2 / chains) * 1.5  # kurtosis margin
    ula = langevin(model, w, start, 0.4, 200, stream=12)
    assert abs(float(ula.final.var()) / var - 1) > 0.1  # the same step without the test is visibly off
    assert 0.3 < float(run.accept_rate.mean()) < 1.0


def test_mala_rejects_proposals_of_infinite_energy():
    class Walled(GaussianMixtureEnergy):
        """The standard normal restricted to y > 0 (infinite energy below 0)."""

        def _energy(self, w, x, y):
            e = super()._energy(w, x, y)
            return torch.where(y[:, 0] > 0, e, torch.full_like(e, math.inf))

        def value_and_grad_y(self, w, x, y):
            return self(w, x, y), self.grad_y(w, x, y)

    model = Walled(y_dim=1, k=1)
    w = model.params([1.0], [[0.0]], [1.0])
    run = mala(model, w, torch.full((2000, 1), 0.5), 0.5, 50, stream=13)
    assert bool((run.final > 0).all())
    assert abs(float(run.final.mean()) - math.sqrt(2 / math.pi)) < 5 * 0.6 / math.sqrt(2000)


def test_trace_and_streams():
    model, w = quadratic()
    run = langevin(model, w, torch.zeros(3, 1), 0.1, 4, trace=True, stream=2)
    assert isinstance(run, ChainRun) and run.trace.shape == (5, 3, 1)
    assert torch.equal(run.trace[0], torch.zeros(3, 1)) and torch.equal(run.trace[-1], run.final)
    again = langevin(model, w, torch.zeros(3, 1), 0.1, 4, stream=2)
    assert torch.equal(again.final, run.final)
    other = langevin(model, w, torch.zeros(3, 1), 0.1, 4, stream=3)
    assert not torch.equal(other.final, run.final)


def test_chains_are_independent_of_each_other():
    """Vectorised over chains: a chain's path does not depend on how many other chains run, only on its noise."""
    model, w = quadratic()
    g1, g2 = generator(5), generator(5)
    one = langevin(model, w, torch.tensor([[0.3], [-1.0]]), 0.1, 20, generator=g1).final
    y = torch.tensor([[0.3], [-1.0]])
    for _ in range(20):  # the same draws, in the same order: one [C, d] draw per step
        y = y - 0.1 * y + math.sqrt(0.2) * torch.randn(2, 1, generator=g2)
    assert torch.allclose(one, y, atol=1e-12)


def test_replay_buffer():
    buf = ReplayBuffer(100, 2, -3.0, 3.0, reinit=0.0, stream=1)
    index, pts = buf.sample(40)
    assert len(set(index.tolist())) == 40 and pts.shape == (40, 2)
    assert bool((pts.abs() <= 3).all())
    buf.push(index, torch.zeros(40, 2))
    assert bool((buf.points[index] == 0).all())
    _, again = buf.sample(100)
    assert int((again == 0).all(1).sum()) == 40  # no restarts with reinit = 0
    fresh = ReplayBuffer(1000, 2, -1.0, 1.0, reinit=0.25, stream=2)
    fresh.push(torch.arange(1000), torch.full((1000, 2), 5.0))
    _, drawn = fresh.sample(1000)
    restarted = float((drawn[:, 0] != 5.0).double().mean())
    assert abs(restarted - 0.25) < 5 * math.sqrt(0.25 * 0.75 / 1000)


def test_replay_buffer_rejects_bad_input():
    with pytest.raises(ValueError, match="at most 1"):
        ReplayBuffer(10, 2, -1.0, 1.0, reinit=1.5)
    buf = ReplayBuffer(10, 2, -1.0, 1.0)
    with pytest.raises(ValueError, match="at most 10"):
        buf.sample(11)
    index, _ = buf.sample(3)
    with pytest.raises(ValueError, match="finite"):
        buf.push(index, torch.full((3, 2), math.inf))
    with pytest.raises(IndexError):
        buf.push(torch.tensor([0, 1, 12]), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="one entry per point"):
        buf.push(index[:2], torch.zeros(3, 2))


def test_mode_switches_counts_with_hysteresis():
    values = torch.tensor([
        [-2.0, 0.0, 2.0],
        [-0.5, 0.1, 0.5],   # jitter inside the band: nothing
        [0.5, -2.0, -0.5],
        [2.0, 0.2, -2.0],   # chain 0 reaches the high mode: 1; chain 2 switches: 1
        [0.0, 2.0, 2.0],    # chain 1 switches from low to high: 1; chain 2 back: 2
    ])
    assert mode_switches(values, -1.0, 1.0).tolist() == [1, 1, 2]
    assert mode_switches(values[:, :1], -3.0, 3.0).tolist() == [0]
    with pytest.raises(ValueError):
        mode_switches(values, 1.0, -1.0)


# ------------------------------------------------------------------ the ML gradient
def small_problem():
    model = ConfinedRBFEnergy.lattice(-1.5, 1.5, 3, width=0.8, confinement=1.0)
    grid, cell = midpoint_grid(-4.5, 4.5, 45, dim=2)
    data = torch.randn(60, 2, generator=generator(20)) * 0.5 + torch.tensor([0.7, 0.0])
    return model, grid, cell, data


@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_exact_gradient_is_the_gradient_of_the_grid_nll(beta):
    model, grid, cell, data = small_problem()
    w = model.init(stream=21, scale=5.0).requires_grad_(True)
    nll = model(w, None, data).mean() + (torch.logsumexp(-beta * model(w, None, grid), 0) + math.log(cell)) / beta
    (auto,) = torch.autograd.grad(nll, w)
    assert torch.allclose(exact_gradient(model, w.detach(), data, grid, beta), auto, atol=1e-12)
    assert float(grid_distribution(model, w.detach(), grid, beta).sum()) == pytest.approx(1.0, abs=1e-12)


def test_cd_gradient_tends_to_the_exact_gradient_and_is_biased_when_short():
    model, grid, cell, data = small_problem()
    w = torch.zeros(model.num_params)
    exact = exact_gradient(model, w, data, grid)
    reps = data.repeat(50, 1)  # 3000 chains
    long_, neg = cd_gradient(model, w, reps, 300, 0.1, stream=22)
    short, _ = cd_gradient(model, w, reps, 1, 0.1, stream=23)
    noise = math.sqrt(float(model.features(neg).var(0).sum()) / len(reps))
    assert float((long_ - exact).norm()) < 5 * noise
    assert float((short - exact).norm()) > 0.5 * float(exact.norm()) > 10 * noise


def test_pcd_gradient_uses_and_updates_the_buffer():
    model, grid, cell, data = small_problem()
    buf = ReplayBuffer(60, 2, -2.0, 2.0, reinit=0.0, stream=24)
    before = buf.points.clone()
    g, neg = pcd_gradient(model, torch.zeros(model.num_params), data, buf, 2, 0.05, stream=25)
    assert g.shape == (model.num_params,) and neg.shape == (60, 2)
    assert not torch.equal(before, buf.points)
    assert torch.equal(torch.sort(buf.points, 0).values, torch.sort(neg, 0).values)


def test_ml_gradient_estimators_reject_bad_input():
    model, grid, cell, data = small_problem()
    w = torch.zeros(model.num_params)
    with pytest.raises(ValueError, match="k must be at least 1"):
        cd_gradient(model, w, data, 0, 0.1)
    with pytest.raises(ValueError, match="step"):
        cd_gradient(model, w, data, 1, 0.0)
    with pytest.raises(ValueError, match="beta"):
        cd_gradient(model, w, data, 1, 0.1, beta=-1.0)
    with pytest.raises(ValueError, match="sampler"):
        cd_gradient(model, w, data, 1, 0.1, sampler="hmc")
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        exact_gradient(model, w, data[:, :1], grid)
    with pytest.raises(ValueError, match="dimension"):
        pcd_gradient(model, w, data, ReplayBuffer(60, 3, -1.0, 1.0), 1, 0.1)
    with pytest.raises(ValueError, match="k must be at least 1"):
        pcd_gradient(model, w, data, ReplayBuffer(60, 2, -1.0, 1.0), 0, 0.1)
    conditional = MLPEnergy(y_dim=2, hidden=3, x_dim=1)
    with pytest.raises(ValueError, match="unconditional"):
        exact_gradient(conditional, conditional.init(), data, grid)


def test_kl_divergence():
    p = torch.tensor([0.5, 0.5, 0.0])
    q = torch.tensor([0.25, 0.25, 0.5])
    assert kl_divergence(p, q) == pytest.approx(math.log(2))
    assert kl_divergence(q, q) == 0.0
    assert kl_divergence(q, p) == math.inf
    with pytest.raises(ValueError, match="probability"):
        kl_divergence(torch.tensor([0.5, 0.6]), torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="same shape|one shape"):
        kl_divergence(p, q[:2])


# ------------------------------------------------------------------ losses
def test_score_matching_loss():
    g = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    lap = torch.tensor([0.5, -2.0])
    assert torch.allclose(score_matching_loss(g, lap, reduction="none"), torch.tensor([2.0, 2.5]))
    assert float(score_matching_loss(g, lap)) == pytest.approx(2.25)
    with pytest.raises(ValueError, match="one per point"):
        score_matching_loss(g, lap[:1])
    with pytest.raises(ValueError, match=r"\[B, d\]"):
        score_matching_loss(g[0], lap)


def test_score_matching_loss_recovers_a_gaussian():
    """The minimiser of the loss for F = lam (y - mu)^2 / 2 is the sample mean and 1 / sample variance."""
    y = 0.3 + 1.7 * torch.randn(500, generator=generator(30))
    mu, lam = y.mean(), 1 / y.var(unbiased=False)
    theta = torch.stack([mu, torch.log(lam)]).requires_grad_(True)
    loss = score_matching_loss((theta[1].exp() * (y - theta[0]))[:, None], theta[1].exp().expand(500))
    (grad,) = torch.autograd.grad(loss, theta)
    assert float(grad.abs().max()) < 1e-12


def test_denoising_score_matching_equals_the_blurred_fisher_divergence_up_to_a_constant():
    """1-D Gaussian data: the DSM loss minus the Fisher divergence to p_sigma does not depend on the model."""
    m, v, sigma, n = 0.4, 0.6, 0.5, 200_000
    g = generator(31)
    y = m + math.sqrt(v) * torch.randn(n, generator=g)
    yt = y + sigma * torch.randn(n, generator=g)
    blurred_score = -(yt - m) / (v + sigma**2)
    gaps = []
    for a, b in ((0.5, 0.1), (-1.0, 0.7), (2.0, -0.3)):  # F(y) = a y^2 / 2 + b y: grad = a y + b
        grad = (a * yt + b)[:, None]
        dsm = denoising_score_matching_loss(grad, yt[:, None], y[:, None], sigma)
        esm = 0.5 * ((-grad[:, 0] - blurred_score) ** 2).mean()
        gaps.append(float(dsm - esm))
    expected = 0.5 / sigma**2 - 0.5 / (v + sigma**2)
    assert all(abs(gap - expected) < 0.05 for gap in gaps)


def test_denoising_loss_is_validated():
    g = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="sigma"):
        denoising_score_matching_loss(g, g, g, 0.0)
    with pytest.raises(ValueError, match="one shape"):
        denoising_score_matching_loss(g, g[:2], g, 1.0)
    assert float(denoising_score_matching_loss(g, g + 1.0, g, 2.0, reduction="sum")) == pytest.approx(3 * 0.5 * 2 / 16)


def test_nce_loss_values_and_optimum():
    ed, en = torch.tensor([0.3, -0.2]), torch.tensor([1.0, 0.5, -0.1, 2.0])
    qd, qn = torch.tensor([-1.0, -1.5]), torch.tensor([-0.7, -2.0, -1.1, -0.3])
    g_d, g_n = -ed - qd - math.log(2), -en - qn - math.log(2)
    expected = torch.cat([torch.nn.functional.softplus(-g_d), torch.nn.functional.softplus(g_n)])
    assert torch.allclose(nce_loss(ed, en, qd, qn, reduction="none"), expected)
    assert float(nce_loss(ed, en, qd, qn, reduction="sum")) == pytest.approx(float(expected.sum()))
    # the per-point optimum over the energy is E = -log p_d: its derivative vanishes there
    p_d, q, nu = 0.3, 0.2, 2.0
    e = torch.tensor(-math.log(p_d), requires_grad=True)
    pop = p_d * torch.nn.functional.softplus(-(-e - math.log(nu * q))) + nu * q * torch.nn.functional.softplus(
        -e - math.log(nu * q))
    (de,) = torch.autograd.grad(pop, e)
    assert abs(float(de)) < 1e-15


def test_nce_loss_rejects_bad_noise():
    ed, en = torch.zeros(3), torch.zeros(5)
    with pytest.raises(ValueError, match="non-finite|finite"):
        nce_loss(ed, en, torch.tensor([0.0, -math.inf, 0.0]), torch.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        nce_loss(ed, en, torch.zeros(3), torch.tensor([0.0, math.nan, 0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="shape"):
        nce_loss(ed, en, torch.zeros(4), torch.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        nce_loss(torch.zeros(3, 1), en, torch.zeros(3, 1), torch.zeros(5))


@pytest.mark.parametrize("beta", [0.3, 1.0, 4.0])
def test_sampled_softmax_contains_the_log_loss_and_the_nll(beta):
    e = 3 * torch.randn(5, 7, generator=generator(40))
    t = torch.tensor([0, 3, 6, 2, 2])
    pos = e.gather(1, t[:, None])[:, 0]
    neg = torch.stack([e[i][torch.arange(7) != t[i]] for i in range(5)])
    nll = nll_loss(e, t, beta=beta, reduction="none")
    assert torch.allclose(sampled_softmax_loss(pos, neg, beta=beta, reduction="none"), nll, atol=1e-12)
    uniform = torch.full_like(neg, -math.log(6))
    assert torch.allclose(sampled_softmax_loss(pos, neg, uniform, beta, "none"), nll, atol=1e-12)
    if beta == 1.0:
        assert torch.allclose(sampled_softmax_loss(pos, neg[:, :1], reduction="none"),
                              log_loss(pos, neg[:, 0], reduction="none"), atol=1e-12)
    # the correction is log(k q), not log q
    assert not torch.allclose(sampled_softmax_loss(pos, neg + uniform / beta, beta=beta, reduction="none"), nll)


def test_corrected_sampled_softmax_is_consistent():
    """With many negatives from a non-uniform q, the corrected loss tends to the NLL; the uncorrected one does not."""
    g = generator(41)
    energies = 2 * torch.randn(30, generator=g)
    incorrect = torch.arange(1, 30)
    log_q = torch.log_softmax(torch.randn(29, generator=g), 0)
    idx = torch.multinomial(log_q.exp(), 200_000, replacement=True, generator=g)
    pos, neg = energies[:1], energies[incorrect[idx]][None]
    nll = float(nll_loss(energies[None], torch.tensor([0])))
    assert abs(float(sampled_softmax_loss(pos, neg, log_q[idx][None])) - nll) < 0.01
    assert abs(float(sampled_softmax_loss(pos, neg)) - nll) > 1.0


def test_sampled_softmax_rejects_bad_input():
    pos, neg = torch.zeros(3), torch.zeros(3, 4)
    with pytest.raises(ValueError, match="k >= 1"):
        sampled_softmax_loss(pos, torch.zeros(3, 0))
    with pytest.raises(ValueError, match="shape"):
        sampled_softmax_loss(pos, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="at most 0"):
        sampled_softmax_loss(pos, neg, torch.full((3, 4), 0.5))
    with pytest.raises(ValueError, match="finite"):
        sampled_softmax_loss(pos, neg, torch.full((3, 4), -math.inf))
    with pytest.raises(ValueError, match="shape"):
        sampled_softmax_loss(pos, neg, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="beta"):
        sampled_softmax_loss(pos, neg, beta=0.0)


# ------------------------------------------------------------------ symbolic
def test_unevaluated_derivative_prints_unambiguously_and_evaluates_as_sympy():
    y = sp.Symbol("y")
    F, p = sp.Function("F"), sp.Function("p")
    d = derivative(p(y) * derivative(F(y), y), y)
    assert isinstance(d, UnevaluatedDerivative) and isinstance(d, sp.Derivative)
    text = sp.latex(d)
    assert text.startswith(r"\frac{\partial}{\partial y} \left(") and text.endswith(r"\right)")
    assert sp.latex(derivative(F(y), y) ** 2).startswith(r"\left(\frac{\partial}{\partial y} F")
    assert sp.simplify(d.doit() - sp.diff(p(y) * sp.diff(F(y), y), y)) == 0
    assert r"\partial^{2}" in sp.latex(derivative(F(y), y, 2))
    with pytest.raises(ValueError, match="order"):
        derivative(F(y), y, 0)


def test_part2_losses_refuse_non_finite_inputs():
    from ebm_utils.losses import denoising_score_matching_loss, nce_loss, sampled_softmax_loss, score_matching_loss

    nan = torch.tensor([float("nan"), 0.0], dtype=torch.float64)
    ok = torch.zeros(2, dtype=torch.float64)
    g = torch.zeros(2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="finite"):
        score_matching_loss(g, nan)
    with pytest.raises(ValueError, match="finite"):
        score_matching_loss(torch.full((2, 2), float("nan"), dtype=torch.float64), ok)
    with pytest.raises(ValueError, match="finite"):
        nce_loss(nan, ok, ok, ok)
    with pytest.raises(ValueError, match="finite"):
        sampled_softmax_loss(nan, torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="finite"):
        denoising_score_matching_loss(g, torch.full((2, 2), float("nan"), dtype=torch.float64), g, 0.5)


def test_cd_gradient_refuses_chains_that_diverge():
    from ebm_utils.ml_gradient import cd_gradient

    m = GaussianMixtureEnergy(y_dim=1, k=1)
    w = m.params([1.0], [[0.0]], [0.1])  # curvature 100: a Langevin step of 0.5 multiplies y by -49, past 1e308 in 200 steps
    with pytest.raises(ValueError, match="finite"):
        cd_gradient(m, w, torch.zeros(5, 1, dtype=torch.float64) + 0.1, 200, 0.5, sampler="langevin")
