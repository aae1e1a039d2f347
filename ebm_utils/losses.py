r"""Energies to probabilities, and the training losses of the book.

Conventions follow ``torch.nn.functional``: pure functions on batched tensors,
``reduction`` in ``{"none", "sum", "mean"}``, the dtype of the inputs kept.
Energies are *costs*: low energy means compatible.  Throughout,

* ``energies`` has shape ``[..., n]``: the energy :math:`F_W(x, y)` of each of
  ``n`` labels, and ``target`` has shape ``[...]`` with the correct label;
* ``energy_pos`` is :math:`F_W(x, y)` of the correct answer and
  ``energy_neg`` is :math:`F_W(x, \bar y)` of an incorrect one, of equal shape.

Every function is numerically stable (log-sum-exp, ``logaddexp``), so values
and gradients stay finite and correct for energies up to :math:`10^4` in
magnitude and :math:`\beta \in [10^{-3}, 10^3]`, in float32 and float64.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import (
    Reduction,
    check_beta,
    check_dim,
    check_energies_target,
    check_float_tensor,
    check_margin,
    check_pair,
    check_reduction,
    reduce,
)

__all__ = [
    "gibbs_distribution",
    "free_energy",
    "nll_loss",
    "hinge_loss",
    "log_loss",
    "simple_loss",
    "square_square_loss",
]


def gibbs_distribution(energies: Tensor, beta: float | Tensor = 1.0, dim: int = -1) -> Tensor:
    r"""The Gibbs (Boltzmann) distribution of a set of energies.

    .. math::
        p(y \mid x) = \frac{e^{-\beta F_W(x, y)}}{\sum_{y'} e^{-\beta F_W(x, y')}}
                    = \operatorname{softmax}(-\beta F)_y

    Derived in 1.1(c) and, for ``n`` labels, in 1.2(i).
    """
    e = check_float_tensor(energies, "energies")
    beta = check_beta(beta)
    dim = check_dim(e, dim)
    return torch.softmax(-beta * e, dim=dim)


def free_energy(energies: Tensor, beta: float | Tensor = 1.0, dim: int = -1) -> Tensor:
    r"""The free energy of a set of energies, a soft minimum.

    .. math::
        F_\beta = -\frac{1}{\beta} \log \sum_{y} e^{-\beta F_W(x, y)}

    It lies in :math:`[\min_y F - \log(n) / \beta,\ \min_y F]` and tends to the
    minimum as :math:`\beta \to \infty`.  Marginalising a latent variable this
    way is derived in 1.1(h); the NLL loss of 1.2(ii) is
    :math:`F_W(x, y) - F_\beta`.
    """
    e = check_float_tensor(energies, "energies")
    beta = check_beta(beta)
    dim = check_dim(e, dim)
    return -torch.logsumexp(-beta * e, dim=dim) / beta


def nll_loss(
    energies: Tensor,
    target: Tensor,
    beta: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the correct label, scaled by :math:`1/\beta`.

    .. math::
        \mathcal{L}_{\text{nll}}(x, y, W) = F_W(x, y)
            + \frac{1}{\beta} \log \sum_{y'=1}^{n} e^{-\beta F_W(x, y')}
            = -\frac{1}{\beta} \log p(y \mid x)

    Derived in 1.2(ii).  Computed as the cross-entropy of the logits
    :math:`-\beta F` divided by :math:`\beta`, which never overflows.

    Args:
        energies: ``[..., n]`` energies of the ``n`` labels.
        target: ``[...]`` integer index of the correct label, in ``[0, n)``.
        beta: inverse temperature, positive and finite.
        reduction: ``"none"`` | ``"sum"`` | ``"mean"``.
    """
    e, t = check_energies_target(energies, target)
    beta = check_beta(beta)
    reduction = check_reduction(reduction)
    logits = (-beta * e).reshape(-1, e.shape[-1])
    loss = F.cross_entropy(logits, t.reshape(-1), reduction="none").reshape(t.shape) / beta
    return reduce(loss, reduction)


def hinge_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    margin: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Hinge (margin) loss on one correct and one incorrect answer.

    .. math::
        \mathcal{L}_{\text{hinge}} = \left[m + F_W(x, y) - F_W(x, \bar y)\right]^+

    Zero exactly when :math:`F_W(x, \bar y) - F_W(x, y) \ge m`.  Discussed in
    1.1(g) and 1.3(d)(ii).
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    margin = check_margin(margin)
    reduction = check_reduction(reduction)
    # margin - gap, with the gap formed first, is zero exactly when gap == margin
    return reduce(torch.relu(margin - (neg - pos)), reduction)


def log_loss(energy_pos: Tensor, energy_neg: Tensor, reduction: Reduction = "mean") -> Tensor:
    r"""Log loss, the smooth ("soft") hinge without a margin.

    .. math::
        \mathcal{L}_{\log} = \log\left(1 + e^{F_W(x, y) - F_W(x, \bar y)}\right)
                           = \operatorname{softplus}\left(F_W(x, y) - F_W(x, \bar y)\right)

    Derived in 1.3(b); compared with the hinge in 1.3(d)(ii).  Evaluated as
    ``logaddexp(0, u)``, exact for any gap ``u``.
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    reduction = check_reduction(reduction)
    gap = pos - neg
    return reduce(torch.logaddexp(torch.zeros_like(gap), gap), reduction)


def simple_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    margin: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Simple loss: push the correct energy below 0 and the incorrect one above m.

    .. math::
        \mathcal{L}_{\text{simple}} = \left[F_W(x, y)\right]^+ + \left[m - F_W(x, \bar y)\right]^+

    Derived in 1.3(a).
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    margin = check_margin(margin)
    reduction = check_reduction(reduction)
    return reduce(torch.relu(pos) + torch.relu(margin - neg), reduction)


def square_square_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    margin: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Square-square loss: the simple loss with both terms squared.

    .. math::
        \mathcal{L}_{\text{sq-sq}} = \left(\left[F_W(x, y)\right]^+\right)^2
                                   + \left(\left[m - F_W(x, \bar y)\right]^+\right)^2

    Derived in 1.3(c).
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    margin = check_margin(margin)
    reduction = check_reduction(reduction)
    return reduce(torch.relu(pos).square() + torch.relu(margin - neg).square(), reduction)
