"""Pages 1.1(a)-(b), second edition: the multi-well energy, angular gaps, Monte Carlo log Z."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.continuous_energies import MultiWellEnergy
from ebm_utils.inference import (
    CountingEnergy,
    MonteCarloEstimate,
    annealed_log_partition,
    descend,
    importance_log_partition,
    largest_angular_gap,
    log_partition_grid,
)
from ebm_utils import seeding
from ebm_utils.seeding import generator


def _gauss(a: float):
    return lambda y: 0.5 * a * y.square().sum(1)


# ---------------------------------------------------------------- largest_angular_gap
def test_angular_gap_of_a_full_circle_is_its_spacing():
    t = torch.arange(36, dtype=torch.float64) * (2 * math.pi / 36)
    pts = torch.stack([t.cos(), t.sin()], 1)
    assert largest_angular_gap(pts) == pytest.approx(2 * math.pi / 36)


def test_angular_gap_of_one_point_is_two_pi_and_of_a_half_circle_is_pi():
    assert largest_angular_gap(torch.tensor([[1.0, 1.0]], dtype=torch.float64)) == pytest.approx(2 * math.pi)
    t = torch.linspace(0, math.pi, 50, dtype=torch.float64)
    assert largest_angular_gap(torch.stack([t.cos(), t.sin()], 1)) == pytest.approx(math.pi)


def test_angular_gap_wraps_round():
    # angles just below pi and just above -pi are neighbours across the cut
    a = torch.tensor([math.pi - 0.01, -math.pi + 0.01, 0.0], dtype=torch.float64)
    pts = torch.stack([a.cos(), a.sin()], 1)
    assert largest_angular_gap(pts) == pytest.approx(math.pi - 0.01)


def test_angular_gap_rejects_other_shapes():
    with pytest.raises(ValueError):
        largest_angular_gap(torch.zeros(3, 3, dtype=torch.float64))


# ---------------------------------------------------------------- MultiWellEnergy
def test_multiwell_is_the_sum_of_tilted_double_wells():
    model = MultiWellEnergy(3)
    w = model.params(0.5)
    y = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    expected = sum((v**2 - 1) ** 2 + 0.5 * v for v in y[0].tolist())
    assert float(model(w, None, y)) == pytest.approx(expected, rel=1e-14)


def test_multiwell_rotation_is_orthogonal_and_seeded():
    model = MultiWellEnergy(4)
    w0, w0b, w1 = model.init(stream=0), model.init(stream=0), model.init(stream=1)
    assert torch.equal(w0, w0b) and not torch.equal(w0, w1)
    _, q = model.unpack(w0)
    assert torch.allclose(q.T @ q, torch.eye(4, dtype=torch.float64), atol=1e-12)


def test_multiwell_global_minimum_is_a_minimum_below_the_other_wells():
    model = MultiWellEnergy(3)
    w = model.init(stream=2)
    y_star, f_star = model.global_minimum(w)
    assert float(model(w, None, y_star[None])) == pytest.approx(f_star, abs=1e-12)
    assert float(model.grad_y(w, None, y_star[None]).abs().max()) < 1e-10
    run = descend(lambda y: model(w, None, y), torch.randn(200, 3, dtype=torch.float64,
                  generator=generator(0)), steps=400, lr=0.005)
    assert float(run.energies.min()) >= f_star - 1e-9  # nothing below the global minimum


def test_multiwell_barrier_separates_the_basins():
    model = MultiWellEnergy(1)
    w = model.params(0.5)
    z_lo, z_hi = model.well_minima(w)
    z0 = model.barrier(w)
    assert z_lo < z0 < z_hi
    starts = torch.tensor([[z0 - 1e-3], [z0 + 1e-3]], dtype=torch.float64)
    end = descend(lambda y: model(w, None, y), starts, steps=2000, lr=0.01).points[:, 0]
    assert float(end[0]) == pytest.approx(z_lo, abs=1e-6) and float(end[1]) == pytest.approx(z_hi, abs=1e-6)


@pytest.mark.parametrize("d, beta", [(1, 1.0), (2, 0.7), (2, 2.0)])
def test_multiwell_log_partition_matches_a_grid(d, beta):
    model = MultiWellEnergy(d)
    w = model.init(stream=3)
    grid = log_partition_grid(lambda y: model(w, None, y), -5.0, 5.0, 500 if d == 2 else 5000, d, beta=beta)
    assert model.log_partition(w, beta) == pytest.approx(grid.log_z, abs=1e-5)


def test_multiwell_validates_the_tilt_and_rotation():
    model = MultiWellEnergy(2)
    with pytest.raises(ValueError):
        model.params(1.6)  # one well only
    with pytest.raises(ValueError):
        model.params(0.5, torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64))
    with pytest.raises(ValueError):
        model.params(0.5, torch.eye(3, dtype=torch.float64))


# ---------------------------------------------------------------- Monte Carlo log Z
@pytest.mark.parametrize("d", [1, 3])
def test_importance_sampling_of_a_gaussian_is_exact_when_q_is_the_target(d):
    # target N(0, 1/a) proposal std 1/sqrt(a): every weight equals Z, the estimate is exact
    a = 2.5
    est = importance_log_partition(_gauss(a), d, 50, proposal_std=1 / math.sqrt(a))
    assert est.log_z == pytest.approx(0.5 * d * math.log(2 * math.pi / a), abs=1e-12)
    assert est.effective_sample_size == pytest.approx(50)


def test_importance_sampling_converges_and_counts_evaluations():
    d, a = 3, 2.0
    exact = 0.5 * d * math.log(2 * math.pi / a)
    counter = CountingEnergy(_gauss(a))
    est = importance_log_partition(counter, d, 40_000, proposal_std=1.0, stream=1)
    assert isinstance(est, MonteCarloEstimate) and est.evaluations == 40_000 == counter.evaluations
    assert est.log_z == pytest.approx(exact, abs=0.02)
    # a wrong answer is far away: beta forgotten in the target would give log Z of a = 1
    assert abs(est.log_z - 0.5 * d * math.log(2 * math.pi)) > 0.5


def test_importance_sampling_follows_the_book_seed(monkeypatch):
    f = _gauss(1.5)
    a = importance_log_partition(f, 2, 100, stream=0).log_z
    assert importance_log_partition(f, 2, 100, stream=0).log_z == a
    monkeypatch.setenv("EBM_SEED", str(seeding.book_seed() + 1))
    assert importance_log_partition(f, 2, 100, stream=0).log_z != a


@pytest.mark.parametrize("d", [1, 4])
def test_annealed_importance_sampling_of_a_gaussian(d):
    a = 3.0
    exact = 0.5 * d * math.log(2 * math.pi / a)
    est = annealed_log_partition(_gauss(a), d, 400, 100, step_size=1.0 / math.sqrt(d), stream=2)
    # within 4 standard errors (a normal estimate leaves that band with probability 6e-5),
    # and the band is narrow enough to see an error of 0.2
    assert abs(est.log_z - exact) <= 4 * est.standard_error < 0.2
    assert est.evaluations == 400 * (1 + 100)


def test_annealed_importance_sampling_of_the_multiwell_energy():
    model = MultiWellEnergy(2)
    w = model.init(stream=5)
    est = annealed_log_partition(lambda y: model(w, None, y), 2, 500, 200, step_size=1.0, stream=1)
    assert abs(est.log_z - model.log_partition(w)) <= 4 * est.standard_error < 0.2


def test_annealed_importance_sampling_with_one_level_is_importance_sampling():
    # T = 1: the weight is the full ratio at the start point, as in plain importance sampling
    f = _gauss(2.0)
    ais = annealed_log_partition(f, 2, 3000, 1, init_std=1.0, stream=4)
    iss = importance_log_partition(f, 2, 3000, proposal_std=1.0, stream=4)
    assert ais.log_z == pytest.approx(iss.log_z, abs=1e-12)


def test_monte_carlo_estimates_validate_arguments():
    f = _gauss(1.0)
    with pytest.raises(ValueError):
        importance_log_partition(f, 0, 10)
    with pytest.raises(ValueError):
        annealed_log_partition(f, 2, 10, 5, step_size=0.0)
    with pytest.raises(ValueError):
        annealed_log_partition(lambda y: torch.full(y.shape[:1], float("nan"), dtype=torch.float64), 1, 5, 3)


def test_standard_error_is_the_spread_of_log_z_over_streams():
    # 40 independent estimates: their spread is what standard_error predicts (within 40%:
    # the sample std of 40 normals is within 30% of the truth with probability ~0.99)
    f = _gauss(1.5)
    ests = [importance_log_partition(f, 2, 400, proposal_std=1.5, stream=s) for s in range(40)]
    spread = float(torch.tensor([e.log_z for e in ests], dtype=torch.float64).std())
    predicted = sum(e.standard_error for e in ests) / len(ests)
    assert 0.6 < spread / predicted < 1.4
    even = MonteCarloEstimate(0.0, 4, torch.zeros(4, dtype=torch.float64))
    assert even.standard_error == 0.0
