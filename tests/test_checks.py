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


# --- found by `make mutation`: each test below fails under a mutant that survived ---

def test_error_messages_name_the_problem():
    with pytest.raises(ValueError, match=r"must return a scalar, got shape \(2,\)"):
        check_gradient(lambda w: w * 2, lambda w: w, random_points(2, 2))
    with pytest.raises(TypeError, match=r"^points must be a \[P, d\] tensor$"):
        check_gradient(lambda w: w.sum(), lambda w: torch.ones_like(w), torch.zeros(3))
    with pytest.raises(ValueError, match=r"^min_kink_distance must exceed fd_step, or differences cross kinks$"):
        check_gradient(lambda w: w.sum(), lambda w: torch.ones_like(w), random_points(2, 2),
                       min_kink_distance=1e-4, fd_step=1e-4)  # equal is already too close
    with pytest.raises(GradientMismatch, match=r"^gradient: at w="):  # the default name
        check_gradient(lambda w: w.square().sum(), lambda w: w, random_points(2, 2))
    with pytest.raises(ValueError, match=r"^h must lie in \(0, 1\), got 1$"):
        one_sided_derivatives(lambda z: z, 0.0, h=1)
    with pytest.raises(ValueError, match=r"got 1\.5"):
        one_sided_derivatives(lambda z: z, 0.0, h=1.5)
    with pytest.raises(TypeError, match=r"\bf\b"):
        one_sided_derivatives(3.0, 0.0)
    for kwargs, name in (({"n": 0, "dim": 2}, "n"), ({"n": 2, "dim": 0}, "dim")):
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            random_points(**kwargs)
    with pytest.raises(TypeError, match=r"^input 1 must be a float64 tensor for gradcheck$"):
        gradcheck_derived(lambda a, b: (a * b).sum(), lambda a, b: (b, a),
                          (torch.ones(2, dtype=torch.float64), torch.ones(2)))
    fn = derived_function(lambda a, b: (a * b).sum(), lambda a, b: (b,))
    a = torch.ones(2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match=r"^gradients returned 1 tensors for 2 inputs$"):
        fn(a, a.detach().clone()).backward()


def test_relative_error_scale_is_the_larger_magnitude_but_at_least_one():
    from ebm_utils.checks import _rel_err

    assert _rel_err(torch.tensor([0.2]), torch.tensor([0.7])) == pytest.approx((0.5, 0.5))  # scale 1
    assert _rel_err(torch.tensor([10.0]), torch.tensor([12.0])) == pytest.approx((2.0, 2.0 / 12.0))


def test_report_keeps_the_worst_errors_of_each_comparison():
    # f = w^4 / 4, derived w^3 + 1e-12 |w|: autograd differs by 1e-12 |w|; central differences
    # with step h = 1e-3 err by h^2 w.  At w = -2 the absolute errors are largest, at w = 0.5
    # (scale 1 instead of 8) the relative ones: each maximum comes from its own point
    rep = check_gradient(lambda w: w.pow(4).sum() / 4, lambda w: w**3 + 1e-12 * w.abs(),
                         torch.tensor([[-2.0], [0.5]]), fd_step=1e-3, min_kink_distance=1e-2, tol_fd=1e-5)
    assert rep.max_abs_err_autograd == pytest.approx(2e-12, rel=1e-2)
    assert rep.max_rel_err_autograd == pytest.approx(5e-13, rel=1e-2)
    assert rep.max_abs_err_fd == pytest.approx(2e-6, rel=1e-3)
    assert rep.max_rel_err_fd == pytest.approx(5e-7, rel=1e-3)


def test_fd_step_is_the_one_given():
    # a coarse step makes the central difference of w^3 wrong by h^2 = 0.25: refused
    with pytest.raises(GradientMismatch):
        check_gradient(lambda w: w.pow(3).sum(), lambda w: 3 * w**2, torch.tensor([[1.0]]),
                       fd_step=0.5, min_kink_distance=1.0)


def test_both_comparisons_must_pass():
    # autograd sees a detached square (gradient 0); finite differences see 2w; derived 2w
    f = lambda w: (w.detach() ** 2).sum() + 0 * w.sum()  # noqa: E731
    with pytest.raises(GradientMismatch):
        check_gradient(f, lambda w: 2 * w, random_points(3, 2))


def test_tolerances_are_inclusive():
    # f linear, h a power of two: autograd and central differences are exact, errors exactly 0
    rep = check_gradient(lambda w: (3 * w).sum(), lambda w: torch.full_like(w, 3.0), torch.tensor([[1.0, 0.5]]),
                         tol_autograd=0.0, tol_fd=0.0, fd_step=2.0**-10, min_kink_distance=1e-2)
    assert rep.checked == 1


def test_point_exactly_at_the_minimum_kink_distance_is_checked():
    rep = check_gradient(lambda w: w.sum(), lambda w: torch.ones_like(w), torch.tensor([[0.0], [1.0]]),
                         kink_distance=lambda w: 1e-3 if float(w[0]) == 0.0 else 0.0)
    assert rep.skipped_near_kinks == 1 and rep.checked == 1


def test_points_and_gradients_of_other_dtypes_are_compared_in_float64():
    pts = random_points(4, 2).to(torch.float32)
    rep = check_gradient(lambda w: torch.sin(w).sum(), lambda w: torch.cos(w), pts)
    assert rep.checked == 4
    # a float32 derived gradient is off by float32 rounding (~1e-8): refused at tol 1e-10
    with pytest.raises(GradientMismatch):
        check_gradient(lambda w: torch.sin(w).sum(), lambda w: torch.cos(w).float(), random_points(4, 2))


def test_random_points_default_stream_is_zero():
    assert torch.equal(random_points(3, 2), random_points(3, 2, stream=0))
    assert not torch.equal(random_points(3, 2), random_points(3, 2, stream=1))


def test_gradcheck_derived_uses_its_tolerances_and_raises():
    cube = lambda a: (a**3).sum()  # noqa: E731
    right = lambda a: (3 * a**2,)  # noqa: E731
    small, large = torch.tensor([1e-3], dtype=torch.float64), torch.tensor([10.0], dtype=torch.float64)
    assert gradcheck_derived(cube, right, (small,)) is True
    # defaults atol 1e-5, rtol 1e-3: an absolute slip of 1e-3 at a small gradient is caught (raised, not returned)
    with pytest.raises(GradcheckError):
        gradcheck_derived(cube, lambda a: (3 * a**2 + 1e-3,), (small,))
    # ... and a relative slip of 1 % at a large gradient (300)
    with pytest.raises(GradcheckError):
        gradcheck_derived(cube, lambda a: (3.03 * a**2,), (large,))
    # the arguments given are the ones used
    assert gradcheck_derived(cube, lambda a: (3 * a**2 + 1e-3,), (small,), atol=1e-2) is True
    assert gradcheck_derived(cube, lambda a: (3.03 * a**2,), (large,), rtol=0.05) is True
    with pytest.raises(GradcheckError):  # a step of 0.5 makes the finite difference of a^3 off by 0.25
        gradcheck_derived(cube, right, (small,), eps=0.5)


def test_a_gradient_given_as_a_list_is_read_in_float64():
    rep = check_gradient(lambda w: torch.sin(w).sum(), lambda w: torch.cos(w).tolist(), random_points(4, 2))
    assert rep.checked == 4  # read at torch's default float32 it would miss the 1e-10 tolerance
