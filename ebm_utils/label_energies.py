r"""Energies over a finite set of labels (chapters 1.2 and 1.3).

Each model is an energy :math:`F_W(x, y)` of an input :math:`x \in \mathbb{R}^d`
and a label :math:`y \in \{0, \dots, n-1\}` (the text numbers labels from 1;
the code from 0), with the interface of :mod:`ebm_utils.energies`:
``model(w, x, y)`` for ``x`` of shape ``[B, d]`` and labels ``y`` of shape
``[B]``, and ``model.energies(w, x)`` for all ``n`` labels, ``[B, n]``.

* :class:`LinearLabelEnergy`:
  :math:`F_W(x, y) = -(A x + b)_y`, the energy whose Gibbs distribution is a
  softmax classifier with logits :math:`\beta (A x + b)` (page 1.2(ii));
* :class:`MLPLabelEnergy`:
  :math:`F_W(x, y) = v^\top \tanh(A x + B e_y + c)`, a network that takes the
  label as an input (its one-hot vector :math:`e_y`), so every label costs
  one forward pass of its own, and one backward pass for its gradient
  (pages 1.2(iii), 1.3(d)(i));
* :class:`TinyLabelEnergy`:
  :math:`F_W(x, y) = v_y^\top \tanh(A x + b) + c_y`, a small nonlinear energy
  on which chapter 1.3 tests its chain rule for pairwise losses.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ._validation import check_int
from .energies import LabelEnergy, unflatten

__all__ = ["LinearLabelEnergy", "MLPLabelEnergy", "TinyLabelEnergy"]


class LinearLabelEnergy(LabelEnergy):
    r"""The linear energy :math:`F_W(x, y) = -(A x + b)_y`, with :math:`W = (A, b)`.

    ``w`` holds the ``n x d`` matrix :math:`A` (row-major) followed by the
    ``n`` biases :math:`b`.  Its NLL loss is the softmax cross-entropy of the
    logits :math:`\beta (A x + b)` (page 1.2(ii)).
    """

    def __init__(self, x_dim: int, n_labels: int) -> None:
        super().__init__(x_dim, n_labels)
        self.num_params = self.n_labels * self.x_dim + self.n_labels

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """The views ``(A, b)`` of a flat parameter vector."""
        a, b = unflatten(self.check_w(w), [(self.n_labels, self.x_dim), (self.n_labels,)])
        return a, b

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        """Entries of :math:`A` ~ N(0, scale^2 / d); biases 0."""
        a = torch.randn(self.n_labels, self.x_dim, generator=g, dtype=torch.float64)
        a = a * scale / math.sqrt(self.x_dim)
        return torch.cat([a.reshape(-1), torch.zeros(self.n_labels, dtype=torch.float64)])

    def _energies(self, w: Tensor, x: Tensor) -> Tensor:
        a, b = self.unpack(w)
        return -(x @ a.T + b)

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        a, b = self.unpack(w)
        return -((a[y] * x).sum(-1) + b[y])


class MLPLabelEnergy(LabelEnergy):
    r"""A one-hidden-layer network of input and label, :math:`F_W(x, y) = v^\top \tanh(A x + B e_y + c)`.

    :math:`W = (A, B, c, v)` with :math:`A \in \mathbb{R}^{h \times d}`,
    :math:`B \in \mathbb{R}^{h \times n}` (column :math:`y` embeds label
    :math:`y`), :math:`c, v \in \mathbb{R}^h`.  The label enters the network,
    so the energies of different labels share no computation but :math:`A x`.
    """

    def __init__(self, x_dim: int, n_labels: int, hidden: int = 8) -> None:
        super().__init__(x_dim, n_labels)
        self.hidden = check_int(hidden, "hidden")
        h = self.hidden
        self.num_params = h * self.x_dim + h * self.n_labels + 2 * h

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The views ``(A, B, c, v)`` of a flat parameter vector."""
        h, d, n = self.hidden, self.x_dim, self.n_labels
        a, b, c, v = unflatten(self.check_w(w), [(h, d), (h, n), (h,), (h,)])
        return a, b, c, v

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        h, d, n = self.hidden, self.x_dim, self.n_labels
        parts = [
            torch.randn(h * d, generator=g, dtype=torch.float64) * scale / math.sqrt(d),
            torch.randn(h * n, generator=g, dtype=torch.float64) * scale,
            torch.randn(h, generator=g, dtype=torch.float64) * scale * 0.1,
            torch.randn(h, generator=g, dtype=torch.float64) * scale / math.sqrt(h),
        ]
        return torch.cat(parts)

    def _energies(self, w: Tensor, x: Tensor) -> Tensor:
        a, b, c, v = self.unpack(w)
        pre = (x @ a.T)[:, None, :] + b.T[None, :, :] + c  # [B, n, h]
        return torch.tanh(pre) @ v

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        a, b, c, v = self.unpack(w)
        return torch.tanh(x @ a.T + b.T[y] + c) @ v


class TinyLabelEnergy(LabelEnergy):
    r"""A small nonlinear label energy, :math:`F_W(x, y) = v_y^\top \tanh(A x + b) + c_y`.

    :math:`A \in \mathbb{R}^{h \times d}`, :math:`b \in \mathbb{R}^h`, and
    :math:`v_y \in \mathbb{R}^h`, :math:`c_y \in \mathbb{R}` for each of
    ``n_labels >= 2`` answers.  Chapter 1.3 assembles the gradient of a
    pairwise loss from derived coefficients and this model's
    :meth:`grad_w` (:func:`ebm_utils.chain_rule.chain_rule_gradient`) and
    compares it with autograd of the whole loss.
    """

    def __init__(self, x_dim: int = 2, n_labels: int = 3, hidden: int = 4) -> None:
        super().__init__(x_dim, n_labels)
        self.hidden = check_int(hidden, "hidden")
        if self.n_labels < 2:
            raise ValueError(f"a pairwise loss needs at least 2 labels, got n_labels={n_labels}")
        h, d, n = self.hidden, self.x_dim, self.n_labels
        self.num_params = h * d + h + n * h + n

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The views ``(A, b, V, c)`` of a flat parameter vector (row ``y`` of ``V`` is :math:`v_y`)."""
        h, d, n = self.hidden, self.x_dim, self.n_labels
        a, b, v, c = unflatten(self.check_w(w), [(h, d), (h,), (n, h), (n,)])
        return a, b, v, c

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        """Standard-normal parameters times ``scale``."""
        return scale * torch.randn(self.num_params, generator=g, dtype=torch.float64)

    def _hidden(self, w: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, b, v, c = self.unpack(w)
        return torch.tanh(x.to(w.dtype) @ a.T + b), v, c  # [B, h]

    def _energies(self, w: Tensor, x: Tensor) -> Tensor:
        hidden, v, c = self._hidden(w, x)
        return hidden @ v.T + c

    def _energy(self, w: Tensor, x: Tensor | None, y: Tensor) -> Tensor:
        hidden, v, c = self._hidden(w, x)
        return (hidden * v[y]).sum(dim=1) + c[y]
