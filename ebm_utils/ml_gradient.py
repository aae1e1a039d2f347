r"""The maximum-likelihood gradient of a continuous energy: exact on a grid, and its sampled estimators (page 2(b)).

For data :math:`y_1, \dots, y_N` and the density :math:`p_W(y) = e^{-\beta F_W(y)} / Z_W`,
the negative log-likelihood in the book's scaling (chapter 1.2, divided by
:math:`\beta`) is :math:`\mathcal{L}(W) = \frac1N \sum_i F_W(y_i) + \frac1\beta \log Z_W`,
and its gradient is the positive phase minus the negative phase,

.. math::
    \nabla_W \mathcal{L} = \frac1N \sum_{i=1}^{N} \nabla_W F_W(y_i)
                         - \mathbb{E}_{y \sim p_W}\left[\nabla_W F_W(y)\right]

(the continuous counterpart of page 1.2(iii)).  This module computes it

* **exactly on a grid** (:func:`exact_gradient`): :math:`p_W` restricted to
  the cells of a grid and normalised there (:func:`grid_distribution`), which
  is the reference the estimators are measured against;
* with **contrastive divergence** (:func:`cd_gradient`, CD-k): the negative
  phase averaged over the end points of ``k`` sampler steps started *at the
  data* (Hinton, 2002), biased for every finite ``k``;
* with **persistent chains** (:func:`pcd_gradient`): the negative phase from
  chains that continue where the previous call left them, kept in a
  :class:`ebm_utils.langevin.ReplayBuffer` (Tieleman, 2008).

:func:`kl_divergence` compares two grid distributions.  The samplers are
those of :mod:`ebm_utils.langevin` (MALA by default, so that the chains leave
:math:`p_W` exactly invariant and the only bias of CD-k is the length of its
chains).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._validation import check_beta, check_choice, check_float_tensor, check_instance, check_int, check_positive
from .energies import ContinuousEnergy
from .langevin import ReplayBuffer, langevin, mala

__all__ = ["grid_distribution", "exact_gradient", "cd_gradient", "pcd_gradient", "kl_divergence"]

_SAMPLERS = {"mala": mala, "langevin": langevin}


def _check_model_points(model: object, w: object, points: object, name: str) -> tuple[Tensor, Tensor]:
    check_instance(model, ContinuousEnergy, "model")
    if model.x_dim is not None:
        raise ValueError("the maximum-likelihood gradient here is for an unconditional energy F_W(y) (x_dim None)")
    w = model.check_w(w)
    pts = model.check_y(check_float_tensor(points, name))
    if not bool(torch.isfinite(pts).all()):
        raise ValueError(f"{name} must be finite")
    return w, pts


def grid_distribution(model: ContinuousEnergy, w: Tensor, points: Tensor, beta: float = 1.0) -> Tensor:
    r"""The probabilities :math:`e^{-\beta F_W(y_j)} / \sum_{j'} e^{-\beta F_W(y_{j'})}` of the grid cells ``points`` (``[P]``).

    On the equal cells of a midpoint grid (:func:`ebm_utils.inference.midpoint_grid`)
    this is :math:`p_W` integrated over each cell, to the accuracy of the
    midpoint rule, provided the grid covers nearly all of the mass.
    """
    w, pts = _check_model_points(model, w, points, "points")
    beta = check_beta(beta)
    with torch.no_grad():
        return torch.softmax(-beta * model(w.detach(), None, pts), dim=0)


def exact_gradient(model: ContinuousEnergy, w: Tensor, data: Tensor, points: Tensor, beta: float = 1.0) -> Tensor:
    r"""The maximum-likelihood gradient with the negative phase summed over a grid: :math:`\overline{\nabla_W F}_{\text{data}} - \sum_j p_j \nabla_W F_W(y_j)`.

    ``data`` ``[N, y_dim]``, ``points`` the ``[P, y_dim]`` grid cells;
    returns ``[num_params]``.  Exact for the model restricted to the grid
    (each cell weighted by :func:`grid_distribution`).
    """
    w, data = _check_model_points(model, w, data, "data")
    _, pts = _check_model_points(model, w, points, "points")
    p = grid_distribution(model, w, pts, beta)
    w = w.detach()
    return model.grad_w(w, None, data).mean(0) - p @ model.grad_w(w, None, pts)


def _run(sampler: str, model: ContinuousEnergy, w: Tensor, y0: Tensor, k: int, step: float, beta: float,
         generator: torch.Generator | None, stream: int) -> Tensor:
    run = _SAMPLERS[check_choice(sampler, "sampler", tuple(_SAMPLERS))]
    final = run(model, w, y0, step, k, beta, stream=stream, generator=generator).final
    if not bool(torch.isfinite(final).all()):
        raise ValueError(f"the {sampler} chains left the finite numbers after {k} steps of size {step}: "
                         "the step is too large for this energy")
    return final


def cd_gradient(
    model: ContinuousEnergy,
    w: Tensor,
    data: Tensor,
    k: int,
    step: float,
    beta: float = 1.0,
    *,
    sampler: str = "mala",
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""The CD-k estimate :math:`\overline{\nabla_W F}_{\text{data}} - \overline{\nabla_W F}_{\text{chains}}` and the negatives.

    One chain starts at each data point and runs ``k >= 1`` steps of
    ``sampler`` (``"mala"`` or ``"langevin"``) with step ``step``; the
    negative phase is the average of :math:`\nabla_W F_W` at the ``[N, y_dim]``
    end points, which are returned with the gradient.
    """
    w, data = _check_model_points(model, w, data, "data")
    k = check_int(k, "k")
    step = check_positive(step, "step")
    beta = float(check_beta(beta))
    negatives = _run(sampler, model, w, data, k, step, beta, generator, stream)
    w = w.detach()
    return model.grad_w(w, None, data).mean(0) - model.grad_w(w, None, negatives).mean(0), negatives


def pcd_gradient(
    model: ContinuousEnergy,
    w: Tensor,
    data: Tensor,
    buffer: ReplayBuffer,
    k: int,
    step: float,
    beta: float = 1.0,
    *,
    num_chains: int | None = None,
    sampler: str = "mala",
    stream: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""The persistent estimate: negatives from ``num_chains`` chains of ``buffer``, moved ``k`` steps and stored back.

    ``num_chains`` defaults to the number of data points.  Returns the
    gradient ``[num_params]`` and the ``[num_chains, y_dim]`` negatives.
    """
    w, data = _check_model_points(model, w, data, "data")
    check_instance(buffer, ReplayBuffer, "buffer")
    if buffer.y_dim != model.y_dim:
        raise ValueError(f"the buffer holds points of dimension {buffer.y_dim}, the model needs {model.y_dim}")
    k = check_int(k, "k")
    step = check_positive(step, "step")
    beta = float(check_beta(beta))
    n = data.shape[0] if num_chains is None else check_int(num_chains, "num_chains")
    index, start = buffer.sample(n)
    negatives = _run(sampler, model, w, start, k, step, beta, generator, stream)
    buffer.push(index, negatives)
    w = w.detach()
    return model.grad_w(w, None, data).mean(0) - model.grad_w(w, None, negatives).mean(0), negatives


def kl_divergence(p: Tensor, q: Tensor) -> float:
    r""":math:`\mathrm{KL}(p \,\Vert\, q) = \sum_j p_j \log(p_j / q_j)` of two distributions on the same cells (``[P]`` each).

    Terms with :math:`p_j = 0` count 0; a cell with :math:`p_j > 0 = q_j` gives ``inf``.
    """
    p = check_float_tensor(p, "p")
    q = check_float_tensor(q, "q")
    if p.shape != q.shape or p.dim() != 1:
        raise ValueError(f"p and q must be [P] tensors of one shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    for name, t in (("p", p), ("q", q)):
        if bool((t < 0).any()) or not bool(torch.isfinite(t).all()) or abs(float(t.sum()) - 1.0) > 1e-6:
            raise ValueError(f"{name} must be a probability vector (non-negative, summing to 1)")
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p))
    return float(terms.sum())
