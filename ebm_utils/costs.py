r"""What a loss costs, counted in energy evaluations (pages 1.2(iii) and 1.3(d)(i)).

Every model of :mod:`ebm_utils.energies` counts the energies
:math:`F_W(x, y')` it evaluates and, separately, those evaluated while
autograd records a graph for :math:`W`: each of the latter is backpropagated
once, so it is one *gradient evaluation* :math:`\partial F_W(x, y') / \partial W`.

* :class:`EvalCount` -- the two counts of one computation;
* :func:`model_loss` -- a loss of the registry :data:`ebm_utils.losses.LOSSES`
  computed through a label-energy model, evaluating only the energies the
  loss needs;
* :func:`count_evaluations` -- the cost per example of one loss-and-gradient
  computation.

The counts come from the model, not from this module: a loss that evaluated
more energies than it claims would show it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._validation import check_float_tensor, check_instance, check_negative, check_rows
from .energies import LabelEnergy
from .losses import loss_from_energies, loss_info, most_offending

__all__ = ["EvalCount", "model_loss", "count_evaluations"]


@dataclass(frozen=True)
class EvalCount:
    """How many energies :math:`F_W(x, y')` and energy gradients :math:`\\partial F_W(x, y')/\\partial W` a computation evaluated."""

    energy_evals: int
    gradient_evals: int


def model_loss(
    name: str, model: LabelEnergy, w: Tensor, x: Tensor, target: Tensor, negative: Tensor | None = None, **options: float
) -> Tensor:
    r"""A loss of the registry computed through ``model``, evaluating only the energies the loss needs.

    * NLL: all ``n`` energies of each example, every one on the autograd graph.
    * Pairwise with ``negative`` given: the two energies
      :math:`F_W(x, y)` and :math:`F_W(x, \bar y)`.
    * Pairwise with ``negative=None``: all ``n`` energies *without* a graph to
      find the most offending incorrect label, then the two energies again
      with a graph.  So ``n + 2`` energies but only 2 gradients per example.

    ``x`` is ``[B, d]``; ``target`` and ``negative`` are ``[B]``; ``options``
    are the ``margin``, ``beta`` and ``reduction`` of
    :func:`ebm_utils.losses.loss_from_energies`, which computes the value.
    """
    info = loss_info(name)
    model = check_instance(model, LabelEnergy, "model")
    x = check_rows(x, model.x_dim, "x")
    if not info.pairwise:
        if negative is not None:
            raise ValueError("the NLL loss uses every label: do not pass negative")
        return loss_from_energies(name, model.energies(w, x), target, **options)
    if negative is None:
        with torch.no_grad():
            negative = most_offending(model.energies(w, x), target)
    else:
        negative = check_negative(negative, target, model.n_labels)
    pair = torch.stack([model(w, x, target), model(w, x, negative)], dim=1)  # columns F(x, y), F(x, ybar)
    first, second = torch.zeros_like(target), torch.ones_like(target)
    return loss_from_energies(name, pair, first, second, **options)


def count_evaluations(
    name: str, model: LabelEnergy, w: Tensor, x: Tensor, target: Tensor, negative: Tensor | None = None, **options: float
) -> EvalCount:
    r"""Cost of one loss-and-gradient computation of :func:`model_loss`, per example.

    Resets the model's counters, computes :func:`model_loss` with a graph,
    backpropagates it, and divides the counts by the batch size (every
    example costs the same, so the counts per example are whole numbers).
    """
    model = check_instance(model, LabelEnergy, "model")
    w = check_float_tensor(w, "w").detach().clone().requires_grad_(True)
    model.reset_counts()
    loss = model_loss(name, model, w, x, target, negative, **options)
    loss.backward()
    b = x.shape[0]
    if model.energy_evals % b or model.graph_evals % b:
        raise ValueError("evaluation counts are not a whole number per example")
    return EvalCount(model.energy_evals // b, model.graph_evals // b)
