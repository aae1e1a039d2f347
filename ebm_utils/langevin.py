r"""Sampling a continuous energy without its partition function: Langevin dynamics (page 2(a)).

The Langevin diffusion :math:`dY_t = -\nabla_y F(Y_t)\,dt + \sqrt{2/\beta}\,dB_t`
leaves :math:`p_\beta(y) = e^{-\beta F(y)} / Z_\beta` invariant, and only the
gradient :math:`\nabla_y F` is needed to simulate it, never :math:`Z_\beta`.
Its Euler-Maruyama discretisation with step :math:`\eta > 0` is the
**unadjusted Langevin algorithm** (ULA, :func:`langevin`)

.. math::
    y_{t+1} = y_t - \eta\, \nabla_y F(y_t) + \sqrt{2\eta/\beta}\;\xi_t,
    \qquad \xi_t \sim \mathcal{N}(0, I),

whose stationary distribution differs from :math:`p_\beta` by an amount that
grows with :math:`\eta` (page 2(a) derives it for a quadratic energy).  The
**Metropolis-adjusted** algorithm (MALA, :func:`mala`) uses the same move as a
proposal :math:`y'` and accepts it with probability

.. math::
    \min\!\left(1,\ \frac{e^{-\beta F(y')}\, q(y \mid y')}{e^{-\beta F(y)}\, q(y' \mid y)}\right),
    \qquad q(y' \mid y) \propto \exp\!\left(-\frac{\beta\,\lVert y' - y + \eta \nabla_y F(y)\rVert^2}{4\eta}\right),

which makes :math:`p_\beta` exactly invariant for every step size
(Roberts and Tweedie, 1996).  Both samplers run many chains at once (a
``[C, y_dim]`` tensor of states, one Python iteration per *step*, never per
chain or per sample) on any :class:`ebm_utils.energies.ContinuousEnergy`.

:class:`ReplayBuffer` keeps the states of persistent chains between calls, with
a small fraction restarted from uniform noise at every draw (the buffer of
Du and Mordatch, 2019), for the persistent estimator of page 2(b).

Every sampler draws from :func:`ebm_utils.seeding.generator` ``(stream)``, or
from a ``generator`` the page passes to continue one stream over several calls.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import seeding
from ._validation import (
    check_beta,
    check_float_tensor,
    check_generator,
    check_instance,
    check_int,
    check_interval,
    check_nonnegative,
    check_positive,
    check_rows,
)
from .energies import ContinuousEnergy

__all__ = ["ChainRun", "langevin", "mala", "ReplayBuffer", "mode_switches"]


@dataclass(frozen=True)
class ChainRun:
    """What a sampler returns.

    ``final``: the ``[C, y_dim]`` states after the last step; ``trace``: the
    ``[steps + 1, C, y_dim]`` states from the start on (only with
    ``trace=True``); ``accept_rate``: for MALA, the fraction of accepted
    proposals of each chain (``[C]``), ``None`` for ULA.
    """

    final: Tensor
    trace: Tensor | None
    accept_rate: Tensor | None


def _rng(stream: int, generator: torch.Generator | None) -> torch.Generator:
    if check_generator(generator) is not None:
        if stream != 0:
            raise ValueError("pass either a stream or a generator, not both")
        return generator
    return seeding.generator(stream)


def _check_run(model: object, w: object, y0: object, step: object, steps: object,
               beta: object) -> tuple[Tensor, Tensor, float, int, float]:
    check_instance(model, ContinuousEnergy, "model")
    w = model.check_w(w).detach()
    y0 = model.check_y(y0).detach()
    if not bool(torch.isfinite(y0).all()):
        raise ValueError("the initial states y0 must be finite")
    step = check_positive(step, "step")
    steps = check_int(steps, "steps")
    beta = float(check_beta(beta))
    return w, y0, step, steps, beta


def _value_and_grad(model: ContinuousEnergy, w: Tensor, x: Tensor | None, y: Tensor) -> tuple[Tensor, Tensor]:
    """The energies and their gradients in y, in one pass when the model offers ``value_and_grad_y``."""
    both = getattr(model, "value_and_grad_y", None)
    if both is not None:
        return both(w, x, y)
    return model(w, x, y), model.grad_y(w, x, y)


def langevin(
    model: ContinuousEnergy,
    w: Tensor,
    y0: Tensor,
    step: float,
    steps: int,
    beta: float = 1.0,
    *,
    x: Tensor | None = None,
    trace: bool = False,
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> ChainRun:
    r"""``steps`` steps of the unadjusted Langevin algorithm from ``y0`` (``[C, y_dim]``, one chain a row).

    :math:`y \leftarrow y - \eta \nabla_y F_W(x, y) + \sqrt{2\eta/\beta}\,\xi`
    with ``step`` :math:`= \eta > 0` and ``beta`` :math:`= \beta > 0`.  A step
    too large for the curvature of :math:`F` (for a quadratic energy of
    curvature :math:`a`, :math:`\eta a \ge 2`) makes the chains diverge; the
    states are returned as computed.
    """
    w, y, step, steps, beta = _check_run(model, w, y0, step, steps, beta)
    g = _rng(stream, generator)
    noise = math.sqrt(2.0 * step / beta)
    states = [y] if trace else None
    for _ in range(steps):
        y = y - step * model.grad_y(w, x, y) + noise * torch.randn(y.shape, generator=g, dtype=y.dtype)
        if states is not None:
            states.append(y)
    return ChainRun(y, torch.stack(states) if states is not None else None, None)


def mala(
    model: ContinuousEnergy,
    w: Tensor,
    y0: Tensor,
    step: float,
    steps: int,
    beta: float = 1.0,
    *,
    x: Tensor | None = None,
    trace: bool = False,
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> ChainRun:
    r"""``steps`` steps of the Metropolis-adjusted Langevin algorithm from ``y0`` (``[C, y_dim]``).

    The ULA move of :func:`langevin` is a proposal, accepted with the
    Metropolis-Hastings probability of the module docstring (tested in the
    log domain; a proposal with a non-finite energy is always rejected), so
    :math:`e^{-\beta F}/Z` is invariant whatever the step.
    """
    w, y, step, steps, beta = _check_run(model, w, y0, step, steps, beta)
    g = _rng(stream, generator)
    noise = math.sqrt(2.0 * step / beta)
    f, grad = _value_and_grad(model, w, x, y)
    accepted = torch.zeros(y.shape[0], dtype=y.dtype)
    states = [y] if trace else None
    for _ in range(steps):
        prop = y - step * grad + noise * torch.randn(y.shape, generator=g, dtype=y.dtype)
        f_prop, grad_prop = _value_and_grad(model, w, x, prop)
        # log q(y | y') - log q(y' | y), with q(b | a) = N(b; a - step grad(a), 2 step / beta)
        fwd = (prop - y + step * grad).square().sum(-1)
        bwd = (y - prop + step * grad_prop).square().sum(-1)
        log_alpha = -beta * (f_prop - f) - beta * (bwd - fwd) / (4.0 * step)
        u = torch.rand(y.shape[0], generator=g, dtype=y.dtype)
        accept = torch.log(u) < log_alpha  # False for NaN: a non-finite proposal is rejected
        y = torch.where(accept[:, None], prop, y)
        f = torch.where(accept, f_prop, f)
        grad = torch.where(accept[:, None], grad_prop, grad)
        accepted += accept.to(y.dtype)
        if states is not None:
            states.append(y)
    return ChainRun(y, torch.stack(states) if states is not None else None, accepted / steps)


class ReplayBuffer:
    r"""The states of persistent chains, kept between training steps (page 2(b)).

    ``capacity`` points in ``y_dim`` dimensions, first drawn uniformly from
    the box :math:`[\text{low}, \text{high}]^{\text{y\_dim}}`.  :meth:`sample`
    returns ``n`` distinct stored states (and their indices), each replaced,
    with probability ``reinit``, by a fresh uniform point; after the chains
    have moved, :meth:`push` writes them back.  With ``reinit=0`` and
    ``capacity`` equal to the number of chains this is plain persistent
    contrastive divergence (Tieleman, 2008); a small ``reinit``
    (5 % in Du and Mordatch, 2019) keeps some chains exploring.
    """

    def __init__(
        self,
        capacity: int,
        y_dim: int,
        low: float,
        high: float,
        reinit: float = 0.05,
        *,
        stream: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        self.capacity = check_int(capacity, "capacity")
        self.y_dim = check_int(y_dim, "y_dim")
        self.low, self.high = check_interval(low, high)
        self.reinit = check_nonnegative(reinit, "reinit")
        if self.reinit > 1:
            raise ValueError(f"reinit is a probability, at most 1, got {self.reinit}")
        self._g = _rng(stream, generator)
        self.points = self._uniform(self.capacity)

    def _uniform(self, n: int) -> Tensor:
        u = torch.rand(n, self.y_dim, generator=self._g, dtype=torch.float64)
        return self.low + (self.high - self.low) * u

    def sample(self, n: int) -> tuple[Tensor, Tensor]:
        """``(index, points)``: ``n`` distinct stored states, a fraction ``reinit`` of them fresh noise."""
        n = check_int(n, "n", maximum=self.capacity)
        index = torch.randperm(self.capacity, generator=self._g)[:n]
        points = self.points[index].clone()
        fresh = torch.rand(n, generator=self._g, dtype=torch.float64) < self.reinit
        points[fresh] = self._uniform(int(fresh.sum()))
        return index, points

    def push(self, index: Tensor, points: Tensor) -> None:
        """Store ``points`` (``[n, y_dim]``, finite) at ``index`` (as returned by :meth:`sample`)."""
        points = check_rows(check_float_tensor(points, "points"), self.y_dim, "points")
        if not isinstance(index, Tensor) or index.dim() != 1 or index.shape[0] != points.shape[0]:
            raise ValueError(f"index must be a [n] tensor with one entry per point ({points.shape[0]})")
        if index.dtype not in (torch.int64, torch.int32) or int(index.min()) < 0 or int(index.max()) >= self.capacity:
            raise IndexError(f"index must hold integers in [0, {self.capacity - 1}]")
        if not bool(torch.isfinite(points).all()):
            raise ValueError("points must be finite (a chain diverged: lower the step)")
        self.points[index] = points.detach().to(torch.float64)


def mode_switches(values: Tensor, low: float, high: float) -> Tensor:
    r"""How many times each chain crosses from one mode to the other, with hysteresis (page 2(a)).

    ``values`` is a ``[T, C]`` trace of one coordinate that separates two
    modes (for example :math:`y_1` for modes at :math:`y_1 = \pm d/2`).  A chain
    is *in the low mode* once its value falls below ``low`` and *in the high
    mode* once it rises above ``high``; in between it keeps its last mode, so
    jitter around the barrier is not counted.  A chain that starts between
    the thresholds is assigned to the first mode it enters.  Returns the
    ``[C]`` counts of switches.  Vectorised over chains; one iteration per step.
    """
    v = check_float_tensor(values, "values")
    if v.dim() != 2 or v.shape[0] < 1:
        raise ValueError(f"values must be a [T, C] trace, got shape {tuple(v.shape)}")
    low, high = check_interval(low, high)
    state = torch.zeros(v.shape[1], dtype=torch.int64)  # 0: not yet in a mode, -1 low, +1 high
    count = torch.zeros(v.shape[1], dtype=torch.int64)
    for t in range(v.shape[0]):
        new = torch.where(v[t] > high, 1, torch.where(v[t] < low, -1, state))
        count += ((new != state) & (state != 0)).to(torch.int64)
        state = new
    return count
