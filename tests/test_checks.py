"""The gradient checks pass right answers and reject wrong ones."""
from __future__ import annotations

import pytest
import torch

from torch.autograd.gradcheck import GradcheckError

from ebm_utils.checks import (
    GradientMismatch,
    check_gradient,
    derived_function,
    finite_difference_gradient,
    gradcheck_derived,
    one_sided_derivatives,
    random_points,
)


def f_softplus(w: torch.Tensor) -> torch.Tensor:
    return torch.logaddexp(torch.zeros_like(w), w).sum()


def f_relu(w: torch.Tensor) -> torch.Tensor:
    return torch.relu(w).sum() + 0.5 * (w**2).sum()


def test_right_gradient_passes_with_stable_report():
    pts = random_points(10, 3, stream=1)
    report = check_gradient(f_softplus, torch.sigmoid, pts, name="softplus")
    assert report.points == 10 and report.skipped_near_kinks == 0
    assert report.max_rel_err_autograd < 1e-12 and report.max_rel_err_fd < 1e-6
    assert repr(report) == (
        "softplus: 10 of 10 points checked (0 skipped near kinks); matches autograd "
        "(rel. err < 1e-10) and finite differences (rel. err < 1e-06)"
    )


def test_wrong_gradient_is_rejected():
    pts = random_points(5, 2, stream=0)
    with pytest.raises(GradientMismatch, match="softplus"):
        check_gradient(f_softplus, lambda w: torch.sigmoid(-w), pts, name="softplus")
    # slightly wrong (a factor 1.001) is still caught
    with pytest.raises(GradientMismatch):
        check_gradient(f_softplus, lambda w: 1.001 * torch.sigmoid(w), pts)


def test_nan_gradient_is_rejected():
    pts = random_points(3, 2, stream=0)
    with pytest.raises(GradientMismatch):
        check_gradient(f_softplus, lambda w: torch.full_like(w, float("nan")), pts)


def test_kinks_are_skipped_and_counted():
    pts = torch.tensor([[0.0, 1.0], [0.5, -0.3], [1e-5, 2.0]], dtype=torch.float64)
    report = check_gradient(
        f_relu, lambda w: (w > 0).double() + w, pts, kink_distance=lambda w: w.abs().min()
    )
    assert report.skipped_near_kinks == 2 and report.checked == 1


def test_all_points_at_kinks_is_an_error_not_a_pass():
    pts = torch.zeros(2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="nothing was checked"):
        check_gradient(f_relu, lambda w: w, pts, kink_distance=lambda w: w.abs().min())


def test_argument_validation():
    with pytest.raises(TypeError):
        check_gradient(f_softplus, torch.sigmoid, [[0.0]])
    with pytest.raises(ValueError):
        check_gradient(f_softplus, torch.sigmoid, random_points(2, 1), min_kink_distance=1e-7)
    with pytest.raises(ValueError):
        random_points(0, 2)
    with pytest.raises(ValueError):
        random_points(2, 2, low=1.0, high=0.0)


def test_random_points_are_drawn_from_the_book_seed(monkeypatch):
    def old_way() -> torch.Tensor:  # what random_points(4, 2, seed=3) drew before seeding existed
        g = torch.Generator().manual_seed(3)
        return -2.0 + 4.0 * torch.rand(4, 2, generator=g, dtype=torch.float64)

    monkeypatch.delenv("EBM_SEED", raising=False)
    assert torch.equal(random_points(4, 2, stream=3), old_way())
    monkeypatch.setenv("EBM_SEED", "7")
    assert not torch.equal(random_points(4, 2, stream=3), old_way())


def test_random_points_are_seeded():
    torch.testing.assert_close(random_points(4, 2, stream=3), random_points(4, 2, stream=3))
    assert not torch.equal(random_points(4, 2, stream=3), random_points(4, 2, stream=4))


def test_finite_differences():
    w = torch.tensor([0.3, -1.2], dtype=torch.float64)
    torch.testing.assert_close(finite_difference_gradient(f_softplus, w), torch.sigmoid(w), atol=1e-8, rtol=0)


def test_gradcheck_derived_accepts_right_and_rejects_wrong():
    a = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    b = torch.tensor([1.0, 0.5, -0.7], dtype=torch.float64)

    def fwd(p, q):
        return torch.logaddexp(torch.zeros_like(p), p - q).sum()

    def right(p, q):
        s = torch.sigmoid(p - q)
        return s, -s

    def wrong(p, q):
        s = torch.sigmoid(p - q)
        return s, s

    assert gradcheck_derived(fwd, right, (a, b))
    with pytest.raises(GradcheckError):
        gradcheck_derived(fwd, wrong, (a, b))


def test_derived_function_backward_uses_the_derivation():
    fn = derived_function(lambda p: (p**2).sum(), lambda p: (3 * p,))  # deliberately wrong
    p = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    fn(p).backward()
    assert p.grad.tolist() == [3.0, 6.0]


def test_gradcheck_needs_float64():
    with pytest.raises(TypeError):
        gradcheck_derived(lambda p: p.sum(), lambda p: (torch.ones_like(p),), (torch.zeros(2),))


def test_one_sided_derivatives_at_kinks():
    left, right = one_sided_derivatives(torch.relu, 0.0)
    assert (left, right) == (0.0, 1.0)
    left, right = one_sided_derivatives(lambda z: torch.relu(z) ** 2, 0.0, h=1e-4)
    assert abs(left) < 1e-12 and abs(right - 1e-4) < 1e-12  # right quotient is h itself
    left, right = one_sided_derivatives(torch.sin, 0.3, h=1e-7)
    assert abs(left - right) < 1e-6
    with pytest.raises(ValueError):
        one_sided_derivatives(torch.relu, 0.0, h=0.0)
    with pytest.raises(TypeError):
        one_sided_derivatives("relu", 0.0)
