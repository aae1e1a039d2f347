r"""Analytic toy energies with known minimum sets, for chapter 1.1.

Both are energies of a 2-D output :math:`y = (y_1, y_2)`, written as costs
(low energy = compatible), in float64 torch code that autograd differentiates.

* :func:`ring_energy` :math:`F(x, y) = (\lVert y\rVert^2 - r(x)^2)^2`, whose
  minimum set for a given input is the whole circle of radius :math:`r(x)`
  (page 1.1(a), one input with infinitely many outputs);
* :func:`ellipse_latent_energy`
  :math:`G(x, y, z) = \lVert y - (\rho_1 \cos z, \rho_2 \sin z)\rVert^2`, an
  energy with a latent angle :math:`z` (page 1.1(h)); minimising it over
  :math:`z` gives the squared distance from :math:`y` to the ellipse with
  semi-axes :math:`\rho_1(x), \rho_2(x)` (:func:`ellipse_point`).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ._validation import check_float_tensor

__all__ = ["ring_energy", "ellipse_point", "ellipse_latent_energy"]


def _positive(value: float | Tensor, name: str) -> float | Tensor:
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a float or a floating-point tensor, got dtype {value.dtype}")
        if not bool(torch.isfinite(value).all()) or not bool((value > 0).all()):
            raise ValueError(f"{name} must be positive and finite")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number or a tensor, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


def _points(y: object, name: str = "y") -> Tensor:
    y = check_float_tensor(y, name)
    if y.dim() < 1 or y.shape[-1] != 2:
        raise ValueError(f"{name} must have shape [..., 2] (2-D outputs), got {tuple(y.shape)}")
    return y


def ring_energy(y: Tensor, radius: float | Tensor = 1.0) -> Tensor:
    r"""The ring energy :math:`F(x, y) = \left(y_1^2 + y_2^2 - r(x)^2\right)^2`.

    Zero exactly on the circle :math:`\lVert y\rVert = r(x)` (the minimum set
    of page 1.1(a)); its only other stationary point is the local maximum at
    the origin.  ``y`` has shape ``[..., 2]``; ``radius`` is :math:`r(x)`, a
    positive number or a tensor broadcasting against ``y.shape[:-1]``.
    """
    y = _points(y)
    r = _positive(radius, "radius")
    return (y.square().sum(-1) - r**2).square()


def ellipse_point(z: Tensor, rho1: float | Tensor, rho2: float | Tensor) -> Tensor:
    r"""The point :math:`(\rho_1 \cos z, \rho_2 \sin z)` of the ellipse, shape ``[..., 2]``."""
    z = check_float_tensor(z, "z")
    a = _positive(rho1, "rho1")
    b = _positive(rho2, "rho2")
    return torch.stack(torch.broadcast_tensors(a * z.cos(), b * z.sin()), dim=-1)


def ellipse_latent_energy(
    y: Tensor, z: Tensor, rho1: float | Tensor, rho2: float | Tensor
) -> Tensor:
    r"""The latent-variable energy :math:`G(x, y, z) = \lVert y - (\rho_1 \cos z, \rho_2 \sin z)\rVert^2`.

    ``y`` has shape ``[..., 2]`` and ``z`` broadcasts against ``y.shape[:-1]``
    (for example ``y[:, None, :]`` against a grid ``z[None, :]`` gives the
    energies of every output at every latent value).  Page 1.1(h) minimises
    it over ``z`` and marginalises ``z`` with the free energy.
    """
    y = _points(y)
    return (y - ellipse_point(z, rho1, rho2)).square().sum(-1)
