r"""One small training loop for every experiment in the book.

* :func:`train` runs full-batch gradient descent (SGD or Adam) on a loss
  closure and records, at every step, the loss, the gradient norm and anything
  else a page asks for.  Pages plot and assert on the returned history, so the
  training code itself is written once and tested here.  First used in 1.1(d).
* :func:`train_energy_table` trains the simplest label-energy model, a table
  :math:`F_W(x_i, y) = W_{iy}` with one free energy per example and label, with
  any loss of :data:`ebm_utils.losses.LOSSES` (pages 1.3(d)(i) and (iii)).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import Tensor

from ._validation import check_choice, check_energies_target, check_int, check_negative, check_positive
from .losses import loss_from_energies, loss_info

__all__ = ["train", "grad_norm", "train_energy_table"]


def grad_norm(params: Iterable[Tensor]) -> float:
    """Euclidean norm of all gradients together (0 for parameters without one).

    Computed with ``torch.linalg.vector_norm``, which rescales internally, so
    gradients far below ``sqrt(tiny)`` are not flushed to a false zero.
    """
    grads = [p.grad.detach().reshape(-1) for p in params if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.cat(grads)))


def train(
    params: Iterable[Tensor],
    loss_fn: Callable[[], Tensor],
    steps: int,
    lr: float,
    *,
    optimizer: Literal["sgd", "adam"] = "sgd",
    record: Callable[[], dict[str, float]] | None = None,
    every: int = 1,
) -> dict[str, list[float]]:
    """Minimise ``loss_fn()`` over ``params``; return the recorded history.

    Args:
        params: tensors with ``requires_grad=True``.
        loss_fn: closure returning a scalar loss from the current parameters.
        steps: number of updates.
        lr: learning rate.
        optimizer: ``"sgd"`` (plain gradient descent) or ``"adam"``.
        record: optional closure returning extra scalars to log (evaluated
            without gradients, before each update and after the last).
        every: log every ``every`` steps (and always the final state).

    Returns:
        ``{"step": [...], "loss": [...], "grad_norm": [...], **record()}``,
        where entry ``i`` describes the parameters *before* update ``step[i]``;
        the final entry (``step == steps``) has the trained parameters, with
        the gradient norm of the loss there.

    Raises:
        ValueError: on a non-finite loss (divergence is never silent).
    """
    params = list(params)
    if not params or not all(isinstance(p, Tensor) and p.requires_grad for p in params):
        raise ValueError("params must be a non-empty list of tensors with requires_grad=True")
    check_int(steps, "steps", minimum=0)
    check_positive(lr, "lr")
    check_int(every, "every")
    check_choice(optimizer, "optimizer", ("sgd", "adam"))
    # Plain gradient descent is written out: constructing a torch.optim
    # optimizer imports torch._dynamo, a one-off second per notebook page.
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else None

    history: dict[str, list[float]] = {"step": [], "loss": [], "grad_norm": []}
    for step in range(steps + 1):
        for p in params:
            p.grad = None
        loss = loss_fn()
        if loss.dim() != 0:
            raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
        if not torch.isfinite(loss):
            raise ValueError(f"loss became {loss.item()} at step {step}")
        loss.backward()
        if step % every == 0 or step == steps:
            history["step"].append(step)
            history["loss"].append(float(loss.detach()))
            history["grad_norm"].append(grad_norm(params))
            if record is not None:
                with torch.no_grad():
                    for k, v in record().items():
                        history.setdefault(k, []).append(float(v))
        if step < steps:
            if opt is not None:
                opt.step()
            else:
                with torch.no_grad():
                    for p in params:
                        if p.grad is not None:
                            p.add_(p.grad, alpha=-lr)  # as torch.optim.SGD does
    return history


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
    undisturbed by any architecture.  ``name`` is a key of
    :data:`ebm_utils.losses.LOSSES`; the loss is
    :func:`ebm_utils.losses.loss_from_energies`.  Runs :func:`train` (plain
    SGD) and also records, per logged step,

    * ``"correct"``: mean correct energy :math:`F_W(x_i, y_i)`;
    * ``"incorrect"``: mean energy of the incorrect labels;
    * ``"gap"``: the smallest gap the loss sees,
      :math:`\min_i F_W(x_i, \bar y_i) - F_W(x_i, y_i)` with the given
      negatives, else :math:`\min_i \min_{y' \ne y_i} F_W(x_i, y') - F_W(x_i, y_i)`;
    * ``"level"``: mean of all energies (moved only by a shift-sensitive loss).

    Returns the trained table (detached) and the history.
    """
    info = loss_info(name)
    e0, t = check_energies_target(energies0, target)
    if e0.dim() != 2 or e0.shape[-1] < 2:
        raise ValueError(f"energies0 must have shape [B, n] with n >= 2, got {tuple(e0.shape)}")
    if negative is not None:
        if not info.pairwise:
            raise ValueError("the NLL loss uses every label: do not pass negative")
        negative = check_negative(negative, t, e0.shape[-1])
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
