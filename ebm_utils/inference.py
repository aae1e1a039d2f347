r"""Inference with an energy: minimise it, or normalise it (and count the cost).

Energies are costs, :math:`F(x, y) \in \mathbb{R}`; inference returns a low
energy output.  This module holds the numerical tools of chapter 1.1:

* :func:`argmin_set` -- every grid point whose energy is within ``atol`` of
  the grid minimum (page 1.1(a): the minimum set may have many elements);
* :func:`descend` -- batched gradient-descent inference from several
  starting points (pages 1.1(a) and 1.1(h));
* :class:`CountingEnergy` -- wraps an energy and counts how many outputs it
  was evaluated at;
* :func:`midpoint_grid` and :func:`log_partition_grid` -- the partition
  function :math:`Z = \int e^{-\beta F(y)}\,dy` over a box by the midpoint
  rule, with the number of energy evaluations it took (pages 1.1(b), 1.1(c));
* :func:`latent_free_energy` -- the free energy of a latent variable on a
  grid, :math:`-\frac{1}{\beta}\log \int e^{-\beta G(z)}\,dz` (page 1.1(h));
* :func:`reliability` -- expected calibration error of predicted label
  probabilities (page 1.1(b): normalised is not the same as calibrated).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ._validation import (
    check_beta,
    check_callable,
    check_float_tensor,
    check_int,
    check_int_tensor,
    check_interval,
    check_nonnegative,
    check_positive,
)
from .losses import free_energy

__all__ = [
    "argmin_set",
    "DescentResult",
    "descend",
    "CountingEnergy",
    "midpoint_grid",
    "PartitionEstimate",
    "log_partition_grid",
    "latent_free_energy",
    "Reliability",
    "reliability",
]

EnergyFn = Callable[[Tensor], Tensor]


def _points(points: object, name: str) -> Tensor:
    p = check_float_tensor(points, name)
    if p.dim() != 2 or p.shape[0] < 1:
        raise ValueError(f"{name} must have shape [N, d] with N >= 1, got {tuple(p.shape)}")
    return p


def _evaluate(energy: EnergyFn, points: Tensor) -> Tensor:
    e = energy(points)
    if not isinstance(e, Tensor) or e.shape != points.shape[:1]:
        raise ValueError(
            f"the energy must map [N, d] points to [N] energies, got "
            f"{tuple(e.shape) if isinstance(e, Tensor) else type(e).__name__} for {tuple(points.shape)}"
        )
    return e


# ---------------------------------------------------------------- minimising
def argmin_set(energy: EnergyFn, grid: Tensor, atol: float = 1e-9) -> tuple[float, Tensor]:
    r"""The grid version of :math:`\arg\min_y F(y)`.

    Returns the grid minimum :math:`m = \min_i F(y_i)` and every grid point
    with :math:`F(y_i) \le m + \text{atol}` (shape ``[K, d]``, in grid
    order).  On a grid a continuum of minimisers shows up as many points, an
    isolated minimiser as one or a few.  Page 1.1(a).
    """
    grid = _points(grid, "grid")
    check_nonnegative(atol, "atol")
    with torch.no_grad():
        e = _evaluate(energy, grid)
    if not bool(torch.isfinite(e).all()):
        raise ValueError("the energy is not finite at every grid point")
    m = float(e.min())
    return m, grid[e <= m + atol]


@dataclass(frozen=True)
class DescentResult:
    """Outcome of :func:`descend`: final points ``[K, d]``, their energies ``[K]``,
    and the path ``[steps + 1, K, d]`` (start included)."""

    points: Tensor
    energies: Tensor
    path: Tensor


def descend(energy: EnergyFn, starts: Tensor, steps: int = 200, lr: float = 0.05) -> DescentResult:
    r"""Gradient-descent inference :math:`y \leftarrow y - \eta \nabla_y F(y)` from each start.

    ``energy`` maps ``[K, d]`` outputs to ``[K]`` energies; the ``K`` starts
    descend independently (the gradient of the sum is the stack of the
    individual gradients).  Pages 1.1(a) and 1.1(h).

    Raises:
        ValueError: if an energy or a gradient becomes non-finite (divergence
            is never silent, e.g. when ``lr`` is too large).
    """
    y = _points(starts, "starts").detach().clone()
    steps = check_int(steps, "steps", minimum=0)
    lr = check_positive(lr, "lr")
    path = [y.clone()]
    for step in range(steps):
        y.requires_grad_(True)
        e = _evaluate(energy, y)
        (g,) = torch.autograd.grad(e.sum(), y)
        if not (bool(torch.isfinite(e).all()) and bool(torch.isfinite(g).all())):
            raise ValueError(f"gradient descent diverged at step {step} (try a smaller lr)")
        y = (y - lr * g).detach()
        path.append(y.clone())
    with torch.no_grad():
        e = _evaluate(energy, y)
    if not bool(torch.isfinite(e).all()):
        raise ValueError(f"gradient descent diverged at step {steps} (try a smaller lr)")
    return DescentResult(y, e, torch.stack(path))


# ---------------------------------------------------------------- normalising
class CountingEnergy:
    """An energy that counts the outputs it is evaluated at.

    ``CountingEnergy(f)(y)`` returns ``f(y)`` and adds the number of outputs in
    ``y`` (all dimensions but the last) to :attr:`evaluations`.  Page 1.1(b)
    uses it to measure what a partition function costs.
    """

    def __init__(self, energy: EnergyFn) -> None:
        self.energy = check_callable(energy, "energy")
        self.evaluations = 0

    def __call__(self, y: Tensor) -> Tensor:
        y = check_float_tensor(y, "y")
        self.evaluations += math.prod(y.shape[:-1]) if y.dim() > 0 else 1
        return self.energy(y)

    def reset(self) -> None:
        self.evaluations = 0


def midpoint_grid(low: float, high: float, n: int, dim: int = 1) -> tuple[Tensor, float]:
    r"""The ``n**dim`` cell midpoints of the box :math:`[\text{low}, \text{high}]^{\text{dim}}`.

    Returns the points ``[n**dim, dim]`` (float64) and the volume
    :math:`h^{\text{dim}}` of one cell, :math:`h = (\text{high} - \text{low}) / n`.
    """
    n = check_int(n, "n")
    dim = check_int(dim, "dim")
    low, high = check_interval(low, high)
    h = (high - low) / n
    axis = low + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    pts = torch.cartesian_prod(*([axis] * dim)).reshape(-1, dim)
    return pts, h**dim


@dataclass(frozen=True)
class PartitionEstimate:
    """A midpoint-rule partition function: ``log_z``, the ``evaluations`` of the energy
    it took, and the grid (``n`` points per axis, ``dim`` axes)."""

    log_z: float
    evaluations: int
    n: int
    dim: int


def log_partition_grid(
    energy: EnergyFn,
    low: float,
    high: float,
    n: int,
    dim: int = 1,
    beta: float = 1.0,
    chunk: int = 1 << 16,
) -> PartitionEstimate:
    r"""Midpoint rule for :math:`\log Z = \log \int_{[\text{low}, \text{high}]^d} e^{-\beta F(y)}\,dy`.

    .. math::
        \log Z \approx \log \sum_{i=1}^{n^d} e^{-\beta F(y_i)} + d \log h,

    evaluated with log-sum-exp (no overflow), ``chunk`` points at a time so
    memory stays bounded.  Every one of the :math:`n^d` cells costs one energy
    evaluation: the cost grows exponentially with the dimension.  Pages
    1.1(b) (cost) and 1.1(c) (quadrature against a closed form).
    """
    check_callable(energy, "energy")
    beta = float(check_beta(beta))
    chunk = check_int(chunk, "chunk")
    counter = energy if isinstance(energy, CountingEnergy) else CountingEnergy(energy)
    before = counter.evaluations
    pts, cell = midpoint_grid(low, high, n, dim)
    parts = []
    with torch.no_grad():
        for start in range(0, pts.shape[0], chunk):
            block = pts[start : start + chunk]
            e = _evaluate(counter, block)
            if bool(torch.isnan(e).any()):
                raise ValueError("the energy is NaN at some grid point")
            parts.append(torch.logsumexp(-beta * e, dim=0))
    log_z = float(torch.logsumexp(torch.stack(parts), dim=0)) + math.log(cell)
    return PartitionEstimate(log_z, counter.evaluations - before, n, dim)


def latent_free_energy(
    energies: Tensor, beta: float | Tensor = 1.0, measure: float = 1.0, dim: int = -1
) -> Tensor:
    r"""Free energy of a latent variable sampled on a uniform grid.

    .. math::
        F_\beta = -\frac{1}{\beta} \log \int e^{-\beta G(z)}\,dz
                \approx -\frac{1}{\beta} \log \sum_j e^{-\beta G(z_j)}\,\Delta z
                = \texttt{free\_energy}(G, \beta) - \frac{\log \Delta z}{\beta},

    with ``measure`` :math:`= \Delta z` the grid spacing (the cell volume of
    the latent grid).  With ``measure=1`` it is
    :func:`ebm_utils.losses.free_energy` (a sum over discrete latent values).
    It tends to :math:`\min_z G` as :math:`\beta \to \infty`.  Page 1.1(h).
    """
    measure = check_positive(measure, "measure")
    return free_energy(energies, beta, dim) - math.log(measure) / beta


# ---------------------------------------------------------------- calibration
@dataclass(frozen=True)
class Reliability:
    """Per-bin confidence, accuracy and counts, and the expected calibration error."""

    ece: float
    confidence: Tensor
    accuracy: Tensor
    counts: Tensor


def reliability(probs: Tensor, labels: Tensor, bins: int = 10) -> Reliability:
    r"""Expected calibration error of predicted label probabilities.

    The prediction is the most probable label and its confidence the
    probability given to it.  Confidences are binned into ``bins`` equal
    intervals of :math:`[0, 1]`; with :math:`B_k` the examples of bin :math:`k`,

    .. math::
        \text{ECE} = \sum_k \frac{|B_k|}{N}\,
            \bigl|\operatorname{acc}(B_k) - \operatorname{conf}(B_k)\bigr|.

    A model is calibrated when, among the examples it gives confidence
    :math:`c`, a fraction :math:`c` is right; normalised probabilities need
    not be (page 1.1(b)).  Empty bins get NaN confidence and accuracy.
    """
    p = check_float_tensor(probs, "probs")
    if p.dim() != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must have shape [N, n] with n >= 2 labels, got {tuple(p.shape)}")
    if check_int_tensor(labels, "labels").shape != p.shape[:1]:
        raise ValueError(f"labels must have shape [{p.shape[0]}], got {tuple(labels.shape)}")
    if bool((p < 0).any()) or not torch.allclose(p.sum(1), torch.ones_like(p[:, 0]), atol=1e-6):
        raise ValueError("each row of probs must be a probability vector (non-negative, sums to 1)")
    bins = check_int(bins, "bins")
    conf, pred = p.max(1)
    right = (pred == labels).to(p.dtype)
    k = (conf * bins).floor().clamp(max=bins - 1).long()
    counts = torch.bincount(k, minlength=bins)
    csum = torch.zeros(bins, dtype=p.dtype).index_add_(0, k, conf)
    asum = torch.zeros(bins, dtype=p.dtype).index_add_(0, k, right)
    nonzero = counts > 0
    c = torch.where(nonzero, csum / counts.clamp(min=1), torch.nan)
    a = torch.where(nonzero, asum / counts.clamp(min=1), torch.nan)
    ece = float(((asum - csum).abs()).sum() / p.shape[0])
    return Reliability(ece, c, a, counts)


# ---------------------------------------------------------------- page 1.1(h): basins of a periodic latent
def periodic_descent_end(values: Tensor, start: int) -> int:
    r"""Where steepest descent on a periodic grid ends: the local minimum whose basin holds ``start``.

    ``values`` are :math:`G(z_j)` on a uniform grid of a periodic latent
    (the index after the last wraps to 0).  From ``start`` the walk moves to
    the lower of the two neighbours while one is lower, and returns the
    index where it stops, a grid local minimum.  Gradient descent on
    :math:`z` with small steps follows the same downhill path, so this
    predicts, from the grid alone, which minimum a descent run reaches
    (page 1.1(h)), for starts that are not within about one grid spacing
    of a local maximum: there the grid's downhill neighbour and the sign
    of :math:`G'` at the start may disagree, and so may the two answers.
    When the two neighbours have equal values the walk goes right (to the
    next index); a neighbour equal to the current value does not move it.
    """
    v = check_float_tensor(values, "values").reshape(-1)
    n = v.numel()
    if n < 3:
        raise ValueError(f"values needs at least 3 grid points, got {n}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError("values must be finite")
    i = check_int(start, "start", minimum=0)
    if i >= n:
        raise IndexError(f"start must lie in [0, {n - 1}], got {i}")
    for _ in range(n):
        left, right = (i - 1) % n, (i + 1) % n
        nxt = left if v[left] < v[right] else right
        if not bool(v[nxt] < v[i]):
            return i
        i = nxt
    raise RuntimeError("the walk did not stop")  # impossible: every move lowers the value


__all__ += ["periodic_descent_end"]


# ---------------------------------------------------------------- pages 1.1(a)-(d), second edition
__all__ += ["largest_angular_gap", "MonteCarloEstimate", "importance_log_partition", "annealed_log_partition"]


def largest_angular_gap(points: Tensor) -> float:
    r"""The largest gap (radians) between the angles of 2-D points seen from the origin.

    Sort the angles :math:`\operatorname{atan2}(y_2, y_1)` and take the largest
    difference between neighbours, the wrap-around included.  A set that runs
    all the way round the origin has a small gap; a single point has the gap
    :math:`2\pi`.  Page 1.1(a) measures low-energy sets of the ring with it.
    """
    p = _points(points, "points")
    if p.shape[1] != 2:
        raise ValueError(f"points must have shape [N, 2], got {tuple(p.shape)}")
    a = torch.sort(torch.atan2(p[:, 1], p[:, 0])).values
    gaps = torch.cat([a.diff(), (a[:1] + 2 * math.pi) - a[-1:]])
    return float(gaps.max())


@dataclass(frozen=True)
class MonteCarloEstimate:
    r"""A Monte Carlo estimate of :math:`\log Z`: ``log_z``, the energy ``evaluations``
    it took, and the ``log_weights`` of its samples (or chains), from which
    :math:`\hat Z = Z_0 \cdot \operatorname{mean}(e^{\log w})`."""

    log_z: float
    evaluations: int
    log_weights: Tensor

    @property
    def effective_sample_size(self) -> float:
        r"""Kish's :math:`(\sum w)^2 / \sum w^2`: near the sample count when the weights are even."""
        lw = self.log_weights
        return float(torch.exp(2 * torch.logsumexp(lw, 0) - torch.logsumexp(2 * lw, 0)))

    @property
    def standard_error(self) -> float:
        r"""The delta-method standard error of ``log_z``: :math:`\sqrt{(N/\mathrm{ESS} - 1)/N}`.

        :math:`\operatorname{Var}\log\hat Z \approx \operatorname{Var}(w) / (N\,\bar w^2)`,
        and :math:`\operatorname{Var}(w)/\bar w^2 = N\sum w^2/(\sum w)^2 - 1 = N/\mathrm{ESS} - 1`.
        Valid when the weights have a finite variance and N is large; it does
        not see the downward bias :math:`\approx -\mathrm{SE}^2/2` of :math:`\log\hat Z`.
        """
        n = self.log_weights.shape[0]
        return math.sqrt(max(n / self.effective_sample_size - 1.0, 0.0) / n)


def _gaussian_log_z(dim: int, std: float) -> float:
    return 0.5 * dim * math.log(2 * math.pi * std**2)


def _log_mean_exp(lw: Tensor) -> float:
    return float(torch.logsumexp(lw, 0)) - math.log(lw.shape[0])


def importance_log_partition(
    energy: EnergyFn,
    dim: int,
    samples: int,
    *,
    beta: float = 1.0,
    proposal_std: float = 1.0,
    stream: int = 0,
) -> MonteCarloEstimate:
    r"""Importance sampling of :math:`Z = \int_{\mathbb{R}^d} e^{-\beta F(y)}\,dy` from :math:`q = \mathcal{N}(0, s^2 I)`.

    .. math::
        \hat Z = \frac1N \sum_{i=1}^N \frac{e^{-\beta F(y_i)}}{q(y_i)}, \qquad y_i \sim q.

    Unbiased for :math:`Z` (so :math:`\log \hat Z` is biased low), at a cost
    of ``samples`` evaluations whatever the dimension; its relative variance
    is :math:`\operatorname{Var}_q(w)/Z^2`, which for a product target grows
    like :math:`c^d` with :math:`c \ge 1` the mismatch per coordinate
    (page 1.1(b)).  Draws from :func:`ebm_utils.seeding.generator` ``(stream)``.
    """
    from . import seeding

    check_callable(energy, "energy")
    dim = check_int(dim, "dim")
    samples = check_int(samples, "samples")
    beta = float(check_beta(beta))
    s = check_positive(proposal_std, "proposal_std")
    counter = energy if isinstance(energy, CountingEnergy) else CountingEnergy(energy)
    before = counter.evaluations
    g = seeding.generator(stream)
    y = s * torch.randn(samples, dim, generator=g, dtype=torch.float64)
    with torch.no_grad():
        e = _evaluate(counter, y)
    log_q = -0.5 * y.square().sum(1) / s**2 - _gaussian_log_z(dim, s)
    lw = -beta * e - log_q
    return MonteCarloEstimate(_log_mean_exp(lw), counter.evaluations - before, lw)


def annealed_log_partition(
    energy: EnergyFn,
    dim: int,
    chains: int,
    temperatures: int,
    *,
    beta: float = 1.0,
    init_std: float = 1.0,
    step_size: float = 0.5,
    mh_steps: int = 1,
    stream: int = 0,
) -> MonteCarloEstimate:
    r"""Annealed importance sampling (Neal, 2001) of :math:`Z = \int_{\mathbb{R}^d} e^{-\beta F(y)}\,dy`.

    The chains start from :math:`p_0 = \mathcal{N}(0, s^2 I)` (normaliser
    :math:`Z_0` known) and pass through :math:`f_k(y) = p_0(y)^{1 - b_k}
    e^{-b_k \beta F(y)}` for :math:`0 = b_0 < b_1 < \dots < b_T = 1`
    (:math:`b_k = (k/T)^2`, ``temperatures`` :math:`= T`).  Each chain
    accumulates :math:`\log w \mathrel{+}= \log f_k(y) - \log f_{k-1}(y)` and
    then takes ``mh_steps`` random-walk Metropolis steps (proposal
    :math:`\mathcal{N}(y, \sigma^2 I)`, :math:`\sigma` = ``step_size``) that
    leave :math:`f_k` invariant.  Then :math:`Z_0 \cdot \operatorname{mean}(w)`
    is an unbiased estimate of :math:`Z` whatever the mixing of the chains;
    the mixing and the number of levels set its variance.  Cost:
    ``chains * (1 + temperatures * mh_steps)`` energy evaluations.
    Draws from :func:`ebm_utils.seeding.generator` ``(stream)``.
    """
    from . import seeding

    check_callable(energy, "energy")
    dim = check_int(dim, "dim")
    chains = check_int(chains, "chains")
    temperatures = check_int(temperatures, "temperatures")
    mh_steps = check_int(mh_steps, "mh_steps")
    beta = float(check_beta(beta))
    s = check_positive(init_std, "init_std")
    sigma = check_positive(step_size, "step_size")
    counter = energy if isinstance(energy, CountingEnergy) else CountingEnergy(energy)
    before = counter.evaluations
    g = seeding.generator(stream)
    b = (torch.arange(temperatures + 1, dtype=torch.float64) / temperatures) ** 2

    def log_p0(v: Tensor) -> Tensor:  # unnormalised: Z_0 is added at the end
        return -0.5 * v.square().sum(1) / s**2

    with torch.no_grad():
        y = s * torch.randn(chains, dim, generator=g, dtype=torch.float64)
        e = _evaluate(counter, y)
        lw = torch.zeros(chains, dtype=torch.float64)
        for k in range(1, temperatures + 1):
            lw += (b[k] - b[k - 1]) * (-beta * e - log_p0(y))
            for _ in range(mh_steps):
                prop = y + sigma * torch.randn(chains, dim, generator=g, dtype=torch.float64)
                e_prop = _evaluate(counter, prop)
                log_ratio = ((1 - b[k]) * (log_p0(prop) - log_p0(y)) - b[k] * beta * (e_prop - e))
                accept = torch.log(torch.rand(chains, generator=g, dtype=torch.float64)) < log_ratio
                y = torch.where(accept[:, None], prop, y)
                e = torch.where(accept, e_prop, e)
    if not bool(torch.isfinite(lw).all()):
        raise ValueError("a log-weight is not finite (is the energy finite everywhere?)")
    return MonteCarloEstimate(_gaussian_log_z(dim, s) + _log_mean_exp(lw), counter.evaluations - before, lw)
