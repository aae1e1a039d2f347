r"""Numeric checks that a derived gradient is right.

Every page that derives a gradient verifies it two independent ways, at seeded
random points in float64:

* against **torch autograd** of the same function (agreement to ~1e-12), and
* against **central finite differences**
  :math:`(f(w + h e_i) - f(w - h e_i)) / 2h` (agreement to ~1e-7),

skipping points closer than a chosen distance to a kink, where neither
comparison is meaningful.  :func:`check_gradient` returns a
:class:`GradientReport` whose printed form contains only counts and the
tolerances met, so notebook output is identical on every machine, and raises
:class:`GradientMismatch` when any point disagrees.

:func:`gradcheck_derived` runs ``torch.autograd.gradcheck`` on a derived
gradient by making it the ``backward`` of a custom ``torch.autograd.Function``
(gradcheck would otherwise only test torch's own derivatives).

:func:`one_sided_derivatives` gives the left and right difference quotients
of a scalar function, for the kinks of chapter 1.3 where no gradient exists.
:func:`random_points` draws the seeded points of every check from
:func:`ebm_utils.seeding.generator`.

Introduced on the page "How this book checks itself".
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from . import seeding
from ._validation import check_callable, check_int, check_interval

__all__ = [
    "GradientMismatch",
    "GradientReport",
    "check_gradient",
    "derived_function",
    "gradcheck_derived",
    "random_points",
    "finite_difference_gradient",
    "one_sided_derivatives",
]


class GradientMismatch(AssertionError):
    """A derived gradient disagrees with autograd or with finite differences."""


@dataclass(frozen=True)
class GradientReport:
    """Outcome of :func:`check_gradient`.

    The errors are kept as attributes; ``repr`` shows only what is
    machine-independent: the counts and the tolerances that were met.
    """

    name: str
    points: int
    skipped_near_kinks: int
    max_abs_err_autograd: float
    max_rel_err_autograd: float
    max_abs_err_fd: float
    max_rel_err_fd: float
    tol_autograd: float
    tol_fd: float

    @property
    def checked(self) -> int:
        return self.points - self.skipped_near_kinks

    def __repr__(self) -> str:
        return (
            f"{self.name}: {self.checked} of {self.points} points checked "
            f"({self.skipped_near_kinks} skipped near kinks); "
            f"matches autograd (rel. err < {self.tol_autograd:.0e}) "
            f"and finite differences (rel. err < {self.tol_fd:.0e})"
        )

    __str__ = __repr__


def random_points(
    n: int, dim: int, low: float = -2.0, high: float = 2.0, stream: int = 0
) -> Tensor:
    """``n`` uniform points in ``[low, high]^dim`` (float64), shape ``[n, dim]``, from ``stream``.

    Drawn from :func:`ebm_utils.seeding.generator` ``(stream)``: the same points
    for the same stream, other points under another ``EBM_SEED``.
    """
    check_int(n, "n")
    check_int(dim, "dim")
    check_interval(low, high)
    g = seeding.generator(stream)
    return low + (high - low) * torch.rand(n, dim, generator=g, dtype=torch.float64)


def finite_difference_gradient(f: Callable[[Tensor], Tensor], w: Tensor, h: float = 1e-6) -> Tensor:
    """Central differences of a scalar function ``f`` at the point ``w`` (1-D)."""
    w = w.detach()
    grad = torch.empty_like(w)
    for i in range(w.numel()):
        e = torch.zeros_like(w)
        e[i] = h
        grad[i] = (f(w + e) - f(w - e)) / (2 * h)
    return grad


def _autograd(f: Callable[[Tensor], Tensor], w: Tensor) -> Tensor:
    w = w.detach().clone().requires_grad_(True)
    out = f(w)
    if out.numel() != 1:
        raise ValueError(f"the function must return a scalar, got shape {tuple(out.shape)}")
    (g,) = torch.autograd.grad(out, w)
    return g


def _rel_err(a: Tensor, b: Tensor) -> tuple[float, float]:
    diff = (a - b).abs()
    scale = torch.maximum(a.abs(), b.abs()).clamp_min(1.0)
    return float(diff.max()), float((diff / scale).max())


def check_gradient(
    f: Callable[[Tensor], Tensor],
    gradient: Callable[[Tensor], Tensor],
    points: Tensor,
    *,
    kink_distance: Callable[[Tensor], Tensor | float] | None = None,
    min_kink_distance: float = 1e-3,
    tol_autograd: float = 1e-10,
    tol_fd: float = 1e-6,
    fd_step: float = 1e-6,
    name: str = "gradient",
) -> GradientReport:
    r"""Check a derived gradient against autograd and central differences.

    Args:
        f: scalar function of a 1-D float64 parameter tensor ``w`` (built from
            torch operations, so autograd can differentiate it).
        gradient: the derived gradient, a function of ``w`` returning a tensor
            of the same shape.
        points: ``[P, d]`` points at which to compare (see :func:`random_points`).
        kink_distance: distance from ``w`` to the nearest non-differentiable
            point of ``f`` (for example ``|F_W(x, y)|`` for a ``[F]^+`` term);
            points closer than ``min_kink_distance`` are skipped and counted.
        tol_autograd, tol_fd: largest accepted relative error
            :math:`|a - b| / \max(1, |a|, |b|)` for each comparison.

    Returns:
        A :class:`GradientReport`.

    Raises:
        GradientMismatch: at the first point where a comparison fails.
        ValueError: if every point was skipped (the check would be empty).
    """
    if not isinstance(points, Tensor) or points.dim() != 2:
        raise TypeError("points must be a [P, d] tensor")
    if min_kink_distance <= fd_step:
        raise ValueError("min_kink_distance must exceed fd_step, or differences cross kinks")
    pts = points.to(torch.float64)
    skipped = 0
    worst = [0.0, 0.0, 0.0, 0.0]
    for w in pts:
        if kink_distance is not None and float(kink_distance(w)) < min_kink_distance:
            skipped += 1
            continue
        derived = torch.as_tensor(gradient(w.clone()), dtype=torch.float64).reshape(w.shape)
        auto = _autograd(f, w)
        fd = finite_difference_gradient(f, w, fd_step)
        abs_a, rel_a = _rel_err(derived, auto)
        abs_f, rel_f = _rel_err(derived, fd)
        if not (rel_a <= tol_autograd and rel_f <= tol_fd):  # also catches NaN
            raise GradientMismatch(
                f"{name}: at w={w.tolist()} the derived gradient {derived.tolist()} "
                f"differs from autograd {auto.tolist()} (rel. err {rel_a:.2e}, tol "
                f"{tol_autograd:.0e}) or finite differences {fd.tolist()} (rel. err "
                f"{rel_f:.2e}, tol {tol_fd:.0e})"
            )
        worst = [max(worst[0], abs_a), max(worst[1], rel_a), max(worst[2], abs_f), max(worst[3], rel_f)]
    if skipped == len(pts):
        raise ValueError(f"{name}: all {skipped} points lie near kinks; nothing was checked")
    return GradientReport(name, len(pts), skipped, *worst, tol_autograd, tol_fd)


def derived_function(
    forward: Callable[..., Tensor], gradients: Callable[..., tuple[Tensor, ...]]
) -> Callable[..., Tensor]:
    """A function whose autograd ``backward`` is the *derived* gradient.

    ``forward(*inputs)`` must return a scalar and ``gradients(*inputs)`` the
    tuple of its partial derivatives, one per input.  Calling the result
    computes ``forward``; differentiating it uses ``gradients``, so
    ``torch.autograd.gradcheck`` compares the derivation with finite differences.
    """

    class _Derived(torch.autograd.Function):
        @staticmethod
        def forward(ctx: torch.autograd.function.FunctionCtx, *inputs: Tensor) -> Tensor:  # type: ignore[override]
            ctx.save_for_backward(*inputs)
            with torch.no_grad():
                return forward(*inputs)

        @staticmethod
        def backward(ctx: torch.autograd.function.FunctionCtx, grad_out: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
            inputs = ctx.saved_tensors  # type: ignore[attr-defined]
            grads = gradients(*inputs)
            if len(grads) != len(inputs):
                raise ValueError(f"gradients returned {len(grads)} tensors for {len(inputs)} inputs")
            return tuple(grad_out * g for g in grads)

    return _Derived.apply


def gradcheck_derived(
    forward: Callable[..., Tensor],
    gradients: Callable[..., tuple[Tensor, ...]],
    inputs: tuple[Tensor, ...],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """``torch.autograd.gradcheck`` of a derived gradient (see :func:`derived_function`).

    Inputs must be float64 tensors.  Returns True, or raises
    ``GradcheckError`` (from ``torch.autograd.gradcheck``) naming the mismatching entries.
    """
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or x.dtype != torch.float64:
            raise TypeError(f"input {i} must be a float64 tensor for gradcheck")
    fn = derived_function(forward, gradients)
    xs = tuple(x.detach().clone().requires_grad_(True) for x in inputs)
    return torch.autograd.gradcheck(fn, xs, eps=eps, atol=atol, rtol=rtol, raise_exception=True)


def one_sided_derivatives(
    f: Callable[[Tensor], Tensor], z0: float, h: float = 1e-6
) -> tuple[float, float]:
    r"""Left and right difference quotients of a scalar function at ``z0`` (float64).

    .. math::
        \left(\frac{f(z_0) - f(z_0 - h)}{h},\ \frac{f(z_0 + h) - f(z_0)}{h}\right)

    At a kink of a piecewise-smooth function they tend to the two different
    one-sided derivatives; where the function is differentiable, to the same
    value.  Pages 1.3(a) and 1.3(c).
    """
    check_callable(f, "f")
    if not (isinstance(h, (int, float)) and 0 < h < 1):
        raise ValueError(f"h must lie in (0, 1), got {h!r}")
    z = torch.tensor(float(z0), dtype=torch.float64)
    f0 = float(f(z))
    return (f0 - float(f(z - h))) / h, (float(f(z + h)) - f0) / h
