r"""Small trainable energies of 2-D points, and how to judge a learned landscape.

Every model is an energy :math:`F_W(y)` of a point :math:`y \in \mathbb{R}^d`
(or, reading the first coordinate as the input, of a pair :math:`(x, y)`),
written as a *cost*: low energy means "looks like the data".  The parameters
:math:`W` are one flat float64 vector ``w``, so that
:func:`ebm_utils.training.train` and :func:`ebm_utils.checks.check_gradient`
use the models directly.  Call a model as ``model(w, y)`` with ``y`` of shape
``[N, d]``; it returns the ``[N]`` energies.

Models (chapter 1.1, pages (d), (e) and (f)):

* :class:`MLPEnergy` -- :math:`F_W(y) = v^\top \tanh(A y + c) + b`, a flexible
  energy, unbounded below (``head="linear"``) or bounded below by 0
  (``head="softplus"``: the same network passed through
  :math:`\operatorname{softplus}`);
* :class:`KMeansEnergy` -- :math:`F_W(y) = \min_k \lVert y - c_k\rVert^2`,
  whose low-energy region is limited by the architecture to ``K`` blobs;
* :class:`SubspaceEnergy` -- :math:`F_W(y) = \lVert (I - P_U)(y - \mu)\rVert^2`,
  the PCA energy: squared distance to an affine subspace of rank ``r < d``.

Judging a landscape:

* :func:`energy_on_grid` -- the energy on a square grid, ready for ``contourf``;
* :func:`off_data_mask` -- grid points farther than a distance from every data point;
* :func:`separation` -- the probability that an off-data point has a higher
  energy than a data point (1: perfect contrast, 1/2: none);
* :func:`soft_volume` -- :math:`\int e^{-F(y)/T}\,dy` over the grid, a smooth
  measure of how much space has low energy (the regulariser of pages (e), (f)).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as Fn
from torch import Tensor

from ._validation import check_float_tensor
from .inference import midpoint_grid

__all__ = [
    "Energy",
    "MLPEnergy",
    "KMeansEnergy",
    "SubspaceEnergy",
    "energy_on_grid",
    "off_data_mask",
    "separation",
    "soft_volume",
]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _positive_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


class Energy:
    """Base class: an energy of ``dim``-dimensional points with a flat parameter vector.

    Subclasses set :attr:`num_params` and define :meth:`_init` and :meth:`_energy`.
    """

    num_params: int

    def __init__(self, dim: int) -> None:
        self.dim = _positive_int(dim, "dim")

    def check_w(self, w: object) -> Tensor:
        """``w`` as a float tensor of shape ``(num_params,)``, or a clear error."""
        if not isinstance(w, Tensor) or not w.is_floating_point():
            raise TypeError("w must be a floating-point torch.Tensor")
        if w.shape != (self.num_params,):
            raise ValueError(f"w must have shape ({self.num_params},), got {tuple(w.shape)}")
        return w

    def check_y(self, y: object) -> Tensor:
        """``y`` as a float tensor of shape ``[N, dim]``, or a clear error."""
        y = check_float_tensor(y, "y")
        if y.dim() != 2 or y.shape[1] != self.dim:
            raise ValueError(f"y must have shape [N, {self.dim}], got {tuple(y.shape)}")
        return y

    def init_params(self, seed: int = 0, scale: float = 1.0) -> Tensor:
        """Seeded float64 parameters (a fresh leaf tensor without ``requires_grad``)."""
        scale = _positive_float(scale, "scale")
        g = torch.Generator().manual_seed(seed)
        w = self._init(g, scale)
        assert w.shape == (self.num_params,)
        return w

    def __call__(self, w: Tensor, y: Tensor) -> Tensor:
        """The energies ``[N]`` of the points ``y`` (``[N, dim]``) under parameters ``w``."""
        return self._energy(self.check_w(w), self.check_y(y))

    def _init(self, g: torch.Generator, scale: float) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def _energy(self, w: Tensor, y: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError


class MLPEnergy(Energy):
    r"""A one-hidden-layer network, :math:`F_W(y) = v^\top \tanh(A y + c) + b`.

    :math:`W = (A, c, v, b)` with :math:`A \in \mathbb{R}^{h \times d}` and
    :math:`c, v \in \mathbb{R}^h`, :math:`b \in \mathbb{R}`.  With
    ``head="softplus"`` the energy is :math:`\operatorname{softplus}` of the same
    expression, so :math:`F_W \ge 0`; with ``head="linear"`` it is unbounded
    below (the output bias :math:`b` alone can lower every energy at once, the
    collapse of page 1.1(e)).
    """

    def __init__(self, dim: int = 2, hidden: int = 16, head: str = "linear") -> None:
        super().__init__(dim)
        self.hidden = _positive_int(hidden, "hidden")
        if head not in ("linear", "softplus"):
            raise ValueError(f"head must be 'linear' or 'softplus', got {head!r}")
        self.head = head
        self.num_params = hidden * dim + 2 * hidden + 1

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The views ``(A, c, v, b)`` of a flat parameter vector."""
        w = self.check_w(w)
        h, d = self.hidden, self.dim
        a = w[: h * d].reshape(h, d)
        c = w[h * d : h * d + h]
        v = w[h * d + h : h * d + 2 * h]
        b = w[-1]
        return a, c, v, b

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        h, d = self.hidden, self.dim
        return torch.cat(
            [
                torch.randn(h * d, generator=g, dtype=torch.float64) * scale * 2.0 / math.sqrt(d),
                torch.randn(h, generator=g, dtype=torch.float64) * scale,
                torch.randn(h, generator=g, dtype=torch.float64) * scale / math.sqrt(h),
                torch.zeros(1, dtype=torch.float64),
            ]
        )

    def _energy(self, w: Tensor, y: Tensor) -> Tensor:
        a, c, v, b = self.unpack(w)
        out = torch.tanh(y @ a.T + c) @ v + b
        return Fn.softplus(out) if self.head == "softplus" else out


class KMeansEnergy(Energy):
    r"""The K-means energy :math:`F_W(y) = \min_k \lVert y - c_k\rVert^2`, :math:`W = (c_1, \dots, c_K)`.

    Whatever the centres, only ``K`` points have energy 0 and the energy grows
    quadratically away from them: the architecture limits the volume of
    low-energy space (page 1.1(f)).  Gradient descent on the mean energy of the
    data is batch K-means with a learning rate.  :meth:`init_params` draws the
    centres from ``data`` when it is given (so that no centre starts unused).
    """

    def __init__(self, dim: int = 2, k: int = 8) -> None:
        super().__init__(dim)
        self.k = _positive_int(k, "k")
        self.num_params = k * dim

    def centres(self, w: Tensor) -> Tensor:
        """The ``[K, dim]`` centres."""
        return self.check_w(w).reshape(self.k, self.dim)

    def init_params(self, seed: int = 0, scale: float = 1.0, data: Tensor | None = None) -> Tensor:
        """Centres drawn from ``data`` (without replacement) or ``N(0, scale^2)``."""
        if data is None:
            return super().init_params(seed, scale)
        data = self.check_y(data)
        if data.shape[0] < self.k:
            raise ValueError(f"need at least k={self.k} data points, got {data.shape[0]}")
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(data.shape[0], generator=g)[: self.k]
        return data[idx].detach().clone().to(torch.float64).reshape(-1)

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return torch.randn(self.num_params, generator=g, dtype=torch.float64) * scale

    def _energy(self, w: Tensor, y: Tensor) -> Tensor:
        c = w.reshape(self.k, self.dim)
        d2 = (y[:, None, :] - c[None, :, :]).square().sum(-1)  # [N, K], exact (no cdist)
        return d2.min(dim=1).values


class SubspaceEnergy(Energy):
    r"""The PCA energy :math:`F_W(y) = \lVert (I - Q Q^\top)(y - \mu)\rVert^2`.

    :math:`W = (\mu, U)` with :math:`U \in \mathbb{R}^{d \times r}`, ``r < dim``;
    :math:`Q` is the orthonormal basis of the span of :math:`U` (a QR
    decomposition, differentiable).  Zero exactly on an affine subspace of
    dimension ``r``: low energy on a set of volume zero whatever :math:`W`
    is (page 1.1(f)).
    """

    def __init__(self, dim: int = 2, rank: int = 1) -> None:
        super().__init__(dim)
        self.rank = _positive_int(rank, "rank")
        if rank >= dim:
            raise ValueError(f"rank must be smaller than dim={dim} (rank {rank} makes F = 0), got {rank}")
        self.num_params = dim + dim * rank

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return torch.randn(self.num_params, generator=g, dtype=torch.float64) * scale

    def basis(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, Q)``: the offset and the ``[dim, rank]`` orthonormal basis."""
        w = self.check_w(w)
        mu = w[: self.dim]
        u = w[self.dim :].reshape(self.dim, self.rank)
        q, _ = torch.linalg.qr(u)
        return mu, q

    def _energy(self, w: Tensor, y: Tensor) -> Tensor:
        mu, q = self.basis(w)
        z = y - mu
        resid = z - (z @ q) @ q.T
        return resid.square().sum(-1)


# ---------------------------------------------------------------- judging a landscape
def energy_on_grid(
    energy: Callable[[Tensor], Tensor], low: float = -2.0, high: float = 2.0, n: int = 81
) -> tuple[Tensor, Tensor, Tensor]:
    """The energy at the ``n x n`` cell midpoints of ``[low, high]^2``.

    Returns ``(Y1, Y2, E)``, each ``[n, n]`` and indexed ``[row, column] =
    [y2 index, y1 index]`` as ``matplotlib.pyplot.contourf(Y1, Y2, E)`` expects.
    ``energy`` maps ``[N, 2]`` points to ``[N]`` energies; it is called once,
    without gradients.
    """
    pts, _ = midpoint_grid(low, high, n, dim=2)  # first coordinate varies slowest
    with torch.no_grad():
        e = energy(pts)
    if not isinstance(e, Tensor) or e.shape != (n * n,):
        raise ValueError(f"energy must map [N, 2] points to [N] energies, got {getattr(e, 'shape', e)}")
    e = e.reshape(n, n).T  # [y2, y1]
    y1 = pts[:, 0].reshape(n, n).T
    y2 = pts[:, 1].reshape(n, n).T
    return y1, y2, e


def off_data_mask(points: Tensor, data: Tensor, min_distance: float) -> Tensor:
    """True for each of ``points`` (``[P, d]``) farther than ``min_distance`` from every data point."""
    points = check_float_tensor(points, "points")
    data = check_float_tensor(data, "data")
    if points.dim() != 2 or data.dim() != 2 or points.shape[1] != data.shape[1]:
        raise ValueError(
            f"points and data must be [P, d] and [N, d] with the same d, got "
            f"{tuple(points.shape)} and {tuple(data.shape)}"
        )
    min_distance = _positive_float(min_distance, "min_distance")
    d2 = (points[:, None, :] - data[None, :, :]).square().sum(-1)
    return d2.min(dim=1).values > min_distance**2


def separation(energy_data: Tensor, energy_off: Tensor) -> float:
    r"""The probability that a random off-data point has a higher energy than a random data point.

    .. math::
        S = \frac{1}{N M} \sum_{i, j} \left(\mathbb{1}[F(y^{\text{off}}_j) > F(y_i)]
            + \tfrac{1}{2}\,\mathbb{1}[F(y^{\text{off}}_j) = F(y_i)]\right)

    (the area under the ROC curve of "energy" as a detector of off-data points).
    :math:`S = 1`: every off-data point costs more than every data point;
    :math:`S = 1/2`: the energy does not tell them apart (a flat landscape
    gives exactly 1/2); :math:`S < 1/2`: off-data points look *more* like data.
    """
    a = check_float_tensor(energy_data, "energy_data").detach().reshape(-1)
    b = check_float_tensor(energy_off, "energy_off").detach().reshape(-1)
    if a.numel() == 0 or b.numel() == 0:
        raise ValueError("separation needs at least one data and one off-data energy")
    if not (bool(torch.isfinite(a).all()) and bool(torch.isfinite(b).all())):
        raise ValueError("separation needs finite energies")
    greater = (b[None, :] > a[:, None]).to(torch.float64).mean()
    ties = (b[None, :] == a[:, None]).to(torch.float64).mean()
    return float(greater + 0.5 * ties)


def soft_volume(energies: Tensor, cell_area: float, temperature: float = 1.0) -> Tensor:
    r"""A smooth measure of the volume of low-energy space, :math:`\sum_i e^{-F(y_i)/T}\,\Delta`.

    ``energies`` are the energies at the cells of a grid (each of area
    ``cell_area`` :math:`= \Delta`); for :math:`F \ge 0` every cell contributes
    at most :math:`\Delta`, nearly all of it where :math:`F \ll T` and almost
    nothing where :math:`F \gg T`.  Differentiable, so a loss can penalise it
    (the volume regulariser of pages 1.1(e) and 1.1(f)).  Computed as
    ``exp(logsumexp(-F/T) + log(cell_area))``, finite for energies of any sign.
    """
    e = check_float_tensor(energies, "energies").reshape(-1)
    cell_area = _positive_float(cell_area, "cell_area")
    temperature = _positive_float(temperature, "temperature")
    return torch.exp(torch.logsumexp(-e / temperature, dim=0) + math.log(cell_area))
