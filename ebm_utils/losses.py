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
The one exception is :func:`square_exp_loss`, whose exact value
:math:`\gamma e^{-E_I}` exceeds the largest float for very negative incorrect
energies: it then returns ``inf`` (never NaN), as its docstring says.
"""
from __future__ import annotations

import math

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
    check_positive,
    check_reduction,
    check_two_labels,
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
    "energy_loss",
    "perceptron_loss",
    "most_offending_incorrect",
    "lvq2_loss",
    "mce_loss",
    "square_exp_loss",
    "mee_loss",
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


# ---------------------------------------------------------------------------
# The remaining losses of Table 1 of LeCun et al. (2006), "A Tutorial on
# Energy-Based Learning".  The appendix page "The loss zoo" derives their
# gradients, checks them and tests the paper's sufficient condition on each.


def energy_loss(energy_pos: Tensor, reduction: Reduction = "mean") -> Tensor:
    r"""Energy loss: the energy of the correct answer itself.

    .. math::
        \mathcal{L}_{\text{energy}} = F_W(x, y)

    It never looks at an incorrect answer, so it has no margin (page "The loss
    zoo"; the collapse it allows is shown in 1.1(e)).
    """
    pos = check_float_tensor(energy_pos, "energy_pos")
    reduction = check_reduction(reduction)
    return reduce(pos, reduction)


def most_offending_incorrect(energies: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    r"""Energy and label of the most offending incorrect answer.

    .. math::
        \bar y = \arg\min_{y' \ne y} F_W(x, y'), \qquad F_W(x, \bar y) = \min_{y' \ne y} F_W(x, y')

    Returns ``(energy, index)``, both of shape ``[...]``; the energy keeps the
    autograd graph (its gradient goes to the chosen label), ties go to the
    smaller index.  Needs at least two labels.  Used by the margin losses on
    the page "The loss zoo".
    """
    e, t = check_energies_target(energies, target)
    check_two_labels(e, "most_offending_incorrect")
    correct = F.one_hot(t, e.shape[-1]).bool()
    masked = e.masked_fill(correct, float("inf"))
    index = masked.detach().argmin(dim=-1)
    return masked.gather(-1, index[..., None])[..., 0], index


def perceptron_loss(energies: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    r"""Generalised perceptron loss: correct energy minus the lowest energy.

    .. math::
        \mathcal{L}_{\text{perceptron}} = F_W(x, y) - \min_{y'} F_W(x, y')
            = \left[F_W(x, y) - F_W(x, \bar y)\right]^+

    with :math:`\bar y` the most offending incorrect answer (the second form
    is proved on the page "The loss zoo").  Computed in the second form, so
    that at a tie the gradient is 0, the convention of ``torch.relu``.  With a
    single label the loss is 0.
    """
    e, t = check_energies_target(energies, target)
    reduction = check_reduction(reduction)
    pos = e.gather(-1, t[..., None])[..., 0]
    if e.shape[-1] == 1:
        return reduce(pos - pos, reduction)
    neg, _ = most_offending_incorrect(e, t)
    return reduce(torch.relu(pos - neg), reduction)


def lvq2_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    saturation: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""LVQ2 loss in the form of Table 1: a perceptron-like ramp that saturates at M.

    .. math::
        \mathcal{L}_{\text{lvq2}} = \min\left(M, \left[F_W(x, y) - F_W(x, \bar y)\right]^+\right)

    ``saturation`` is :math:`M > 0`.  Both kinks follow the book's convention
    (gradient 0 at the kink): the gradient with respect to the gap
    :math:`u = F_W(x, y) - F_W(x, \bar y)` is :math:`\mathbb{1}[u > 0]\,
    \mathbb{1}[M - u > 0]` (page "The loss zoo").
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    m = check_positive(saturation, "saturation")
    reduction = check_reduction(reduction)
    gap = pos - neg
    loss = torch.where(gap < m, torch.relu(gap), torch.full_like(gap, m))
    return reduce(loss, reduction)


def mce_loss(energy_pos: Tensor, energy_neg: Tensor, reduction: Reduction = "mean") -> Tensor:
    r"""Minimum classification error (MCE) loss: a sigmoid of the energy gap.

    .. math::
        \mathcal{L}_{\text{mce}} = \sigma\left(F_W(x, y) - F_W(x, \bar y)\right)
            = \frac{1}{1 + e^{-(F_W(x, y) - F_W(x, \bar y))}}

    A smooth count of errors, bounded in (0, 1) (page "The loss zoo").
    ``torch.sigmoid`` is exact for any gap.
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    reduction = check_reduction(reduction)
    return reduce(torch.sigmoid(pos - neg), reduction)


def square_exp_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    gamma: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Square-exponential loss: a square on the correct energy, a decaying exponential on the incorrect one.

    .. math::
        \mathcal{L}_{\text{sq-exp}} = F_W(x, y)^2 + \gamma\, e^{-F_W(x, \bar y)}

    with :math:`\gamma > 0` (page "The loss zoo").  The exponential term is
    the loss's true value, so it overflows to ``inf`` (never NaN) once
    :math:`-F_W(x, \bar y) + \log\gamma` exceeds the largest exponent of the
    dtype (about 88.7 in float32, 709.8 in float64); for large positive
    incorrect energies it underflows to exactly 0.
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    g = check_positive(gamma, "gamma")
    reduction = check_reduction(reduction)
    return reduce(pos.square() + torch.exp(math.log(g) - neg), reduction)


def mee_loss(
    energies: Tensor,
    target: Tensor,
    beta: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Minimum empirical error (MEE) loss: the probability of *not* choosing the correct label.

    .. math::
        \mathcal{L}_{\text{mee}} = 1 - p(y \mid x)
            = 1 - \frac{e^{-\beta F_W(x, y)}}{\sum_{y'} e^{-\beta F_W(x, y')}}
            = \frac{\sum_{y' \ne y} e^{-\beta F_W(x, y')}}{\sum_{y'} e^{-\beta F_W(x, y')}}

    Computed from the last form as the exponential of a difference of two
    log-sum-exps, so that it stays accurate (relative error) when
    :math:`p(y \mid x)` is close to 1 and never overflows (page "The loss
    zoo").  With a single label the loss is 0.
    """
    e, t = check_energies_target(energies, target)
    beta = check_beta(beta)
    reduction = check_reduction(reduction)
    logits = -beta * e
    if e.shape[-1] == 1:
        return reduce(logits[..., 0] - logits[..., 0], reduction)
    correct = F.one_hot(t, e.shape[-1]).bool()
    others = logits.masked_fill(correct, float("-inf"))
    loss = torch.exp(torch.logsumexp(others, dim=-1) - torch.logsumexp(logits, dim=-1))
    return reduce(loss, reduction)
