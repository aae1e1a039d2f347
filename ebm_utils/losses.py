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

Besides the loss functions, the module keeps the **loss registry** of chapter
1.3(d), which gives the NLL and the four pairwise losses one call signature so
that an experiment loops over names: :data:`LOSSES` (what each loss needs and
promises), :func:`loss_info`, :func:`loss_from_energies` (any of them from a
table of energies, with a given or the most offending incorrect label,
:func:`most_offending`) and :func:`shift_derivative` (the derivative of a loss
with respect to one constant added to every energy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import (
    Reduction,
    check_beta,
    check_choice,
    check_dim,
    check_energies_target,
    check_float_tensor,
    check_instance,
    check_margin,
    check_negative,
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
    "tempered_softplus",
    "soft_hinge_loss",
    "LossInfo",
    "LOSSES",
    "LOSS_NAMES",
    "PAIRWISE_NAMES",
    "loss_info",
    "pair_loss",
    "most_offending",
    "loss_from_energies",
    "shift_derivative",
    "ZOO_NAMES",
    "zoo_pair_loss",
    "zoo_gap_profile",
    "zoo_pair_gradient",
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

    Derived in 1.3(b), where it is also the hinge :math:`[M + u]^+` averaged over a
    margin :math:`M` with the standard logistic distribution; compared with the
    hinge in 1.3(d)(ii).  With :math:`u = F_W(x, y) - F_W(x, \bar y)`, the
    violation (minus the gap), it is evaluated as ``logaddexp(0, u)``, exact
    for any ``u``.
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    reduction = check_reduction(reduction)
    u = pos - neg  # the violation: minus the gap F_W(x, ybar) - F_W(x, y)
    return reduce(torch.logaddexp(torch.zeros_like(u), u), reduction)


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
    (gradient 0 at the kink): the gradient with respect to the violation
    :math:`u = F_W(x, y) - F_W(x, \bar y)` (minus the gap) is :math:`\mathbb{1}[u > 0]\,
    \mathbb{1}[M - u > 0]` (page "The loss zoo").
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    m = check_positive(saturation, "saturation")
    reduction = check_reduction(reduction)
    u = pos - neg  # the violation
    loss = torch.where(u < m, torch.relu(u), torch.full_like(u, m))
    return reduce(loss, reduction)


def mce_loss(energy_pos: Tensor, energy_neg: Tensor, reduction: Reduction = "mean") -> Tensor:
    r"""Minimum classification error (MCE) loss: a sigmoid of the violation (minus the gap).

    .. math::
        \mathcal{L}_{\text{mce}} = \sigma\left(F_W(x, y) - F_W(x, \bar y)\right)
            = \frac{1}{1 + e^{-(F_W(x, y) - F_W(x, \bar y))}}

    A smooth count of errors, bounded in (0, 1) (page "The loss zoo").
    ``torch.sigmoid`` is exact for any violation.
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


# ---------------------------------------------------------------------------
# The soft hinge of page 1.3(d)(ii): the log loss with a margin and a temperature.


def tempered_softplus(u: Tensor, beta: float | Tensor = 1.0) -> Tensor:
    r"""The tempered softplus :math:`s_\beta(u) = \frac{1}{\beta} \log(1 + e^{\beta u})`, elementwise.

    It tends to :math:`[u]^+` as :math:`\beta \to \infty`, with
    :math:`0 < s_\beta(u) - [u]^+ \le \log(2)/\beta` (page 1.3(d)(ii)).
    Computed as ``log_loss(beta * u, 0) / beta``, exact for any ``u``.
    """
    u = check_float_tensor(u, "u")
    beta = check_beta(beta)
    return log_loss(beta * u, torch.zeros_like(u), reduction="none") / beta


def soft_hinge_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    margin: float | Tensor = 0.0,
    beta: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""The soft hinge, a tempered log loss with a margin.

    .. math::
        \mathcal{L}_{\text{soft}} = \frac{1}{\beta}
            \log\left(1 + e^{\beta (m + F_W(x, y) - F_W(x, \bar y))}\right)
            = s_\beta\left(m + F_W(x, y) - F_W(x, \bar y)\right)

    With ``margin=0, beta=1`` it is :func:`log_loss`; as ``beta`` grows it
    tends to :func:`hinge_loss` with the same margin, from above, by at most
    :math:`\log(2)/\beta` (page 1.3(d)(ii)).
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    margin = check_margin(margin)
    beta = check_beta(beta)
    reduction = check_reduction(reduction)
    loss = log_loss(beta * (pos + margin), beta * neg, reduction="none") / beta
    return reduce(loss, reduction)


# ---------------------------------------------------------------------------
# The loss registry of chapter 1.3(d): the NLL and the four pairwise losses of
# chapter 1.3 with one call signature.


@dataclass(frozen=True)
class LossInfo:
    """What a loss of the registry needs and promises.

    Attributes:
        name: registry key (``"nll"``, ``"hinge"``, ``"log"``, ``"simple"``, ``"square_square"``).
        title: the name used in figure legends.
        pairwise: True if the loss sees one correct and one incorrect energy only.
        has_margin: True if the loss takes a margin :math:`m`.
        shift_invariant: True if adding one constant to all energies leaves the
            loss unchanged (verified by :func:`shift_derivative` on page 1.3(d)(iii)).
    """

    name: str
    title: str
    pairwise: bool
    has_margin: bool
    shift_invariant: bool


LOSSES: dict[str, LossInfo] = {
    "nll": LossInfo("nll", "NLL", pairwise=False, has_margin=False, shift_invariant=True),
    "hinge": LossInfo("hinge", "hinge", pairwise=True, has_margin=True, shift_invariant=True),
    "log": LossInfo("log", "log", pairwise=True, has_margin=False, shift_invariant=True),
    "simple": LossInfo("simple", "simple", pairwise=True, has_margin=True, shift_invariant=False),
    "square_square": LossInfo(
        "square_square", "square-square", pairwise=True, has_margin=True, shift_invariant=False
    ),
}
LOSS_NAMES: tuple[str, ...] = tuple(LOSSES)
PAIRWISE_NAMES: tuple[str, ...] = tuple(k for k, v in LOSSES.items() if v.pairwise)


def loss_info(name: str) -> LossInfo:
    """The registry entry of ``name``; raises ValueError for an unknown loss."""
    check_instance(name, str, "loss name")
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {LOSS_NAMES}")
    return LOSSES[name]


def pair_loss(
    name: str, energy_pos: Tensor, energy_neg: Tensor, margin: float | Tensor = 1.0, reduction: Reduction = "mean"
) -> Tensor:
    r"""A pairwise loss of the registry by name, :math:`L_{\text{name}}(F_W(x, y), F_W(x, \bar y))`.

    ``margin`` is ignored by the log loss, which has none.
    """
    info = loss_info(name)
    if not info.pairwise:
        raise ValueError(f"{name!r} is not a pairwise loss; choose one of {PAIRWISE_NAMES}")
    if name == "hinge":
        return hinge_loss(energy_pos, energy_neg, margin=margin, reduction=reduction)
    if name == "log":
        return log_loss(energy_pos, energy_neg, reduction=reduction)
    if name == "simple":
        return simple_loss(energy_pos, energy_neg, margin=margin, reduction=reduction)
    return square_square_loss(energy_pos, energy_neg, margin=margin, reduction=reduction)


def most_offending(energies: Tensor, target: Tensor) -> Tensor:
    r"""The incorrect label of lowest energy, :math:`\arg\min_{y' \ne y} F_W(x, y')`, per example.

    Needs all ``n`` energies of each example; ties go to the smaller index.
    The index returned by :func:`most_offending_incorrect`, computed without
    a graph (the choice of label is not differentiated).
    """
    e = check_float_tensor(energies, "energies")
    return most_offending_incorrect(e.detach(), target)[1]


def loss_from_energies(
    name: str,
    energies: Tensor,
    target: Tensor,
    negative: Tensor | None = None,
    *,
    margin: float = 1.0,
    beta: float = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Any of the five losses of :data:`LOSSES`, from the energies of all labels, with one signature.

    .. math::
        \mathcal{L}_{\text{nll}}(F_{:}) \quad\text{or}\quad
        L_{\text{name}}\left(F_W(x, y), F_W(x, \bar y)\right)

    Args:
        name: a key of :data:`LOSSES`.
        energies: ``[B, n]`` energies :math:`F_W(x_i, y')`.
        target: ``[B]`` correct labels :math:`y_i`.
        negative: ``[B]`` incorrect labels :math:`\bar y_i` for the pairwise
            losses; ``None`` picks :func:`most_offending`.  Must be ``None``
            for the NLL, which uses every label.
        margin: :math:`m` of the hinge, simple and square-square losses
            (ignored by the log loss and the NLL, which have none).
        beta: inverse temperature of the NLL (ignored by the pairwise losses).
        reduction: ``"none"`` | ``"sum"`` | ``"mean"``.

    Used by pages 1.3(d)(i)-(iii).
    """
    info = loss_info(name)
    e, t = check_energies_target(energies, target)
    if e.dim() != 2:
        raise ValueError(f"energies must have shape [B, n], got {tuple(e.shape)}")
    check_margin(margin)
    check_beta(beta)
    if not info.pairwise:
        if negative is not None:
            raise ValueError("the NLL loss uses every label: do not pass negative")
        return nll_loss(e, t, beta=beta, reduction=reduction)
    neg_idx = most_offending(e, t) if negative is None else check_negative(negative, t, e.shape[-1])
    pos = e.gather(1, t[:, None])[:, 0]
    neg = e.gather(1, neg_idx[:, None])[:, 0]
    return pair_loss(name, pos, neg, margin, reduction)


def shift_derivative(
    name: str, energies: Tensor, target: Tensor, negative: Tensor | None = None, **options: float
) -> Tensor:
    r"""Per-example :math:`\frac{d}{dc} L(F + c)` at :math:`c = 0`, by autograd.

    Every energy of an example receives the same shift :math:`c`, as if the
    model had one extra bias shared by all labels.  Zero for a loss that only
    sees energy differences (page 1.3(d)(iii)).  ``options`` are the
    ``margin`` and ``beta`` of :func:`loss_from_energies`.  Returns a ``[B]`` tensor.
    """
    e = check_float_tensor(energies, "energies").detach()
    if e.dim() != 2:
        raise ValueError(f"energies must have shape [B, n], got {tuple(e.shape)}")
    if "reduction" in options:
        raise TypeError("shift_derivative is per example: it takes no reduction")
    c = torch.zeros(e.shape[0], 1, dtype=e.dtype, requires_grad=True)
    # with negative None the pairwise losses take the most offending label of F + c,
    # the same label as for F: the shift is the same for every label of an example
    loss = loss_from_energies(name, e + c, target, negative, reduction="sum", **options)
    (g,) = torch.autograd.grad(loss, c)
    return g[:, 0]


# ---------------------------------------------------------------------------
# The loss zoo appendix (page "The loss zoo", book/appendix/loss_zoo.ipynb):
# every loss of Table 1 of LeCun et al. (2006) as a function of the two
# energies E_C and E_I, its profile along the gap E_I - E_C, and its two partial
# derivatives.

#: the losses of the zoo, in the order of the table
ZOO_NAMES: tuple[str, ...] = (
    "energy", "perceptron", "hinge", "log", "LVQ2", "MCE", "square-square", "square-exp", "NLL", "MEE",
)


def zoo_pair_loss(
    name: str,
    energy_pos: Tensor,
    energy_neg: Tensor,
    *,
    margin: float | Tensor = 1.0,
    saturation: float | Tensor = 1.0,
    gamma: float | Tensor = 1.0,
    beta: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""A loss of the zoo as a function of :math:`E_C = F_W(x, y)` and :math:`E_I = F_W(x, \bar y)`.

    .. math::
        Q_{\text{name}}(E_C, E_I), \qquad \text{name} \in \texttt{ZOO\_NAMES}

    The perceptron, NLL and MEE losses, which see every answer, are evaluated
    on the two answers ``[E_C, E_I]`` (so the perceptron loss is
    :math:`[E_C - E_I]^+`, the NLL the tempered log loss and the MEE the
    tempered MCE; page "The loss zoo" derives the three reductions).
    ``margin`` is the :math:`m` of the hinge and square-square losses,
    ``saturation`` the :math:`M` of LVQ2, ``gamma`` the weight of the
    square-exp loss and ``beta`` the inverse temperature of the NLL and MEE;
    each loss ignores the options it does not have.
    """
    check_choice(name, "loss name", ZOO_NAMES)
    pos, neg = check_pair(energy_pos, energy_neg)
    reduction = check_reduction(reduction)
    if name in ("perceptron", "NLL", "MEE"):
        pair = torch.stack([pos, neg], dim=-1)
        target = torch.zeros(pos.shape, dtype=torch.long, device=pos.device)
        if name == "perceptron":
            return perceptron_loss(pair, target, reduction)
        fn = nll_loss if name == "NLL" else mee_loss
        return fn(pair, target, beta=beta, reduction=reduction)
    if name == "energy":
        return energy_loss(pos, reduction)
    if name == "hinge":
        return hinge_loss(pos, neg, margin, reduction)
    if name == "log":
        return log_loss(pos, neg, reduction)
    if name == "LVQ2":
        return lvq2_loss(pos, neg, saturation, reduction)
    if name == "MCE":
        return mce_loss(pos, neg, reduction)
    if name == "square-square":
        return square_square_loss(pos, neg, margin, reduction)
    return square_exp_loss(pos, neg, gamma, reduction)


def zoo_gap_profile(
    name: str, gaps: Tensor, *, level: float = 1.0, **options: float
) -> tuple[Tensor, Tensor]:
    r"""Values and slopes of a zoo loss along the gap, with the mean energy held at ``level``.

    .. math::
        E_C = \ell - g/2, \quad E_I = \ell + g/2, \qquad
        \left(Q(E_C, E_I),\ \frac{dQ}{dg} = \tfrac12 \frac{\partial Q}{\partial E_I}
        - \tfrac12 \frac{\partial Q}{\partial E_C}\right)

    for each gap :math:`g = E_I - E_C = F_W(x, \bar y) - F_W(x, y)` in the 1-D
    tensor ``gaps`` (the book's notation: positive when the correct answer is
    ahead; the violation is :math:`u = -g`).  A negative slope means that
    gradient descent widens the gap.  The slope is taken by autograd of the
    library loss, so at a kink it follows the library's convention
    (``torch.relu``: 0 at the kink).  ``options`` are those of
    :func:`zoo_pair_loss` (``margin``, ``saturation``, ``gamma``, ``beta``).
    Returns two detached tensors shaped like ``gaps``.  Page "The loss zoo".
    """
    g = check_float_tensor(gaps, "gaps")
    if g.dim() != 1:
        raise ValueError(f"gaps must be a 1-D tensor, got shape {tuple(g.shape)}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level):
        raise ValueError(f"level must be a finite number, got {level!r}")
    if "reduction" in options:
        raise TypeError("zoo_gap_profile is per gap: it takes no reduction")
    g = g.detach().clone().requires_grad_(True)
    values = zoo_pair_loss(name, level - g / 2, level + g / 2, reduction="none", **options)
    (slopes,) = torch.autograd.grad(values.sum(), g)  # each point depends on its own gap only
    return values.detach(), slopes


def zoo_pair_gradient(
    name: str, energy_pos: Tensor, energy_neg: Tensor, **options: float
) -> tuple[Tensor, Tensor]:
    r"""The two partial derivatives of a zoo loss, by autograd of the library loss.

    .. math::
        \left(\frac{\partial Q}{\partial E_C}, \frac{\partial Q}{\partial E_I}\right)
        \quad\text{at each pair } (E_C, E_I)

    A positive :math:`\partial Q / \partial E_C` means gradient descent lowers
    :math:`E_C`; a negative :math:`\partial Q / \partial E_I` means it raises
    :math:`E_I`.  At a kink the values follow the library's convention
    (``torch.relu``: 0 at the kink).  ``options`` are those of
    :func:`zoo_pair_loss`.  Returns two detached tensors shaped like the
    inputs.  Page "The loss zoo".
    """
    if "reduction" in options:
        raise TypeError("zoo_pair_gradient is per pair: it takes no reduction")
    pos, neg = check_pair(energy_pos, energy_neg)
    pos = pos.detach().clone().requires_grad_(True)
    neg = neg.detach().clone().requires_grad_(True)
    loss = zoo_pair_loss(name, pos, neg, reduction="sum", **options)
    d_pos, d_neg = torch.autograd.grad(loss, (pos, neg), allow_unused=True)
    zero = torch.zeros_like(pos)
    return (zero if d_pos is None else d_pos), (zero if d_neg is None else d_neg)


# ---------------------------------------------------------------------------
# Pages 1.3(d)(ii) and (d)(iii): a loss of bounded influence.


def ramp_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    margin: float | Tensor = 1.0,
    cap: float | Tensor = 2.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""The ramp (truncated hinge) loss: the hinge, capped at ``cap``.

    .. math::
        \mathcal{L}_{\text{ramp}} = \min\left(c,\ \left[m + F_W(x, y) - F_W(x, \bar y)\right]^+\right)
            = \left[m + u\right]^+ - \left[m + u - c\right]^+,
        \qquad u = F_W(x, y) - F_W(x, \bar y),

    the difference of two hinges of Collobert et al. (2006), "Trading
    convexity for scalability" (their :math:`R_s = H_1 - H_s` with
    :math:`s = m - c` for :math:`m = 1`).  Its derivative in :math:`u` is
    :math:`\mathbb{1}[0 < m + u \le c]`: a pair violated by more than the cap
    has no gradient at all, so one mislabelled pair has bounded influence
    (page 1.3(d)(ii)).  Non-convex in :math:`u`.  Computed as the difference
    of two ``relu``, whose derivative is 0 at each kink from the left side.
    """
    pos, neg = check_pair(energy_pos, energy_neg)
    margin = check_margin(margin)
    cap = check_positive(cap, "cap")
    reduction = check_reduction(reduction)
    h = margin - (neg - pos)  # the hinge argument m + u, formed as in hinge_loss
    return reduce(torch.relu(h) - torch.relu(h - cap), reduction)


__all__ += ["ramp_loss"]

# Pages 2(c)-2(e): losses that never compute Z -- score matching, noise-contrastive
# estimation, the sampled softmax with its log-q correction.
__all__ += ["score_matching_loss", "denoising_score_matching_loss", "nce_loss", "sampled_softmax_loss"]


def _finite(t: Tensor, what: str) -> Tensor:
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{what} must be finite")
    return t


def _check_grad_points(grad: object, name: str) -> Tensor:
    g = check_float_tensor(grad, name)
    if g.dim() != 2 or g.shape[0] < 1 or g.shape[1] < 1:
        raise ValueError(f"{name} must have shape [B, d], got {tuple(g.shape)}")
    return g


def score_matching_loss(grad_energy: Tensor, laplacian: Tensor, reduction: Reduction = "mean") -> Tensor:
    r"""Hyvärinen's (implicit) score-matching loss of an energy, per point.

    .. math::
        \ell(y) = \tfrac12 \lVert \nabla_y F_W(y) \rVert^2 - \Delta_y F_W(y)

    Its mean over data drawn from :math:`p` equals the Fisher divergence
    :math:`\tfrac12 \mathbb{E}_p \lVert \nabla_y \log p + \nabla_y F_W \rVert^2`
    minus a constant that does not depend on :math:`W`, when
    :math:`p(y)\,\nabla_y F_W(y) \to 0` at the boundary (Hyvärinen, 2005); the
    model's score is :math:`-\nabla_y F_W` (:math:`\beta = 1`; pass
    :math:`\beta F` otherwise).  Derived on page 2(c).

    Args:
        grad_energy: ``[B, d]`` gradients :math:`\nabla_y F_W(y_i)`.
        laplacian: ``[B]`` Laplacians :math:`\Delta_y F_W(y_i)`.
        reduction: ``"none"`` | ``"sum"`` | ``"mean"``.
    """
    g = _finite(_check_grad_points(grad_energy, "grad_energy"), "grad_energy")
    lap = _finite(check_float_tensor(laplacian, "laplacian"), "laplacian")
    if lap.shape != g.shape[:1]:
        raise ValueError(f"laplacian must have shape [{g.shape[0]}] (one per point), got {tuple(lap.shape)}")
    reduction = check_reduction(reduction)
    return reduce(0.5 * g.square().sum(-1) - lap, reduction)


def denoising_score_matching_loss(
    grad_energy_noisy: Tensor,
    noisy: Tensor,
    clean: Tensor,
    sigma: float | Tensor,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Denoising score matching with Gaussian noise of standard deviation :math:`\sigma`, per noisy point.

    .. math::
        \ell(y, \tilde y) = \tfrac12 \left\lVert \frac{\tilde y - y}{\sigma^2} - \nabla_y F_W(\tilde y) \right\rVert^2,
        \qquad \tilde y = y + \sigma \varepsilon,

    the squared distance between the model's score :math:`-\nabla_y F_W(\tilde y)`
    and the score :math:`-(\tilde y - y)/\sigma^2` of the noise kernel.  Its
    expectation equals the Fisher divergence to the *noisy* density
    :math:`p_\sigma = p * \mathcal{N}(0, \sigma^2 I)` up to a constant
    (Vincent, 2011).  Derived on page 2(c).

    Args:
        grad_energy_noisy: ``[B, d]`` gradients :math:`\nabla_y F_W(\tilde y_i)`.
        noisy, clean: ``[B, d]`` points :math:`\tilde y_i` and :math:`y_i`.
        sigma: the noise standard deviation, positive and finite.
        reduction: ``"none"`` | ``"sum"`` | ``"mean"``.
    """
    g = _finite(_check_grad_points(grad_energy_noisy, "grad_energy_noisy"), "grad_energy_noisy")
    yt = _finite(check_float_tensor(noisy, "noisy"), "noisy")
    y = _finite(check_float_tensor(clean, "clean"), "clean")
    if yt.shape != g.shape or y.shape != g.shape:
        raise ValueError(
            f"grad_energy_noisy, noisy and clean must have one shape, got {tuple(g.shape)}, "
            f"{tuple(yt.shape)} and {tuple(y.shape)}"
        )
    sigma = check_positive(sigma, "sigma")
    reduction = check_reduction(reduction)
    return reduce(0.5 * ((yt - y) / sigma**2 - g).square().sum(-1), reduction)


def nce_loss(
    energy_data: Tensor,
    energy_noise: Tensor,
    noise_logp_data: Tensor,
    noise_logp_noise: Tensor,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Noise-contrastive estimation: logistic classification of ``N`` data points against ``M`` noise points.

    The model's log-density is :math:`-E(y)`, where the energy passed in
    already includes the learned log-normaliser, :math:`E = F_W + c`.  With
    :math:`\nu = M / N` and the log-odds
    :math:`G(y) = -E(y) - \log q(y) - \log \nu` that :math:`y` is data,

    .. math::
        \ell_{\text{data}}(y) = \operatorname{softplus}(-G(y)), \qquad
        \ell_{\text{noise}}(\tilde y) = \operatorname{softplus}(G(\tilde y)).

    Returns the ``N + M`` terms (data first) for ``"none"``, their sum, or
    their mean (the NCE objective of Gutmann and Hyvärinen, 2012, divided by
    :math:`1 + \nu`: the same minimiser).  At the minimum over all functions,
    :math:`E = -\log p_{\text{data}}` wherever :math:`q > 0` (page 2(d)).

    Args:
        energy_data, energy_noise: ``[N]`` and ``[M]`` energies :math:`F_W + c`.
        noise_logp_data, noise_logp_noise: :math:`\log q` at the same points;
            a non-finite value is an error (the noise density must cover the data).
        reduction: ``"none"`` | ``"sum"`` | ``"mean"``.
    """
    ed = _finite(check_float_tensor(energy_data, "energy_data"), "energy_data")
    en = _finite(check_float_tensor(energy_noise, "energy_noise"), "energy_noise")
    qd = check_float_tensor(noise_logp_data, "noise_logp_data")
    qn = check_float_tensor(noise_logp_noise, "noise_logp_noise")
    for e, q, what in ((ed, qd, "data"), (en, qn, "noise")):
        if e.dim() != 1 or e.shape[0] < 1:
            raise ValueError(f"energy_{what} must have shape [n] with n >= 1, got {tuple(e.shape)}")
        if q.shape != e.shape:
            raise ValueError(f"noise_logp_{what} must have the shape of energy_{what} {tuple(e.shape)}, "
                             f"got {tuple(q.shape)}")
        _finite(q, f"the noise log-probability at the {what} points (a non-finite value)")
    reduction = check_reduction(reduction)
    log_nu = math.log(en.shape[0] / ed.shape[0])
    g_data = -ed - qd - log_nu
    g_noise = -en - qn - log_nu
    terms = torch.cat([F.softplus(-g_data), F.softplus(g_noise)])
    return reduce(terms, reduction)


def sampled_softmax_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    log_q: Tensor | None = None,
    beta: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""The NLL of the correct label among itself and ``k`` sampled negatives (InfoNCE), optionally log-q corrected.

    .. math::
        \ell = F_W(x, y) + \frac1\beta \log\Big( e^{-\beta F_W(x, y)}
               + \sum_{j=1}^{k} e^{-\beta \tilde F_j} \Big),
        \qquad \tilde F_j = F_W(x, \bar y_j) + \frac1\beta \log\big(k\, q(\bar y_j)\big)

    with :math:`\tilde F_j = F_W(x, \bar y_j)` when ``log_q`` is None (no
    correction).  With ``k = 1`` and no correction it is the log loss at
    :math:`\beta = 1`; with every incorrect label once it is the NLL loss.
    When the negatives are drawn from :math:`q` over the incorrect labels,
    :math:`\frac1k \sum_j e^{-\beta F(\bar y_j)} / q(\bar y_j)` estimates the sum
    over all of them, so the corrected loss tends to the NLL as :math:`k \to \infty`
    (Bengio and Senécal, 2008; Jean et al., 2015); the uncorrected one does
    not, in general.  Page 2(e).

    Args:
        energy_pos: ``[...]`` energies of the correct labels.
        energy_neg: ``[..., k]`` energies of ``k >= 1`` negatives per example.
        log_q: ``[..., k]`` log-probabilities (finite, at most 0) with which
            each negative was drawn, or None.
        beta: inverse temperature, positive and finite.
        reduction: ``"none"`` | ``"sum"`` | ``"mean"``.
    """
    pos = _finite(check_float_tensor(energy_pos, "energy_pos"), "energy_pos")
    neg = _finite(check_float_tensor(energy_neg, "energy_neg"), "energy_neg")
    if neg.dim() != pos.dim() + 1 or neg.shape[:-1] != pos.shape:
        raise ValueError(
            f"energy_neg must have shape {tuple(pos.shape)} + (k,), got {tuple(neg.shape)}"
        )
    k = neg.shape[-1]
    if k < 1:
        raise ValueError("sampled_softmax_loss needs k >= 1 negatives per example, got 0")
    beta = check_beta(beta)
    reduction = check_reduction(reduction)
    if log_q is not None:
        lq = check_float_tensor(log_q, "log_q")
        if lq.shape != neg.shape:
            raise ValueError(f"log_q must have the shape of energy_neg {tuple(neg.shape)}, got {tuple(lq.shape)}")
        _finite(lq, "log_q (the log-probabilities of the drawn negatives)")
        if bool((lq > 1e-12).any()):
            raise ValueError("log_q holds log-probabilities: every value must be at most 0")
        neg = neg + (lq + math.log(k)) / beta
    # (1/beta) log(1 + sum_j exp(-beta (F~_j - F_y))): built from the differences, so a
    # small loss is not the difference of two large numbers (as logaddexp in log_loss)
    gaps = torch.cat([torch.zeros_like(pos)[..., None], -beta * (neg - pos[..., None])], dim=-1)
    return reduce(torch.logsumexp(gaps, dim=-1) / beta, reduction)
