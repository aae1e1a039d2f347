"""One small training loop for every experiment in the book.

``train`` runs full-batch gradient descent (SGD or Adam) on a loss closure
and records, at every step, the loss, the gradient norm and anything else a
page asks for.  Pages plot and assert on the returned history, so the
training code itself is written once and tested here.  First used in 1.1(d).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import Tensor

__all__ = ["train", "grad_norm"]


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
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be positive and finite, got {lr!r}")
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every!r}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
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
