r"""The one interface every energy of the book implements: :math:`F_W(x, y)`.

An energy is a *cost*: low energy means that the output :math:`y` is
compatible with the input :math:`x`.  Every model of the book, trainable or
analytic, over labels or over continuous outputs, is called the same way::

    model = SomeEnergy(...)            # the architecture
    w = model.init(stream=0)           # its parameters, from the book's seed
    model(w, x, y)                     # F_W(x_i, y_i) for every example: shape [B]
    model.grad_w(w, x, y)              # dF_W(x_i, y_i)/dW per example: shape [B, P]
    model.grad_y(w, x, y)              # dF_W(x_i, y_i)/dy_i (continuous y): shape [B, y_dim]

* ``x`` is a ``[B, x_dim]`` float tensor of inputs, or ``None`` for an
  unconditional energy :math:`F_W(y)` (then ``model.x_dim is None``);
* ``y`` is a ``[B, y_dim]`` float tensor for a :class:`ContinuousEnergy`, and a
  ``[B]`` integer tensor of labels in ``[0, n)`` for a :class:`LabelEnergy`;
* ``x`` and ``y`` have the same batch size ``B``, or one of them has batch 1
  and is broadcast ("one input, many candidate outputs").

**Why ``w`` is one flat float64 vector.**  The parameters :math:`W` are not
hidden inside an ``nn.Module``: they are one 1-D float64 tensor of length
:attr:`Energy.num_params`, passed to every call.  The book's checks need
exactly that: :func:`ebm_utils.checks.check_gradient` perturbs one coordinate
at a time for central differences (float64, so that the comparison is
meaningful to ~1e-7), ``torch.autograd.gradcheck`` and
``torch.autograd.functional.jacobian`` take a tensor, the chain-rule pages of
chapter 1.3 write :math:`\partial F / \partial W` as a row of length ``P``, and
:func:`ebm_utils.training.train` updates ``[w]``.  Each model's ``unpack``
returns named views of ``w`` for reading it.

Kinds of energies (the models live in :mod:`ebm_utils.continuous_energies` and
:mod:`ebm_utils.label_energies`):

* :class:`ContinuousEnergy` -- :math:`y \in \mathbb{R}^{d}`; adds :meth:`ContinuousEnergy.grad_y`,
  the gradient that inference by descent, Langevin sampling and score
  matching need;
* :class:`LabelEnergy` -- :math:`y \in \{0, \dots, n-1\}`; adds
  :meth:`LabelEnergy.energies`, all ``n`` energies of each input at once;
* :class:`LatentEnergy` -- a continuous energy :math:`G_W(x, y, z)` whose
  output is the pair :math:`(y, z)` (``z`` in the last ``z_dim`` columns);
  :meth:`LatentEnergy.energy_table` evaluates it on a grid of latent values,
  to minimise (:math:`\min_z G`) or marginalise (the free energy) :math:`z`.

Every model counts the energies it evaluates (:attr:`Energy.energy_evals`)
and, separately, those evaluated while autograd records a graph for ``w``
(:attr:`Energy.graph_evals`): each of those is one gradient
:math:`\partial F_W(x, y) / \partial W` when the loss is backpropagated.
Pages 1.2(iii) and 1.3(d)(i) count costs this way (:mod:`ebm_utils.costs`).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor

from . import seeding
from ._validation import (
    check_batch,
    check_int,
    check_labels,
    check_positive,
    check_rows,
    check_vector,
)

__all__ = ["Energy", "ContinuousEnergy", "LabelEnergy", "LatentEnergy", "unflatten"]


def unflatten(w: Tensor, shapes: Sequence[tuple[int, ...]]) -> list[Tensor]:
    """Consecutive views of the flat vector ``w`` with the given shapes (``()`` for a scalar)."""
    sizes = [math.prod(s) for s in shapes]
    if sum(sizes) != w.shape[0]:
        raise ValueError(f"the shapes {list(shapes)} need {sum(sizes)} parameters, w has {w.shape[0]}")
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(w[start : start + size].reshape(shape))
        start += size
    return out


class Energy(ABC):
    r"""An energy :math:`F_W(x, y)` with flat float64 parameters; see the module docstring.

    Subclasses set :attr:`num_params`, define :meth:`check_y`, :meth:`_init`
    (the parameter draw) and :meth:`_energy` (the energies of a validated,
    broadcast batch).
    """

    num_params: int
    x_dim: int | None

    def __init__(self, x_dim: int | None) -> None:
        self.x_dim = None if x_dim is None else check_int(x_dim, "x_dim")
        self.reset_counts()

    # ------------------------------------------------------------ counters
    def reset_counts(self) -> None:
        """Set both evaluation counters to zero."""
        self.energy_evals = 0
        self.graph_evals = 0

    def _count(self, pairs: int, w: Tensor) -> None:
        self.energy_evals += pairs
        if torch.is_grad_enabled() and w.requires_grad:
            self.graph_evals += pairs

    # ------------------------------------------------------------ checks
    def check_w(self, w: object) -> Tensor:
        """``w`` as a float tensor of shape ``(num_params,)``, or a clear error."""
        return check_vector(w, self.num_params)

    def check_x(self, x: object) -> Tensor | None:
        """``x`` as a ``[B, x_dim]`` float tensor (``None`` for an unconditional energy)."""
        if self.x_dim is None:
            if x is not None:
                raise ValueError(f"{type(self).__name__} is unconditional (x_dim is None): pass x=None")
            return None
        if x is None:
            raise ValueError(f"{type(self).__name__} needs an input x of shape [B, {self.x_dim}]")
        return check_rows(x, self.x_dim, "x")

    @abstractmethod
    def check_y(self, y: object) -> Tensor:
        """``y`` as a validated batch of outputs."""

    def _batch(self, w: object, x: object, y: object) -> tuple[Tensor, Tensor | None, Tensor]:
        """Validate ``w, x, y`` and broadcast a batch of 1 against the other batch."""
        w, x, y = self.check_w(w), self.check_x(x), self.check_y(y)
        if x is not None:
            b = check_batch({"x": x.shape[0], "y": y.shape[0]})
            x = x.expand(b, x.shape[1])
            y = y.expand(b, *y.shape[1:])
        return w, x, y

    # ------------------------------------------------------------ the interface
    def __call__(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        """The energies :math:`F_W(x_i, y_i)`, shape ``[B]``."""
        w, x, y = self._batch(w, x, y)
        self._count(y.shape[0], w)
        return self._energy(w, x, y)

    def init(self, stream: int = 0, scale: float = 1.0) -> Tensor:
        """Parameters drawn from :func:`ebm_utils.seeding.generator` ``(stream)``.

        A fresh float64 leaf tensor of shape ``(num_params,)`` without
        ``requires_grad``; ``scale`` multiplies the spread of the draw.
        """
        scale = check_positive(scale, "scale")
        w = self._init(seeding.generator(stream), scale)
        assert w.shape == (self.num_params,) and w.dtype == torch.float64
        return w

    def grad_w(self, w: Tensor, x: Tensor | None, y: Tensor, create_graph: bool = False) -> Tensor:
        r"""Per-example gradients :math:`\partial F_W(x_i, y_i) / \partial W`, shape ``[B, P]``.

        Computed by ``torch.autograd.functional.jacobian`` of :meth:`__call__`;
        ``create_graph=True`` keeps the graph (for a loss built on these gradients).
        """
        w = self.check_w(w)
        base = w if create_graph else w.detach()
        return torch.autograd.functional.jacobian(
            lambda v: self(v, x, y), base, create_graph=create_graph, vectorize=True
        )

    @abstractmethod
    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        """Draw the float64 parameters from ``g``."""

    @abstractmethod
    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        """The ``[B]`` energies of validated ``w``, ``x`` (``[B, x_dim]`` or None) and ``y``."""


class ContinuousEnergy(Energy):
    r"""An energy of a continuous output :math:`y \in \mathbb{R}^{\text{y\_dim}}`."""

    def __init__(self, y_dim: int, x_dim: int | None = None) -> None:
        super().__init__(x_dim)
        self.y_dim = check_int(y_dim, "y_dim")

    def check_y(self, y: object) -> Tensor:
        """``y`` as a ``[B, y_dim]`` float tensor, or a clear error."""
        return check_rows(y, self.y_dim, "y")

    def grad_y(self, w: Tensor, x: Tensor | None, y: Tensor, create_graph: bool = False) -> Tensor:
        r"""Per-example gradients :math:`\nabla_y F_W(x_i, y_i)`, shape ``[B, y_dim]``.

        The gradient that gradient-descent inference (1.1(a), 1.1(h)) and
        Langevin sampling follow.  ``create_graph=True`` keeps the graph in
        ``w`` (score matching differentiates :math:`\nabla_y F` with respect to :math:`W`).
        """
        w, x, y = self._batch(w, x, y)
        y = y.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            e = self(w if create_graph else w.detach(), x, y)
            (g,) = torch.autograd.grad(e.sum(), y, create_graph=create_graph)
        return g


class LatentEnergy(ContinuousEnergy):
    r"""An energy :math:`G_W(x, y, z)` with a latent variable :math:`z \in \mathbb{R}^{\text{z\_dim}}`.

    It is a :class:`ContinuousEnergy` of the pair :math:`(y, z)`: the ``y``
    argument of :meth:`__call__` has ``y_dim = visible_dim + z_dim`` columns,
    the latent ones last, so :meth:`grad_y` returns
    :math:`(\nabla_y G, \nabla_z G)`.  The energy of the output alone is
    obtained by minimising, :math:`E(x, y) = \min_z G(x, y, z)`, or
    marginalising, :math:`F_\beta(x, y) = -\frac1\beta \log \int e^{-\beta G}\,dz`
    (page 1.1(h)); both start from :meth:`energy_table`.
    """

    def __init__(self, visible_dim: int, z_dim: int, x_dim: int | None = None) -> None:
        self.visible_dim = check_int(visible_dim, "visible_dim")
        self.z_dim = check_int(z_dim, "z_dim")
        super().__init__(visible_dim + z_dim, x_dim)

    def join(self, y: Tensor, z: Tensor) -> Tensor:
        """The argument ``[B, y_dim]`` of :meth:`__call__`: outputs ``[B, visible_dim]`` then latents ``[B, z_dim]``."""
        y = check_rows(y, self.visible_dim, "y")
        z = check_rows(z, self.z_dim, "z")
        b = check_batch({"y": y.shape[0], "z": z.shape[0]})
        return torch.cat([y.expand(b, -1), z.expand(b, -1)], dim=1)

    def energy_table(self, w: Tensor, x: Tensor | None, y: Tensor, z: Tensor, chunk: int = 1 << 16) -> Tensor:
        r""":math:`G_W(x_i, y_i, z_k)` for every output ``y_i`` (``[B, visible_dim]``) and latent ``z_k`` (``[K, z_dim]``).

        Returns ``[B, K]``; ``x`` is ``[B, x_dim]``, ``[1, x_dim]`` or ``None``.
        Evaluated about ``chunk`` pairs at a time (memory stays bounded); it
        costs ``B * K`` energy evaluations.
        """
        y = check_rows(y, self.visible_dim, "y")
        z = check_rows(z, self.z_dim, "z")
        x = self.check_x(x)
        b, k = y.shape[0], z.shape[0]
        if x is not None:
            check_batch({"x": x.shape[0], "y": b})
        step = max(1, check_int(chunk, "chunk") // k)
        rows = []
        for start in range(0, b, step):
            yb = y[start : start + step]
            nb = yb.shape[0]
            xb = x if x is None or x.shape[0] == 1 else x[start : start + step].repeat_interleave(k, 0)
            pairs = torch.cat([yb.repeat_interleave(k, 0), z.repeat(nb, 1)], dim=1)
            rows.append(self(w, xb, pairs).reshape(nb, k))
        return torch.cat(rows)


class LabelEnergy(Energy):
    r"""An energy of an input :math:`x \in \mathbb{R}^{\text{x\_dim}}` and a label :math:`y \in \{0, \dots, n-1\}`.

    The text numbers labels from 1, the code from 0.  Subclasses also define
    :meth:`_energies`, the energies of all ``n`` labels of a batch of inputs.
    """

    def __init__(self, x_dim: int, n_labels: int) -> None:
        super().__init__(check_int(x_dim, "x_dim"))
        self.n_labels = check_int(n_labels, "n_labels")

    def check_y(self, y: object) -> Tensor:
        """``y`` as ``[B]`` int64 labels in ``[0, n_labels)``, or a clear error."""
        labels = check_labels(y, self.n_labels, "y")
        if labels.dim() != 1 or labels.shape[0] < 1:
            raise ValueError(f"y must have shape [B] (one label per input), got {tuple(labels.shape)}")
        return labels

    def energies(self, w: Tensor, x: Tensor) -> Tensor:
        """Energies of all ``n`` labels, shape ``[B, n]``; counts ``n`` evaluations per input."""
        w, x = self.check_w(w), self.check_x(x)
        self._count(x.shape[0] * self.n_labels, w)
        return self._energies(w, x)

    @abstractmethod
    def _energies(self, w: Tensor, x: Tensor) -> Tensor:
        """The ``[B, n]`` energies of validated ``w`` and ``x``."""
