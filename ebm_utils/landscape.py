r"""How to judge a learned energy landscape over the plane (chapter 1.1).

A trained energy should be low on the data and high elsewhere.  These
measures turn that into numbers a page can assert:

* :func:`energy_on_grid` -- the energy on a square grid, ready for ``contourf``;
* :func:`off_data_mask` -- grid points farther than a distance from every data point;
* :func:`separation` -- the probability that an off-data point has a higher
  energy than a data point (1: perfect contrast, 1/2: none);
* :func:`soft_volume` -- :math:`\int e^{-F(y)/T}\,dy` over the grid, a smooth
  measure of how much space has low energy (the regulariser of pages 1.1(e), (f)).

The energies are plain callables of ``[N, d]`` points, such as
``lambda p: model(w, None, p)`` for a model of :mod:`ebm_utils.continuous_energies`.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ._validation import check_float_tensor, check_positive
from .inference import midpoint_grid

__all__ = ["energy_on_grid", "off_data_mask", "separation", "soft_volume"]


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
    min_distance = check_positive(min_distance, "min_distance")
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
    cell_area = check_positive(cell_area, "cell_area")
    temperature = check_positive(temperature, "temperature")
    return torch.exp(torch.logsumexp(-e / temperature, dim=0) + math.log(cell_area))
