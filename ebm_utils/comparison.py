r"""Side-by-side experiments with the NLL loss and the pairwise losses (chapter 1.3(d)).

Pages 1.3(d)(i)-(iii) compare five losses on the same energies: the negative
log-likelihood (NLL) of page 1.2(ii) and the four pairwise losses of
:mod:`ebm_utils.losses` (hinge, log, simple, square-square).  This module
gives them **one call signature**, so that an experiment loops over names:

* :data:`LOSSES`: a registry of :class:`LossInfo` records (is the loss
  pairwise, does it have a margin, is it invariant to a shared energy shift);
* :func:`loss_from_energies`: the loss of a batch from its table of energies
  ``[B, n]``; pairwise losses use the given incorrect label or, if none is
  given, the *most offending* one (the lowest-energy incorrect label);
* :func:`model_loss` and :func:`count_evaluations`: the same loss computed
  through a label-energy model that counts how many energies
  :math:`F_W(x, y')` it evaluates and how many of them are differentiated
  (page 1.3(d)(i) measures the cost per example as the number of labels grows);
* :func:`shift_derivative`: the derivative of a loss with respect to a constant
  :math:`c` added to every energy, :math:`\partial L(F + c) / \partial c` at
  :math:`c = 0` (page 1.3(d)(iii));
* :func:`train_energy_table`: gradient descent with
  :func:`ebm_utils.training.train` on the simplest trainable label-energy
  model, a table :math:`F_W(x_i, y) = W_{iy}` with one free energy per example
  and label, so that saturation (1.3(d)(i)) and the levels each loss drives
  the energies to (1.3(d)(iii)) can be read off directly;
* :func:`tempered_softplus` and :func:`soft_hinge_loss`: the soft hinge
  :math:`\frac{1}{\beta}\log(1 + e^{\beta (m + F_W(x, y) - F_W(x, \bar y))})`
  of page 1.3(d)(ii), written with :func:`ebm_utils.losses.log_loss`.

The losses themselves are never re-implemented here: every value comes from
:mod:`ebm_utils.losses`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from ._validation import (
    Reduction,
    check_beta,
    check_energies_target,
    check_float_tensor,
    check_margin,
    check_reduction,
    reduce,
)
from .losses import (
    hinge_loss,
    log_loss,
    most_offending_incorrect,
    nll_loss,
    simple_loss,
    square_square_loss,
)
from .sampling import EvalCount
from .training import train

__all__ = [
    "LossInfo",
    "LOSSES",
    "LOSS_NAMES",
    "PAIRWISE_NAMES",
    "LabelEnergyModel",
    "loss_info",
    "most_offending",
    "loss_from_energies",
    "model_loss",
    "count_evaluations",
    "shift_derivative",
    "train_energy_table",
    "tempered_softplus",
    "soft_hinge_loss",
]


@dataclass(frozen=True)
class LossInfo:
    """What a loss needs and promises.

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
    if not isinstance(name, str):
        raise TypeError(f"loss name must be a string, got {type(name).__name__}")
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {LOSS_NAMES}")
    return LOSSES[name]


def _pair(name: str, pos: Tensor, neg: Tensor, margin: float, reduction: Reduction) -> Tensor:
    if name == "hinge":
        return hinge_loss(pos, neg, margin=margin, reduction=reduction)
    if name == "log":
        return log_loss(pos, neg, reduction=reduction)
    if name == "simple":
        return simple_loss(pos, neg, margin=margin, reduction=reduction)
    return square_square_loss(pos, neg, margin=margin, reduction=reduction)


def most_offending(energies: Tensor, target: Tensor) -> Tensor:
    r"""The incorrect label of lowest energy, :math:`\arg\min_{y' \ne y} F_W(x, y')`, per example.

    Needs all ``n`` energies of each example; ties go to the smaller index.
    The index returned by :func:`ebm_utils.losses.most_offending_incorrect`.
    """
    return most_offending_incorrect(energies.detach() if isinstance(energies, Tensor) else energies, target)[1]


def _check_negative(negative: Tensor, target: Tensor, n: int) -> Tensor:
    if not isinstance(negative, Tensor) or negative.is_floating_point() or negative.dtype == torch.bool:
        raise TypeError("negative must be an integer tensor of incorrect labels")
    if negative.shape != target.shape:
        raise ValueError(
            f"negative must have the shape of target {tuple(target.shape)}, got {tuple(negative.shape)}"
        )
    if negative.numel() and (int(negative.min()) < 0 or int(negative.max()) >= n):
        raise IndexError(f"negative labels must lie in [0, {n - 1}]")
    if bool((negative == target).any()):
        raise ValueError("a negative label equals the correct label of its example")
    return negative.long()


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
    r"""Any of the five losses, from the energies of all labels, with one signature.

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
    neg_idx = most_offending(e, t) if negative is None else _check_negative(negative, t, e.shape[-1])
    pos = e.gather(1, t[:, None])[:, 0]
    neg = e.gather(1, neg_idx[:, None])[:, 0]
    return _pair(name, pos, neg, margin, reduction)


class LabelEnergyModel(Protocol):
    """What :func:`model_loss` needs: :class:`ebm_utils.label_energies.LabelEnergy` has it."""

    n_labels: int
    energy_evals: int
    graph_evals: int

    def reset_counts(self) -> None: ...

    def energies(self, w: Tensor, x: Tensor) -> Tensor: ...

    def energy(self, w: Tensor, x: Tensor, labels: Tensor) -> Tensor: ...


def model_loss(
    name: str,
    model: LabelEnergyModel,
    w: Tensor,
    x: Tensor,
    target: Tensor,
    negative: Tensor | None = None,
    *,
    margin: float = 1.0,
    beta: float = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""A loss computed through ``model``, evaluating only the energies the loss needs.

    * NLL: all ``n`` energies of each example, every one on the autograd graph.
    * Pairwise with ``negative`` given: the two energies
      :math:`F_W(x, y)` and :math:`F_W(x, \bar y)`.
    * Pairwise with ``negative=None``: all ``n`` energies *without* a graph to
      find the most offending incorrect label, then the two energies again
      with a graph.  So ``n + 2`` energies but only 2 gradients per example.

    ``x`` is ``[B, d]``; ``target`` and ``negative`` are ``[B]``.
    """
    info = loss_info(name)
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError("x must be a [B, d] tensor")
    if not info.pairwise:
        if negative is not None:
            raise ValueError("the NLL loss uses every label: do not pass negative")
        return loss_from_energies(name, model.energies(w, x), target, beta=beta, reduction=reduction)
    if negative is None:
        with torch.no_grad():
            negative = most_offending(model.energies(w, x), target)
    else:
        negative = _check_negative(negative, target, model.n_labels)
    pos = model.energy(w, x, target)
    neg = model.energy(w, x, negative)
    return _pair(name, pos, neg, check_margin(margin), reduction)


def count_evaluations(
    name: str,
    model: LabelEnergyModel,
    w: Tensor,
    x: Tensor,
    target: Tensor,
    negative: Tensor | None = None,
    **kwargs: float,
) -> EvalCount:
    r"""Cost of one loss-and-gradient computation, per example.

    Resets the model's counters, computes :func:`model_loss` with a graph,
    backpropagates it, and divides the counts by the batch size (every
    example costs the same, so the counts per example are whole numbers).
    Returns the :class:`ebm_utils.sampling.EvalCount` of page 1.2(iii).  A *gradient
    evaluation* is one energy :math:`F_W(x, y')` on the autograd graph, i.e.
    one :math:`\partial F_W(x, y') / \partial W` computed by the backward pass.
    """
    if not isinstance(w, Tensor) or not w.is_floating_point():
        raise TypeError("w must be a floating-point tensor")
    w = w.detach().clone().requires_grad_(True)
    model.reset_counts()
    loss = model_loss(name, model, w, x, target, negative, **kwargs)
    loss.backward()
    b = x.shape[0]
    if model.energy_evals % b or model.graph_evals % b:
        raise ValueError("evaluation counts are not a whole number per example")
    return EvalCount(model.energy_evals // b, model.graph_evals // b)


def shift_derivative(
    name: str,
    energies: Tensor,
    target: Tensor,
    negative: Tensor | None = None,
    *,
    margin: float = 1.0,
    beta: float = 1.0,
) -> Tensor:
    r"""Per-example :math:`\frac{d}{dc} L(F + c)` at :math:`c = 0`, by autograd.

    Every energy of an example receives the same shift :math:`c`, as if the
    model had one extra bias shared by all labels.  Zero for a loss that only
    sees energy differences.  Returns a ``[B]`` tensor.
    """
    e = check_float_tensor(energies, "energies").detach()
    if e.dim() != 2:
        raise ValueError(f"energies must have shape [B, n], got {tuple(e.shape)}")
    c = torch.zeros(e.shape[0], 1, dtype=e.dtype, requires_grad=True)
    if negative is None and loss_info(name).pairwise:
        negative = most_offending(e, target)  # fixed before shifting: the choice is shift-free too
    loss = loss_from_energies(name, e + c, target, negative, margin=margin, beta=beta, reduction="sum")
    (g,) = torch.autograd.grad(loss, c)
    return g[:, 0]


def train_energy_table(
    name: str,
    energies0: Tensor,
    target: Tensor,
    negative: Tensor | None = None,
    *,
    steps: int,
    lr: float,
    margin: float = 1.0,
    beta: float = 1.0,
    every: int = 1,
) -> tuple[Tensor, dict[str, list[float]]]:
    r"""Gradient descent on a table of free energies :math:`F_W(x_i, y) = W_{iy}`.

    The simplest trainable label-energy model: every energy is its own
    parameter, so the update of :math:`W_{iy}` is exactly
    :math:`-\mathrm{lr}\,\partial L / \partial F_W(x_i, y)` (times ``1/B``, as
    the loss is a mean), and what a loss does to the energies is seen
    undisturbed by any architecture.  Runs :func:`ebm_utils.training.train`
    (plain SGD) and also records, per logged step,

    * ``"correct"``: mean correct energy :math:`F_W(x_i, y_i)`;
    * ``"incorrect"``: mean energy of the incorrect labels;
    * ``"gap"``: the smallest gap the loss sees,
      :math:`\min_i F_W(x_i, \bar y_i) - F_W(x_i, y_i)` with the given
      negatives, else :math:`\min_i \min_{y' \ne y_i} F_W(x_i, y') - F_W(x_i, y_i)`;
    * ``"level"``: mean of all energies (moved only by a shift-sensitive loss).

    Returns the trained table (detached) and the history.
    """
    loss_info(name)
    e0, t = check_energies_target(energies0, target)
    if e0.dim() != 2 or e0.shape[-1] < 2:
        raise ValueError(f"energies0 must have shape [B, n] with n >= 2, got {tuple(e0.shape)}")
    if negative is not None:
        if not loss_info(name).pairwise:
            raise ValueError("the NLL loss uses every label: do not pass negative")
        negative = _check_negative(negative, t, e0.shape[-1])
    w = e0.detach().clone().requires_grad_(True)
    correct = torch.nn.functional.one_hot(t, e0.shape[-1]).bool()

    def loss_fn() -> Tensor:
        return loss_from_energies(name, w, t, negative, margin=margin, beta=beta)

    def seen(others: Tensor) -> Tensor:
        if negative is None:
            return others.min(dim=1).values
        return w.gather(1, negative[:, None])[:, 0]

    def record() -> dict[str, float]:
        pos = w[correct]
        others = w[~correct].reshape(w.shape[0], -1)
        return {
            "correct": float(pos.mean()),
            "incorrect": float(others.mean()),
            "gap": float((seen(others) - pos).min()),
            "level": float(w.mean()),
        }

    history = train([w], loss_fn, steps, lr, record=record, every=every)
    return w.detach(), history


def tempered_softplus(u: Tensor, beta: float = 1.0) -> Tensor:
    r"""The tempered softplus :math:`\frac{1}{\beta} \log(1 + e^{\beta u})`, elementwise.

    It tends to :math:`[u]^+` as :math:`\beta \to \infty`, with
    :math:`0 < \frac{1}{\beta}\log(1 + e^{\beta u}) - [u]^+ \le \log(2)/\beta`
    (page 1.3(d)(ii)).  Computed as ``log_loss(beta * u, 0) / beta``.
    """
    u = check_float_tensor(u, "u")
    beta = check_beta(beta)
    return log_loss(beta * u, torch.zeros_like(u), reduction="none") / beta


def soft_hinge_loss(
    energy_pos: Tensor,
    energy_neg: Tensor,
    margin: float = 0.0,
    beta: float = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""The soft hinge :math:`\frac{1}{\beta} \log(1 + e^{\beta (m + F_W(x, y) - F_W(x, \bar y))})`.

    With ``margin=0, beta=1`` it is :func:`ebm_utils.losses.log_loss`; as
    ``beta`` grows it tends to :func:`ebm_utils.losses.hinge_loss` with the
    same margin (page 1.3(d)(ii)).
    """
    pos = check_float_tensor(energy_pos, "energy_pos")
    neg = check_float_tensor(energy_neg, "energy_neg")
    margin = check_margin(margin)
    beta = check_beta(beta)
    reduction = check_reduction(reduction)
    loss = log_loss(beta * (pos + margin), beta * neg, reduction="none") / beta
    return reduce(loss, reduction)
