r"""Energies of continuous outputs :math:`y \in \mathbb{R}^d` (chapter 1.1).

All follow the interface of :mod:`ebm_utils.energies`: ``model(w, x, y)``
with ``y`` of shape ``[B, y_dim]`` and ``x`` of shape ``[B, x_dim]`` or ``None``.

Trainable energies (pages 1.1(d)-(g)):

* :class:`MLPEnergy` -- :math:`F_W(x, y) = v^\top \tanh(A [x; y] + c) + b`, a
  flexible energy, unbounded below (``head="linear"``) or bounded below by 0
  (``head="softplus"``); unconditional (``x_dim=None``) it reads :math:`y` alone;
* :class:`KMeansEnergy` -- :math:`F_W(y) = \min_k \lVert y - c_k\rVert^2`,
  whose low-energy region is limited by the architecture to ``K`` blobs;
* :class:`SubspaceEnergy` -- :math:`F_W(y) = \lVert (I - P_U)(y - \mu)\rVert^2`,
  the PCA energy: squared distance to an affine subspace of rank ``r < d``.

Analytic energies with known minimum sets, whose parameters are their radii
(affine in the input, :math:`r_W(x) = r_0 + r_1^\top x`; a constant when
unconditional), built with :meth:`RingEnergy.params` and
:meth:`EllipseLatentEnergy.params`:

* :class:`RingEnergy` -- :math:`F_W(x, y) = (\lVert y\rVert^2 - r_W(x)^2)^2`,
  zero on the whole circle of radius :math:`r_W(x)` (page 1.1(a), one input
  with infinitely many correct outputs);
* :class:`EllipseLatentEnergy` -- :math:`G_W(x, y, z) = \lVert y - (\rho_1 \cos z,
  \rho_2 \sin z)\rVert^2` with a latent angle :math:`z` (page 1.1(h));
  :math:`\min_z G` is the squared distance from :math:`y` to the ellipse with
  semi-axes :math:`\rho_1(x), \rho_2(x)`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as Fn
from torch import Tensor

from . import seeding
from ._validation import check_choice, check_int, check_positive, check_rows
from .energies import ContinuousEnergy, LatentEnergy, unflatten

__all__ = ["MLPEnergy", "KMeansEnergy", "SubspaceEnergy", "RingEnergy", "EllipseLatentEnergy"]


def _pairwise_sq(y: Tensor, c: Tensor) -> Tensor:
    """``[B, K]`` squared distances between the rows of ``y`` and of ``c``, one coordinate at a time.

    Exact (no ``cdist``, no expansion of the square), and for small ``d`` several
    times faster than reducing a ``[B, K, d]`` tensor over its short last axis.
    """
    out = (y[:, None, 0] - c[None, :, 0]).square()
    for j in range(1, y.shape[1]):
        out = out + (y[:, None, j] - c[None, :, j]).square()
    return out


class MLPEnergy(ContinuousEnergy):
    r"""A one-hidden-layer network, :math:`F_W(x, y) = v^\top \tanh(A u + c) + b`, :math:`u = [x; y]`.

    :math:`W = (A, c, v, b)` with :math:`A \in \mathbb{R}^{h \times d}`
    (:math:`d` = ``x_dim + y_dim``, or ``y_dim`` when unconditional),
    :math:`c, v \in \mathbb{R}^h`, :math:`b \in \mathbb{R}`.  With
    ``head="softplus"`` the energy is :math:`\operatorname{softplus}` of the same
    expression, so :math:`F_W \ge 0`; with ``head="linear"`` it is unbounded
    below (the output bias :math:`b` alone can lower every energy at once, the
    collapse of page 1.1(e)).
    """

    def __init__(self, y_dim: int = 2, hidden: int = 16, head: str = "linear", x_dim: int | None = None) -> None:
        super().__init__(y_dim, x_dim)
        self.hidden = check_int(hidden, "hidden")
        self.head = check_choice(head, "head", ("linear", "softplus"))
        self.in_dim = (self.x_dim or 0) + self.y_dim
        self.num_params = self.hidden * self.in_dim + 2 * self.hidden + 1

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The views ``(A, c, v, b)`` of a flat parameter vector."""
        h, d = self.hidden, self.in_dim
        a, c, v, b = unflatten(self.check_w(w), [(h, d), (h,), (h,), ()])
        return a, c, v, b

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        h, d = self.hidden, self.in_dim
        return torch.cat(
            [
                torch.randn(h * d, generator=g, dtype=torch.float64) * scale * 2.0 / math.sqrt(d),
                torch.randn(h, generator=g, dtype=torch.float64) * scale,
                torch.randn(h, generator=g, dtype=torch.float64) * scale / math.sqrt(h),
                torch.zeros(1, dtype=torch.float64),
            ]
        )

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        a, c, v, b = self.unpack(w)
        u = y if x is None else torch.cat([x, y], dim=1)
        out = torch.tanh(u @ a.T + c) @ v + b
        return Fn.softplus(out) if self.head == "softplus" else out


class KMeansEnergy(ContinuousEnergy):
    r"""The K-means energy :math:`F_W(y) = \min_k \lVert y - c_k\rVert^2`, :math:`W = (c_1, \dots, c_K)`.

    Whatever the centres, only ``K`` points have energy 0 and the energy grows
    quadratically away from them: the architecture limits the volume of
    low-energy space (page 1.1(f)).  Gradient descent on the mean energy of the
    data is batch K-means with a learning rate.  :meth:`init` draws the
    centres from ``data`` when it is given (so that no centre starts unused).
    """

    def __init__(self, y_dim: int = 2, k: int = 8) -> None:
        super().__init__(y_dim)
        self.k = check_int(k, "k")
        self.num_params = self.k * self.y_dim

    def centres(self, w: Tensor) -> Tensor:
        """The ``[K, y_dim]`` centres."""
        return self.check_w(w).reshape(self.k, self.y_dim)

    def init(self, stream: int = 0, scale: float = 1.0, data: Tensor | None = None) -> Tensor:
        """Centres drawn from ``data`` (without replacement) or ``N(0, scale^2)``, from ``stream``."""
        if data is None:
            return super().init(stream, scale)
        check_positive(scale, "scale")
        data = self.check_y(data)
        if data.shape[0] < self.k:
            raise ValueError(f"need at least k={self.k} data points, got {data.shape[0]}")
        idx = torch.randperm(data.shape[0], generator=seeding.generator(stream))[: self.k]
        return data[idx].detach().clone().to(torch.float64).reshape(-1)

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return torch.randn(self.num_params, generator=g, dtype=torch.float64) * scale

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        c = w.reshape(self.k, self.y_dim)
        return _pairwise_sq(y, c).min(dim=1).values


class SubspaceEnergy(ContinuousEnergy):
    r"""The PCA energy :math:`F_W(y) = \lVert (I - Q Q^\top)(y - \mu)\rVert^2`.

    :math:`W = (\mu, U)` with :math:`U \in \mathbb{R}^{d \times r}`, ``r < y_dim``;
    :math:`Q` is the orthonormal basis of the span of :math:`U` (a QR
    decomposition, differentiable).  Zero exactly on an affine subspace of
    dimension ``r``: low energy on a set of volume zero whatever :math:`W`
    is (page 1.1(f)).
    """

    def __init__(self, y_dim: int = 2, rank: int = 1) -> None:
        super().__init__(y_dim)
        self.rank = check_int(rank, "rank")
        if self.rank >= self.y_dim:
            raise ValueError(f"rank must be smaller than y_dim={y_dim} (rank {rank} makes F = 0), got {rank}")
        self.num_params = self.y_dim + self.y_dim * self.rank

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return torch.randn(self.num_params, generator=g, dtype=torch.float64) * scale

    def basis(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, Q)``: the offset and the ``[y_dim, rank]`` orthonormal basis."""
        mu, u = unflatten(self.check_w(w), [(self.y_dim,), (self.y_dim, self.rank)])
        q, _ = torch.linalg.qr(u)
        return mu, q

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        mu, q = self.basis(w)
        z = y - mu
        resid = z - (z @ q) @ q.T
        return resid.square().sum(-1)


# ---------------------------------------------------------------- analytic energies
def _affine(coef: Tensor, x: Tensor | None) -> Tensor:
    """:math:`r_0 + r_1^\\top x` per input (``[B]``), or :math:`r_0` (a scalar) without an input."""
    return coef[0] if x is None else coef[0] + x @ coef[1:]


def _affine_params(value: float | Sequence[float], x_dim: int | None, name: str) -> list[float]:
    """``(r_0, r_1...)`` from a number (constant) or a sequence ``(intercept, *slopes)``."""
    width = 1 + (x_dim or 0)
    if isinstance(value, Sequence) and not isinstance(value, str):
        coef = [float(v) for v in value]
        if len(coef) != width:
            raise ValueError(f"{name} needs {width} numbers (intercept, then one slope per input), got {len(coef)}")
    else:
        coef = [float(value)] + [0.0] * (width - 1)
    check_positive(coef[0], f"{name} intercept")
    return coef


def _positive_radii(g: torch.Generator, scale: float, count: int, x_dim: int | None) -> Tensor:
    """Random radii: intercepts about 1 (log-normal), small slopes."""
    parts = []
    for _ in range(count):
        parts.append(torch.exp(0.25 * scale * torch.randn(1, generator=g, dtype=torch.float64)))
        parts.append(0.25 * scale * torch.randn(x_dim or 0, generator=g, dtype=torch.float64))
    return torch.cat(parts)


class RingEnergy(ContinuousEnergy):
    r"""The ring energy :math:`F_W(x, y) = \left(\lVert y\rVert^2 - r_W(x)^2\right)^2`, :math:`r_W(x) = r_0 + r_1^\top x`.

    Zero exactly on the circle (sphere) :math:`\lVert y\rVert = r_W(x)`, the
    minimum set of page 1.1(a); its only other stationary point is the local
    maximum at the origin.  :math:`W = (r_0, r_1)`; unconditional
    (``x_dim=None``), :math:`W = (r_0)` is the radius.
    """

    def __init__(self, y_dim: int = 2, x_dim: int | None = None) -> None:
        super().__init__(y_dim, x_dim)
        self.num_params = 1 + (self.x_dim or 0)

    def params(self, radius: float | Sequence[float]) -> Tensor:
        """``w`` for a radius: a number (the same for every input) or ``(r_0, *r_1)``."""
        return torch.tensor(_affine_params(radius, self.x_dim, "radius"), dtype=torch.float64)

    def radius(self, w: Tensor, x: Tensor | None) -> Tensor:
        """:math:`r_W(x)`: ``[B]`` for inputs ``[B, x_dim]``, a scalar without an input."""
        return _affine(self.check_w(w), self.check_x(x))

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return _positive_radii(g, scale, 1, self.x_dim)

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        r = _affine(w, x)
        return (y.square().sum(-1) - r**2).square()


class EllipseLatentEnergy(LatentEnergy):
    r"""The latent-variable energy :math:`G_W(x, y, z) = \lVert y - (\rho_1 \cos z, \rho_2 \sin z)\rVert^2`.

    The output is the pair :math:`(y, z)`: ``y`` of the call has three columns
    :math:`(y_1, y_2, z)` (see :class:`ebm_utils.energies.LatentEnergy`).  The
    semi-axes are affine in the input, :math:`\rho_j(x) = \rho_{j,0} + \rho_{j,1}^\top x`,
    :math:`W = (\rho_{1,0}, \rho_{1,1}, \rho_{2,0}, \rho_{2,1})`; unconditional,
    :math:`W = (\rho_1, \rho_2)`.  Minimising over :math:`z` gives the squared
    distance from :math:`y` to the ellipse; page 1.1(h) also marginalises
    :math:`z` with the free energy.
    """

    def __init__(self, x_dim: int | None = None) -> None:
        super().__init__(visible_dim=2, z_dim=1, x_dim=x_dim)
        self.num_params = 2 * (1 + (self.x_dim or 0))

    def params(self, rho1: float | Sequence[float], rho2: float | Sequence[float]) -> Tensor:
        """``w`` for the two semi-axes, each a number or ``(intercept, *slopes)``."""
        coef = _affine_params(rho1, self.x_dim, "rho1") + _affine_params(rho2, self.x_dim, "rho2")
        return torch.tensor(coef, dtype=torch.float64)

    def semi_axes(self, w: Tensor, x: Tensor | None) -> tuple[Tensor, Tensor]:
        r""":math:`(\rho_1(x), \rho_2(x))`, each ``[B]`` (scalars without an input)."""
        return self._axes(self.check_w(w), self.check_x(x))

    def point(self, w: Tensor, x: Tensor | None, z: Tensor) -> Tensor:
        r"""The points :math:`(\rho_1 \cos z, \rho_2 \sin z)` of the ellipse for angles ``z`` (``[B, 1]``), ``[B, 2]``."""
        w, x = self.check_w(w), self.check_x(x)
        z = check_rows(z, 1, "z")
        return self._point(w, x, z[:, 0])

    def _axes(self, w: Tensor, x: Tensor | None) -> tuple[Tensor, Tensor]:
        half = w.shape[0] // 2
        return _affine(w[:half], x), _affine(w[half:], x)

    def _point(self, w: Tensor, x: Tensor | None, z: Tensor) -> Tensor:
        a, b = self._axes(w, x)
        return torch.stack(torch.broadcast_tensors(a * z.cos(), b * z.sin()), dim=-1)

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return _positive_radii(g, scale, 2, self.x_dim)

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        return (y[:, :2] - self._point(w, x, y[:, 2])).square().sum(-1)


# ---------------------------------------------------------------- pages 1.1(e), 1.1(f): fixed features, auto-encoder
from ._validation import check_float_tensor  # noqa: E402

__all__ += ["RBFEnergy", "AutoEncoderEnergy"]


class RBFEnergy(ContinuousEnergy):
    r"""An energy linear in fixed Gaussian features, :math:`F_v(y) = v^\top \varphi(y)`.

    :math:`\varphi_k(y) = \exp\!\big(-\lVert y - c_k\rVert^2 / (2 s^2)\big)`
    for fixed centres :math:`c_k` (``[K, y_dim]``) and width :math:`s`;
    :math:`W = v \in \mathbb{R}^K` is the only parameter.  Its tangent kernel
    :math:`\langle \nabla_v F(y), \nabla_v F(y')\rangle = \varphi(y)^\top
    \varphi(y')` is local: lowering the energy of a data point lowers it
    near that point only.  The positive-only loss with weight decay,
    :math:`\frac1N\sum_i F_v(y_i) + \lambda\lVert v\rVert^2`, is minimised by
    :meth:`weight_decay_minimiser`, :math:`v^* = -\bar\varphi / (2\lambda)`
    with :math:`\bar\varphi` the mean feature vector of the data: a kernel
    (Parzen) energy, :math:`F_{v^*}(y) = -\frac{1}{2\lambda N}\sum_i
    \varphi(y)^\top\varphi(y_i)` (page 1.1(e)).
    """

    def __init__(self, centres: Tensor, width: float) -> None:
        centres = check_float_tensor(centres, "centres")
        if centres.dim() != 2 or centres.shape[0] < 1:
            raise ValueError(f"centres must have shape [K, y_dim] with K >= 1, got {tuple(centres.shape)}")
        super().__init__(centres.shape[1])
        self.centres = centres.detach().to(torch.float64)
        self.width = check_positive(width, "width")
        self.num_params = self.centres.shape[0]

    def features(self, y: Tensor) -> Tensor:
        r""":math:`\varphi(y)`, ``[N, K]``."""
        return self._features(self.check_y(y))

    def _features(self, y: Tensor) -> Tensor:
        return torch.exp(-_pairwise_sq(y, self.centres.to(y.dtype)) / (2.0 * self.width**2))

    def weight_decay_minimiser(self, data: Tensor, lam: float) -> Tensor:
        r"""The minimiser :math:`v^* = -\bar\varphi / (2\lambda)` of :math:`\frac1N\sum_i F_v(y_i) + \lambda\lVert v\rVert^2`."""
        lam = check_positive(lam, "lam")
        return -self.features(data).mean(0) / (2.0 * lam)

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return torch.randn(self.num_params, generator=g, dtype=torch.float64) * scale / math.sqrt(self.num_params)

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        return self._features(y) @ w


class AutoEncoderEnergy(ContinuousEnergy):
    r"""The reconstruction energy :math:`F_W(y) = \lVert y - G_W(y)\rVert^2`, :math:`G_W(y) = D \tanh(A y + c) + d`.

    :math:`W = (A, c, D, d)`, :math:`A \in \mathbb{R}^{h \times n}`,
    :math:`D \in \mathbb{R}^{n \times h}`.  The decoder is bounded,
    :math:`\lVert G_W(y)\rVert \le \lVert D\rVert_2\sqrt h + \lVert d\rVert`,
    so :math:`F_W(y) \ge (\lVert y\rVert - \lVert D\rVert_2\sqrt h -
    \lVert d\rVert)^2 \to \infty` as :math:`\lVert y\rVert \to \infty`
    for every :math:`W`: the architecture already limits the low-energy
    volume.  With ``h >= n`` it can still be close to the identity on a
    bounded region, where :math:`F_W \approx 0` off the data too.  The contractive
    regulariser of Rifai et al. (2011), :meth:`contraction`, the mean
    squared Frobenius norm of the Jacobian :math:`\partial G_W/\partial y =
    D\,\mathrm{diag}(1 - \tanh^2(A y + c))\,A`, penalises exactly that
    (page 1.1(f)).
    """

    def __init__(self, y_dim: int = 2, hidden: int = 16) -> None:
        super().__init__(y_dim)
        self.hidden = check_int(hidden, "hidden")
        self.num_params = 2 * self.hidden * self.y_dim + self.hidden + self.y_dim

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The views ``(A, c, D, d)`` of a flat parameter vector."""
        h, n = self.hidden, self.y_dim
        a, c, dec, d = unflatten(self.check_w(w), [(h, n), (h,), (n, h), (n,)])
        return a, c, dec, d

    def reconstruct(self, w: Tensor, y: Tensor) -> Tensor:
        r""":math:`G_W(y)`, ``[N, y_dim]``."""
        a, c, dec, d = self.unpack(w)
        return torch.tanh(self.check_y(y) @ a.T + c) @ dec.T + d

    def jacobian(self, w: Tensor, y: Tensor) -> Tensor:
        r""":math:`\partial G_W/\partial y` at each point, ``[N, y_dim, y_dim]`` (closed form)."""
        a, c, dec, _ = self.unpack(w)
        slope = 1.0 - torch.tanh(self.check_y(y) @ a.T + c).square()  # [N, h]
        return torch.einsum("oh,nh,hi->noi", dec, slope, a)

    def contraction(self, w: Tensor, y: Tensor) -> Tensor:
        r"""The contractive penalty :math:`\frac1N\sum_i \lVert \partial G_W(y_i)/\partial y\rVert_F^2`."""
        return self.jacobian(w, y).square().sum((1, 2)).mean()

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        h, n = self.hidden, self.y_dim
        return torch.cat(
            [
                torch.randn(h * n, generator=g, dtype=torch.float64) * scale * 2.0 / math.sqrt(n),
                torch.randn(h, generator=g, dtype=torch.float64) * scale,
                torch.randn(n * h, generator=g, dtype=torch.float64) * scale / math.sqrt(h),
                torch.zeros(n, dtype=torch.float64),
            ]
        )

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        a, c, dec, d = self.unpack(w)
        return (y - (torch.tanh(y @ a.T + c) @ dec.T + d)).square().sum(-1)


# ---------------------------------------------------------------- pages 1.1(a)-(d), second edition
__all__ += ["MultiWellEnergy"]

_MAX_TILT = 8 / (3 * math.sqrt(3))  # above it the profile (z^2 - 1)^2 + t z has one well only


def _well_roots(tilt: float) -> tuple[float, float, float]:
    """The three real roots of ``4 z^3 - 4 z + tilt``, in increasing order (``0 < tilt < 8/(3 sqrt 3)``)."""
    import numpy

    roots = numpy.roots([4.0, 0.0, -4.0, tilt])
    real = sorted(float(r.real) for r in roots)
    return real[0], real[1], real[2]


def _profile(z: Tensor, tilt: Tensor | float) -> Tensor:
    return (z.square() - 1).square() + tilt * z


class MultiWellEnergy(ContinuousEnergy):
    r"""A rotated multi-well energy, :math:`F_W(y) = \sum_{j=1}^{d} f(z_j)` with :math:`z = Q^\top y`.

    The profile :math:`f(z) = (z^2 - 1)^2 + t z` has two wells for
    :math:`0 < t < 8/(3\sqrt3)`; the tilt :math:`t` makes the left one the
    deeper.  :math:`F` therefore has :math:`2^d` local minima and one global
    minimiser, :math:`y^\star = Q (z_-, \dots, z_-)` with :math:`z_-` the
    smallest root of :math:`f'(z) = 4z^3 - 4z + t`.  The rotation :math:`Q`
    (orthogonal) hides the product structure from the coordinates of
    :math:`y` but not from what can be computed exactly
    (page 1.1(b), where global minimisation and the partition function are
    both hard):

    * gradient descent in :math:`y` is descent in :math:`z`, coordinate by
      coordinate; with a step small enough not to jump a barrier, coordinate
      :math:`j` ends in the left well exactly when it starts left of the
      barrier :math:`z_0` (the middle root, :meth:`barrier`);
    * :math:`\log Z(\beta) = d \log \int_{\mathbb{R}} e^{-\beta f(z)}\,dz`
      (:meth:`log_partition`), since :math:`Q` preserves volume.

    ``w = (t, Q)`` with :math:`Q` flattened row by row; unconditional only.
    :meth:`init` draws a Haar-random rotation and the tilt ``0.5``.
    """

    def __init__(self, y_dim: int = 2) -> None:
        super().__init__(y_dim, None)
        self.num_params = 1 + y_dim * y_dim

    def params(self, tilt: float, rotation: Tensor | None = None) -> Tensor:
        """``w`` for a tilt in ``(0, 8/(3 sqrt 3))`` and an orthogonal ``[d, d]`` rotation (identity if None)."""
        tilt = check_positive(tilt, "tilt")
        if tilt >= _MAX_TILT:
            raise ValueError(f"tilt must be below 8/(3 sqrt 3) = {_MAX_TILT:.4f} (two wells), got {tilt}")
        d = self.y_dim
        q = torch.eye(d, dtype=torch.float64) if rotation is None else torch.as_tensor(rotation, dtype=torch.float64)
        if q.shape != (d, d):
            raise ValueError(f"rotation must have shape [{d}, {d}], got {tuple(q.shape)}")
        if not torch.allclose(q.T @ q, torch.eye(d, dtype=torch.float64), atol=1e-10):
            raise ValueError("rotation must be orthogonal (Q^T Q = I)")
        return torch.cat([torch.tensor([tilt], dtype=torch.float64), q.reshape(-1)])

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """``(t, Q)``: the tilt (a scalar) and the ``[d, d]`` rotation."""
        w = self.check_w(w)
        return w[0], w[1:].reshape(self.y_dim, self.y_dim)

    def _tilt(self, w: Tensor) -> float:
        t = float(self.unpack(w)[0])
        if not 0 < t < _MAX_TILT:
            raise ValueError(f"the tilt must lie in (0, {_MAX_TILT:.4f}) for two wells, got {t}")
        return t

    def well_minima(self, w: Tensor) -> tuple[float, float]:
        """:math:`(z_-, z_+)`: the deeper (left) and the shallower (right) minimum of the profile."""
        lo, _, hi = _well_roots(self._tilt(w))
        return lo, hi

    def barrier(self, w: Tensor) -> float:
        """:math:`z_0`, the local maximum of the profile between the two wells."""
        return _well_roots(self._tilt(w))[1]

    def global_minimum(self, w: Tensor) -> tuple[Tensor, float]:
        r"""The global minimiser :math:`y^\star` (``[d]``) and :math:`\min F = d\, f(z_-)`."""
        t, q = self.unpack(w)
        z_lo = self.well_minima(w)[0]
        z = torch.full((self.y_dim,), z_lo, dtype=torch.float64)
        return q @ z, self.y_dim * float(_profile(torch.tensor(z_lo, dtype=torch.float64), t))

    def log_partition(self, w: Tensor, beta: float = 1.0) -> float:
        r""":math:`\log \int_{\mathbb{R}^d} e^{-\beta F(y)}\,dy = d \log \int e^{-\beta f(z)}\,dz` (1-D quadrature).

        Midpoint rule with 400 001 points on :math:`[-R, R]`, :math:`R = 2 + (60/\beta)^{1/4}`,
        beyond which :math:`\beta f > 40` (the tail is below :math:`e^{-40}`); the rule's
        error on this smooth integrand is far below ``1e-8``.
        """
        beta = check_positive(beta, "beta")
        t = self._tilt(w)
        r = 2.0 + (60.0 / beta) ** 0.25
        n = 400_001
        h = 2 * r / n
        z = -r + h * (torch.arange(n, dtype=torch.float64) + 0.5)
        one_d = float(torch.logsumexp(-beta * _profile(z, t), 0)) + math.log(h)
        return self.y_dim * one_d

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        a = torch.randn(self.y_dim, self.y_dim, generator=g, dtype=torch.float64)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))  # Haar-distributed rotation
        return self.params(0.5, q)

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        t, q = w[0], w[1:].reshape(self.y_dim, self.y_dim)
        return _profile(y @ q, t).sum(-1)

# ---------------------------------------------------------------- pages 2(a)-2(e): learning without Z
__all__ += ["GaussianMixtureEnergy", "ConfinedRBFEnergy"]


class GaussianMixtureEnergy(ContinuousEnergy):
    r"""The energy of a Gaussian mixture, :math:`F_W(y) = -\log \sum_k \pi_k \mathcal{N}(y; \mu_k, s_k^2 I)`.

    :math:`W = (a, \mu_1, \dots, \mu_K, \log s_1, \dots, \log s_K)` with the
    weights :math:`\pi = \operatorname{softmax}(a)`.  The density
    :math:`e^{-F_W}` is normalised, so :math:`\log Z = 0` at :math:`\beta = 1`:
    a multimodal energy whose partition function and score are known exactly
    (pages 2(a), 2(c) and 2(d)).  With ``k=1`` it is the quadratic energy
    :math:`\lVert y - \mu \rVert^2 / (2 s^2)` plus a constant.  Build ``w``
    with :meth:`params`.
    """

    def __init__(self, y_dim: int = 2, k: int = 2) -> None:
        super().__init__(y_dim)
        self.k = check_int(k, "k")
        self.num_params = self.k * (self.y_dim + 2)

    def params(self, weights: Sequence[float], means: Sequence[Sequence[float]], stds: Sequence[float]) -> Tensor:
        """``w`` for mixture weights (positive, normalised here), ``[K, y_dim]`` means and ``K`` standard deviations."""
        pi = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
        mu = torch.as_tensor(means, dtype=torch.float64)
        sd = torch.as_tensor(stds, dtype=torch.float64).reshape(-1)
        if pi.shape != (self.k,) or sd.shape != (self.k,) or mu.shape != (self.k, self.y_dim):
            raise ValueError(
                f"need {self.k} weights, {self.k} standard deviations and means of shape "
                f"[{self.k}, {self.y_dim}], got {tuple(pi.shape)}, {tuple(sd.shape)} and {tuple(mu.shape)}"
            )
        if not (bool((pi > 0).all()) and bool((sd > 0).all()) and bool(torch.isfinite(mu).all())):
            raise ValueError("weights and standard deviations must be positive, means finite")
        return torch.cat([torch.log(pi / pi.sum()), mu.reshape(-1), torch.log(sd)])

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        r"""``(log_weights, means, log_stds)``: :math:`\log \pi` (normalised), ``[K, y_dim]``, ``[K]``."""
        a, mu, log_s = unflatten(self.check_w(w), [(self.k,), (self.k, self.y_dim), (self.k,)])
        return torch.log_softmax(a, dim=0), mu, log_s

    def sample(self, w: Tensor, n: int, *, stream: int = 0, generator: torch.Generator | None = None) -> Tensor:
        """``n`` exact, independent draws from the mixture ``e^{-F_W}`` (``[n, y_dim]``), vectorised."""
        log_pi, mu, log_s = self.unpack(w)
        n = check_int(n, "n")
        if generator is not None and stream != 0:
            raise ValueError("pass either a stream or a generator, not both")
        g = seeding.generator(stream) if generator is None else generator
        comp = torch.multinomial(log_pi.detach().exp(), n, replacement=True, generator=g)
        eps = torch.randn(n, self.y_dim, generator=g, dtype=torch.float64)
        return (mu[comp] + torch.exp(log_s[comp])[:, None] * eps).detach()

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return torch.cat([
            torch.zeros(self.k, dtype=torch.float64),
            torch.randn(self.k * self.y_dim, generator=g, dtype=torch.float64) * 2.0 * scale,
            torch.zeros(self.k, dtype=torch.float64),
        ])

    def _log_joint(self, w: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        r""":math:`\log \pi_k \mathcal{N}(y_i; \mu_k, s_k^2 I)` (``[B, K]``), the means ``[K, d]``, :math:`s_k^2`."""
        log_pi, mu, log_s = self.unpack(w)
        var = torch.exp(2 * log_s)
        log_norm = -self.y_dim * (log_s + 0.5 * math.log(2 * math.pi))
        return log_pi + log_norm - _pairwise_sq(y, mu) / (2 * var), mu, var

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        return -torch.logsumexp(self._log_joint(w, y)[0], dim=1)

    def value_and_grad_y(self, w: Tensor, x: Tensor | None, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(model(w, x, y), model.grad_y(w, x, y))`` from one evaluation (the samplers use it)."""
        w, x, y = self._batch(w, x, y)
        self._count(y.shape[0], w)
        log_joint, mu, var = self._log_joint(w.detach(), y)
        a = torch.softmax(log_joint, dim=1) / var
        return -torch.logsumexp(log_joint, dim=1), y * a.sum(1, keepdim=True) - a @ mu

    def grad_y(self, w: Tensor, x: Tensor | None, y: Tensor, create_graph: bool = False) -> Tensor:
        r""":math:`\nabla_y F = \sum_k r_k(y) (y - \mu_k) / s_k^2`, :math:`r_k` the responsibilities; shape ``[B, y_dim]``."""
        w, x, y = self._batch(w, x, y)
        self._count(y.shape[0], w)
        log_joint, mu, var = self._log_joint(w if create_graph else w.detach(), y)
        a = torch.softmax(log_joint, dim=1) / var  # [B, K]: r_k / s_k^2
        return y * a.sum(1, keepdim=True) - a @ mu


class ConfinedRBFEnergy(RBFEnergy):
    r"""Radial-basis features with a fixed confinement: :math:`F_W(y) = \sum_k w_k \phi_k(y) + \lVert y\rVert^2 / (2\tau^2)`.

    :math:`\phi_k(y) = \exp(-\lVert y - c_k\rVert^2 / (2 h^2))` with fixed
    centres :math:`c_k` (a square lattice, :meth:`lattice`) and width
    :math:`h`.  The energy is *linear in* :math:`W`, so the density
    :math:`e^{-F_W}/Z_W` is an exponential family: the negative
    log-likelihood is convex in :math:`W` and its gradient is
    :math:`\mathbb{E}_{\text{data}}[\phi] - \mathbb{E}_{p_W}[\phi]` (page 2(b)).
    Because :math:`|\sum_k w_k \phi_k| \le \lVert w\rVert_1`, the
    confinement term makes :math:`Z_W` finite for every :math:`W`, and
    nearly all of the mass of :math:`e^{-F_W}` lies within a few
    :math:`\tau` of the lattice, where a grid computes :math:`Z_W`.
    ``grad_w`` (the features), ``grad_y`` and :meth:`laplacian_y` are in
    closed form (tested against autograd).  The features are those of
    :class:`RBFEnergy` (page 1.1(e)); the confinement term is what part 2 adds.
    """

    def __init__(self, centres: Tensor, width: float, confinement: float = 1.0) -> None:  # noqa: D107
        if not isinstance(centres, Tensor) or centres.dim() != 2:
            raise ValueError("centres must be a [K, y_dim] float tensor")
        centres = check_rows(centres, centres.shape[1], "centres")
        ContinuousEnergy.__init__(self, centres.shape[1])
        self.centres = centres.detach().to(torch.float64).clone()
        self.width = check_positive(width, "width")
        self.confinement = check_positive(confinement, "confinement")
        self.num_params = self.centres.shape[0]

    @classmethod
    def lattice(cls, low: float, high: float, m: int, width: float | None = None,
                confinement: float = 1.0) -> ConfinedRBFEnergy:
        """``m x m`` centres evenly spaced on ``[low, high]^2``; ``width`` defaults to the spacing."""
        m = check_int(m, "m", minimum=2)
        if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low < high):
            raise ValueError(f"need numbers low < high, got {low!r} and {high!r}")
        axis = torch.linspace(float(low), float(high), m, dtype=torch.float64)
        centres = torch.cartesian_prod(axis, axis)
        return cls(centres, (high - low) / (m - 1) if width is None else width, confinement)

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        return 0.1 * scale * torch.randn(self.num_params, generator=g, dtype=torch.float64)

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        return self._features(y) @ w + y.square().sum(-1) / (2 * self.confinement**2)

    def grad_w(self, w: Tensor, x: Tensor | None, y: Tensor, create_graph: bool = False) -> Tensor:
        r""":math:`\partial F_W(y_i) / \partial W = \phi(y_i)`, shape ``[B, K]`` (it does not depend on :math:`W`)."""
        w, x, y = self._batch(w, x, y)
        self._count(y.shape[0], w)
        return self._features(y)

    def grad_y(self, w: Tensor, x: Tensor | None, y: Tensor, create_graph: bool = False) -> Tensor:
        r""":math:`\nabla_y F = -\sum_k w_k \phi_k(y) (y - c_k) / h^2 + y / \tau^2`, shape ``[B, y_dim]``."""
        w, x, y = self._batch(w, x, y)
        self._count(y.shape[0], w)
        w = w if create_graph else w.detach()
        a = self._features(y) * w  # [B, K]: w_k phi_k(y)
        # sum_k a_k (y - c_k) = y sum_k a_k - a @ C
        drift = y * a.sum(1, keepdim=True) - a @ self.centres
        return -drift / self.width**2 + y / self.confinement**2

    def value_and_grad_y(self, w: Tensor, x: Tensor | None, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(model(w, x, y), model.grad_y(w, x, y))`` from one evaluation of the features (the samplers use it)."""
        w, x, y = self._batch(w, x, y)
        self._count(y.shape[0], w)
        w = w.detach()
        phi = self._features(y)
        a = phi * w
        quad = y / self.confinement**2
        grad = -(y * a.sum(1, keepdim=True) - a @ self.centres) / self.width**2 + quad
        return phi @ w + (y * quad).sum(-1) / 2, grad

    def laplacian_y(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        r""":math:`\Delta_y F = \sum_k w_k \phi_k(y) \left(\lVert y - c_k\rVert^2 / h^4 - d / h^2\right) + d / \tau^2`, shape ``[B]``."""
        w, x, y = self._batch(w, x, y)
        self._count(y.shape[0], w)
        d2 = _pairwise_sq(y, self.centres)
        phi = torch.exp(-d2 / (2 * self.width**2))
        h2, d = self.width**2, self.y_dim
        return (phi * (d2 / h2**2 - d / h2)) @ w + d / self.confinement**2
