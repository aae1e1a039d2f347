"""Argument checks shared by the public functions of :mod:`ebm_utils`.

Every check raises with a message that names the argument and says what is
wrong; none of them converts or broadcasts silently.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Literal

import torch
from torch import Tensor

Reduction = Literal["none", "sum", "mean"]
_REDUCTIONS = ("none", "sum", "mean")


def check_float_tensor(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_pair(energy_pos: object, energy_neg: object) -> tuple[Tensor, Tensor]:
    """Two energies of one shape and one dtype (no silent broadcasting or promotion)."""
    pos = check_float_tensor(energy_pos, "energy_pos")
    neg = check_float_tensor(energy_neg, "energy_neg")
    if pos.shape != neg.shape:
        raise ValueError(
            f"energy_pos and energy_neg must have the same shape, got "
            f"{tuple(pos.shape)} and {tuple(neg.shape)}"
        )
    if pos.dtype != neg.dtype:
        raise TypeError(
            f"energy_pos and energy_neg must have the same dtype, got {pos.dtype} and {neg.dtype}"
        )
    return pos, neg


def _as_float(value: object, name: str) -> float:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        return float(value.detach())
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def check_beta(beta: object) -> float | Tensor:
    """beta must be positive and finite; a scalar tensor is kept (it may carry a gradient)."""
    b = _as_float(beta, "beta")
    if not (math.isfinite(b) and b > 0):
        raise ValueError(f"beta must be positive and finite, got {b}")
    return beta  # type: ignore[return-value]


def check_margin(margin: object, name: str = "margin") -> float | Tensor:
    m = _as_float(margin, name)
    if math.isnan(m) or m < 0:
        raise ValueError(f"{name} must be a non-negative number, got {m}")
    if math.isinf(m):
        raise ValueError(f"{name} must be finite, got {m}")
    return margin  # type: ignore[return-value]


def check_reduction(reduction: object) -> Reduction:
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be a string, got {type(reduction).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction  # type: ignore[return-value]


def check_energies_target(energies: object, target: object) -> tuple[Tensor, Tensor]:
    """Energies ``[..., n]`` and integer labels ``[...]`` with values in ``[0, n)``."""
    e = check_float_tensor(energies, "energies")
    if e.dim() < 1 or e.shape[-1] < 1:
        raise ValueError(f"energies must have a last dimension of labels, got shape {tuple(e.shape)}")
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor of integer labels, got {type(target).__name__}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target must be an integer tensor, got dtype {target.dtype}")
    if target.shape != e.shape[:-1]:
        raise ValueError(
            f"target must have shape {tuple(e.shape[:-1])} (energies without the label "
            f"dimension), got {tuple(target.shape)}"
        )
    n = e.shape[-1]
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= n):
        raise IndexError(
            f"target labels must lie in [0, {n - 1}] for {n} labels, got values in "
            f"[{int(target.min())}, {int(target.max())}]"
        )
    return e, target.long()


def check_dim(x: Tensor, dim: object) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if not -x.dim() <= dim < max(x.dim(), 1):
        raise IndexError(f"dim {dim} is out of range for a tensor with {x.dim()} dimensions")
    return dim


def reduce(loss: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean()


def check_positive(value: object, name: str) -> float:
    """A positive, finite real scalar (a Python number or a one-element tensor), as a float."""
    v = _as_float(value, name)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {v}")
    return v


def check_two_labels(e: Tensor, what: str) -> None:
    """``energies`` must offer at least one incorrect label besides the correct one."""
    if e.shape[-1] < 2:
        raise ValueError(
            f"{what} needs at least 2 labels (a correct and an incorrect one), got {e.shape[-1]}"
        )
