r"""Small energies over a finite set of labels, for chapter 1.2.

Each model is an energy :math:`F_W(x, y)` of an input :math:`x \in \mathbb{R}^d`
and a label :math:`y \in \{0, \dots, n-1\}` (the text numbers labels from 1;
the code from 0), written as a *cost*: low energy means compatible.  The
parameters :math:`W` are one flat float64 vector ``w``, so that
:func:`ebm_utils.checks.check_gradient` and :func:`ebm_utils.training.train`
can use the models directly.

* :class:`LinearLabelEnergy`:
  :math:`F_W(x, y) = -(A x + b)_y`, the energy whose Gibbs distribution is a
  softmax classifier with logits :math:`\beta (A x + b)`;
* :class:`MLPLabelEnergy`:
  :math:`F_W(x, y) = v^\top \tanh(A x + B e_y + c)`, a network that takes the
  label as an input (its one-hot vector :math:`e_y`), so every label costs
  one forward pass of its own, and one backward pass for its gradient.

Every model counts the energies it evaluates (:attr:`LabelEnergy.energy_evals`)
and, separately, those evaluated while autograd records a graph for ``w``
(:attr:`LabelEnergy.graph_evals`): each of those is backpropagated once when
the loss is differentiated, so it is one *gradient evaluation*
:math:`\partial F_W(x, y') / \partial W`.  Page 1.2(iii) uses the counts to
compare the exact NLL gradient with its sampled estimate.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["LabelEnergy", "LinearLabelEnergy", "MLPLabelEnergy"]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class LabelEnergy:
    """Base class: an energy of (input, label) with flat parameters and counters.

    Subclasses define :attr:`num_params` and :meth:`_all_energies`, the
    energies of all ``n`` labels for a batch of inputs.
    """

    num_params: int

    def __init__(self, in_dim: int, n_labels: int) -> None:
        self.in_dim = _positive_int(in_dim, "in_dim")
        self.n_labels = _positive_int(n_labels, "n_labels")
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
    def _check_w(self, w: object) -> Tensor:
        if not isinstance(w, Tensor) or not w.is_floating_point():
            raise TypeError("w must be a floating-point torch.Tensor")
        if w.shape != (self.num_params,):
            raise ValueError(f"w must have shape ({self.num_params},), got {tuple(w.shape)}")
        return w

    def _check_x(self, x: object) -> Tensor:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError("x must be a floating-point torch.Tensor")
        if x.dim() not in (1, 2) or x.shape[-1] != self.in_dim:
            raise ValueError(f"x must have shape [{self.in_dim}] or [B, {self.in_dim}], got {tuple(x.shape)}")
        return x

    # ------------------------------------------------------------ public API
    def init_params(self, seed: int = 0, scale: float = 1.0) -> Tensor:
        """Seeded float64 parameters, entries ~ N(0, scale^2 / fan_in)."""
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"scale must be positive and finite, got {scale!r}")
        g = torch.Generator().manual_seed(seed)
        return self._init(g, scale)

    def energies(self, w: Tensor, x: Tensor) -> Tensor:
        """Energies of all ``n`` labels: shape ``[n]`` for ``x`` of shape ``[d]``, else ``[B, n]``.

        Counts ``n`` energy evaluations per input.
        """
        w = self._check_w(w)
        x = self._check_x(x)
        xb = x if x.dim() == 2 else x[None]
        self._count(xb.shape[0] * self.n_labels, w)
        out = self._all_energies(w, xb)
        return out if x.dim() == 2 else out[0]

    def energy(self, w: Tensor, x: Tensor, labels: Tensor) -> Tensor:
        """Energies :math:`F_W(x, y)` of the given labels only (one evaluation per label).

        ``x`` of shape ``[d]`` with ``labels`` of any shape, or ``x`` of shape
        ``[B, d]`` with ``labels`` of shape ``[B, ...]``.
        """
        w = self._check_w(w)
        x = self._check_x(x)
        if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.dtype == torch.bool:
            raise TypeError("labels must be an integer torch.Tensor")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.n_labels):
            raise IndexError(f"labels must lie in [0, {self.n_labels - 1}]")
        if x.dim() == 2 and (labels.dim() == 0 or labels.shape[0] != x.shape[0]):
            raise ValueError("with a batch of inputs, labels must have shape [B, ...]")
        self._count(labels.numel(), w)
        return self._some_energies(w, x, labels.long())

    # ------------------------------------------------------------ to override
    def _init(self, g: torch.Generator, scale: float) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def _all_energies(self, w: Tensor, x: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def _some_energies(self, w: Tensor, x: Tensor, labels: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError


class LinearLabelEnergy(LabelEnergy):
    r"""The linear energy :math:`F_W(x, y) = -(A x + b)_y`, with :math:`W = (A, b)`.

    ``w`` holds the ``n x d`` matrix :math:`A` (row-major) followed by the
    ``n`` biases :math:`b`.  Its NLL loss is the softmax cross-entropy of the
    logits :math:`\beta (A x + b)` (page 1.2(ii)).
    """

    def __init__(self, in_dim: int, n_labels: int) -> None:
        super().__init__(in_dim, n_labels)
        self.num_params = n_labels * in_dim + n_labels

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """The views ``(A, b)`` of a flat parameter vector."""
        w = self._check_w(w)
        n, d = self.n_labels, self.in_dim
        return w[: n * d].reshape(n, d), w[n * d :]

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        a = torch.randn(self.n_labels, self.in_dim, generator=g, dtype=torch.float64)
        a = a * scale / math.sqrt(self.in_dim)
        return torch.cat([a.reshape(-1), torch.zeros(self.n_labels, dtype=torch.float64)])

    def _all_energies(self, w: Tensor, x: Tensor) -> Tensor:
        a, b = self.unpack(w)
        return -(x @ a.T + b)

    def _some_energies(self, w: Tensor, x: Tensor, labels: Tensor) -> Tensor:
        a, b = self.unpack(w)
        if x.dim() == 1:
            return -(a[labels] @ x + b[labels])
        rows = a[labels]  # [B, ..., d]
        xs = x.reshape(x.shape[0], *([1] * (labels.dim() - 1)), x.shape[1])
        return -((rows * xs).sum(-1) + b[labels])


class MLPLabelEnergy(LabelEnergy):
    r"""A one-hidden-layer network of input and label, :math:`F_W(x, y) = v^\top \tanh(A x + B e_y + c)`.

    :math:`W = (A, B, c, v)` with :math:`A \in \mathbb{R}^{h \times d}`,
    :math:`B \in \mathbb{R}^{h \times n}` (column :math:`y` embeds label
    :math:`y`), :math:`c, v \in \mathbb{R}^h`.  The label enters the network,
    so the energies of different labels share no computation but :math:`A x`.
    """

    def __init__(self, in_dim: int, n_labels: int, hidden: int = 8) -> None:
        super().__init__(in_dim, n_labels)
        self.hidden = _positive_int(hidden, "hidden")
        h = hidden
        self.num_params = h * in_dim + h * n_labels + 2 * h

    def unpack(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The views ``(A, B, c, v)`` of a flat parameter vector."""
        w = self._check_w(w)
        h, d, n = self.hidden, self.in_dim, self.n_labels
        i = 0
        a = w[i : i + h * d].reshape(h, d)
        i += h * d
        b = w[i : i + h * n].reshape(h, n)
        i += h * n
        c = w[i : i + h]
        v = w[i + h :]
        return a, b, c, v

    def _init(self, g: torch.Generator, scale: float) -> Tensor:
        h, d, n = self.hidden, self.in_dim, self.n_labels
        parts = [
            torch.randn(h * d, generator=g, dtype=torch.float64) * scale / math.sqrt(d),
            torch.randn(h * n, generator=g, dtype=torch.float64) * scale,
            torch.randn(h, generator=g, dtype=torch.float64) * scale * 0.1,
            torch.randn(h, generator=g, dtype=torch.float64) * scale / math.sqrt(h),
        ]
        return torch.cat(parts)

    def _all_energies(self, w: Tensor, x: Tensor) -> Tensor:
        a, b, c, v = self.unpack(w)
        pre = (x @ a.T)[:, None, :] + b.T[None, :, :] + c  # [B, n, h]
        return torch.tanh(pre) @ v

    def _some_energies(self, w: Tensor, x: Tensor, labels: Tensor) -> Tensor:
        a, b, c, v = self.unpack(w)
        emb = b.T[labels]  # [..., h]
        ax = x @ a.T  # [h] or [B, h]
        if x.dim() == 2:
            ax = ax.reshape(x.shape[0], *([1] * (labels.dim() - 1)), self.hidden)
        return torch.tanh(ax + emb + c) @ v
