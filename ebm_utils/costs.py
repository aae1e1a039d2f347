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
  computation;
* :func:`measure_compute` -- the arithmetic of a forward and a backward pass
  and the memory autograd keeps between them, measured on the operations
  torch runs (page 1.2(iii)).

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


# ---------------------------------------------------------------------------
# Page 1.2(iii): what a loss-and-gradient computation costs in arithmetic and
# in memory, measured on the operations torch actually runs.
from collections.abc import Callable, Sequence  # noqa: E402

from ._validation import check_callable  # noqa: E402

__all__ += ["ComputeCost", "measure_compute"]

_MATMULS = {"mm": 0, "addmm": 1, "bmm": 0, "baddbmm": 1, "mv": 0, "addmv": 1, "dot": 0, "vdot": 0}
_REDUCTIONS = {"sum", "mean", "amax", "amin", "max", "min", "logsumexp", "prod", "norm", "linalg_vector_norm",
               "_softmax", "_log_softmax", "_softmax_backward_data", "_log_softmax_backward_data"}
_COPIES = {"clone", "copy", "copy_", "_to_copy", "fill", "fill_", "zero", "zero_", "zeros_like", "ones_like",
           "empty_like", "full_like", "lift_fresh", "alias", "detach"}


def _matmul_ops(name: str, args: tuple) -> int:
    """``2 m k n`` for a product of an ``m x k`` and a ``k x n`` matrix (batched and vector forms too)."""
    first = _MATMULS[name]
    a, b = args[first], args[first + 1]
    if name in ("dot", "vdot"):
        return 2 * a.numel()
    if name in ("mv", "addmv"):
        return 2 * a.shape[0] * a.shape[1]
    if name in ("bmm", "baddbmm"):
        return 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
    return 2 * a.shape[0] * a.shape[1] * b.shape[1]


@dataclass(frozen=True)
class ComputeCost:
    """Arithmetic of the forward and the backward pass, and the bytes autograd keeps between them.

    ``forward_ops`` counts everything ``loss_fn`` computes, with or without an
    autograd graph (sampling passes included); ``backward_ops`` what
    ``loss.backward()`` computes; ``saved_bytes`` the distinct storage that
    autograd saves for the backward pass (activations), not counting the
    tensors passed as ``exclude`` (the parameters, which are in memory anyway).
    """

    forward_ops: int
    backward_ops: int
    saved_bytes: int

    @property
    def total_ops(self) -> int:
        return self.forward_ops + self.backward_ops


def measure_compute(loss_fn: Callable[[], Tensor], exclude: Sequence[Tensor] = ()) -> ComputeCost:
    r"""Count the arithmetic of ``loss_fn()`` and of its backward pass, and the memory saved between them.

    The count follows the operations torch dispatches (a
    ``TorchDispatchMode``), with one convention for all of them:

    * a matrix product of an :math:`m \times k` and a :math:`k \times n`
      matrix costs :math:`2mkn` (one multiplication and one addition per term);
    * an elementwise operation (tagged ``pointwise`` by torch) costs one per
      output element, a reduction (sum, log-sum-exp, softmax, ...) one per
      input element;
    * views, indexing, copies and allocations cost nothing.

    The counts depend only on the shapes, so they are the same on every
    machine; they measure arithmetic, not time.  Memory is the total size of
    the distinct storages that autograd saves for the backward pass
    (``torch.autograd.graph.saved_tensors_hooks``), excluding the storages of
    ``exclude``.  ``loss_fn`` must return a scalar with a graph.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    check_callable(loss_fn, "loss_fn")
    skip = {t.untyped_storage().data_ptr() for t in exclude}

    class _Count(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # nothing here is compiled; without this, entering the mode imports torch._dynamo (about 1 s)
            return False

        def __init__(self) -> None:
            super().__init__()
            self.ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            out = func(*args, **(kwargs or {}))
            name = func.overloadpacket.__name__
            if name in _MATMULS:
                self.ops += _matmul_ops(name, args)
            elif name in _REDUCTIONS:
                self.ops += args[0].numel()
            elif name not in _COPIES and torch.Tag.pointwise in func.tags:
                first = out[0] if isinstance(out, (tuple, list)) else out
                self.ops += first.numel() if isinstance(first, Tensor) else 0
            return out

    saved: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in skip:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    forward = _Count()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), forward:
        loss = loss_fn()
    if not isinstance(loss, Tensor) or loss.numel() != 1 or not loss.requires_grad:
        raise ValueError("loss_fn must return a scalar tensor with an autograd graph")
    backward = _Count()
    with backward:
        loss.backward()
    return ComputeCost(forward.ops, backward.ops, sum(saved.values()))
