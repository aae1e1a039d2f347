"""Argument checks shared by the public functions of :mod:`ebm_utils`: their one home.

Every check raises with a message that names the argument and says what is
wrong; none of them converts or broadcasts silently.  A wrong *type* raises
``TypeError``, a right type with a wrong *value* or shape raises ``ValueError``,
and a label outside its range raises ``IndexError``.

The module imports torch and sympy inside the checks that need them, so that
light modules (:mod:`ebm_utils.seeding`) can use the scalar checks without
loading either.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover - type names only
    import sympy as sp
    import torch
    from torch import Tensor

Reduction = Literal["none", "sum", "mean"]
_REDUCTIONS = ("none", "sum", "mean")


# ---------------------------------------------------------------- Python scalars
def check_int(value: object, name: str, minimum: int | None = 1, maximum: int | None = None) -> int:
    """An ``int`` (not a bool) in ``[minimum, maximum]`` (either bound may be None)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def _as_float(value: object, name: str) -> float:
    """A real Python number, or a one-element tensor, as a float."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got bool")
    if isinstance(value, Real):
        return float(value)
    import torch

    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        return float(value.detach())
    raise TypeError(f"{name} must be a real number, got {type(value).__name__}")


def check_positive(value: object, name: str) -> float:
    """A positive, finite real scalar (a Python number or a one-element tensor), as a float."""
    v = _as_float(value, name)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {v}")
    return v


def check_nonnegative(value: object, name: str) -> float:
    """A finite real scalar that is at least 0, as a float."""
    v = _as_float(value, name)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite non-negative number, got {v}")
    return v


def check_interval(low: object, high: object) -> tuple[float, float]:
    """Two finite reals with ``low < high``."""
    lo, hi = _as_float(low, "low"), _as_float(high, "high")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite low < high, got [{lo}, {hi}]")
    return lo, hi


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """One of a few strings."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_instance(value: object, types: type | tuple[type, ...], name: str) -> Any:
    """An instance of ``types`` (a class or a tuple of classes)."""
    if not isinstance(value, types):
        wanted = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise TypeError(f"{name} must be an instance of {wanted}, got {type(value).__name__}")
    return value


def check_callable(value: object, name: str) -> Any:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def check_beta(beta: object) -> float | Tensor:
    """beta must be positive and finite; a scalar tensor is kept (it may carry a gradient)."""
    check_positive(beta, "beta")
    return beta  # type: ignore[return-value]


def check_margin(margin: object, name: str = "margin") -> float | Tensor:
    """A finite non-negative margin; a scalar tensor is kept (it may carry a gradient)."""
    m = _as_float(margin, name)
    if math.isnan(m) or m < 0:
        raise ValueError(f"{name} must be a non-negative number, got {m}")
    if math.isinf(m):
        raise ValueError(f"{name} must be finite, got {m}")
    return margin  # type: ignore[return-value]


def check_reduction(reduction: object) -> Reduction:
    return check_choice(reduction, "reduction", _REDUCTIONS)  # type: ignore[return-value]


# ---------------------------------------------------------------- tensors
def check_float_tensor(x: object, name: str) -> Tensor:
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_int_tensor(x: object, name: str) -> Tensor:
    """An integer tensor (not bool, float or complex)."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of integers, got {type(x).__name__}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got dtype {x.dtype}")
    return x


def check_vector(w: object, size: int, name: str = "w") -> Tensor:
    """A floating-point tensor of shape ``(size,)`` (a flat parameter vector)."""
    w = check_float_tensor(w, name)
    if w.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {tuple(w.shape)}")
    return w


def check_rows(x: object, width: int, name: str) -> Tensor:
    """A floating-point tensor of shape ``[B, width]`` with ``B >= 1``."""
    x = check_float_tensor(x, name)
    if x.dim() != 2 or x.shape[1] != width or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape [B, {width}] with B >= 1, got {tuple(x.shape)}")
    return x


def check_labels(labels: object, n: int, name: str = "labels") -> Tensor:
    """Integer labels with values in ``[0, n)``, as int64."""
    t = check_int_tensor(labels, name)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
        raise IndexError(
            f"{name} must lie in [0, {n - 1}] for {n} labels, got values in "
            f"[{int(t.min())}, {int(t.max())}]"
        )
    return t.long()


def check_batch(sizes: dict[str, int]) -> int:
    """The common batch size of several arguments: equal sizes, or 1 (broadcast)."""
    big = {s for s in sizes.values() if s != 1}
    if len(big) > 1:
        shown = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(f"batch sizes must be equal or 1, got {shown}")
    return big.pop() if big else 1


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


def check_energies_target(energies: object, target: object) -> tuple[Tensor, Tensor]:
    """Energies ``[..., n]`` and integer labels ``[...]`` with values in ``[0, n)``."""
    e = check_float_tensor(energies, "energies")
    if e.dim() < 1 or e.shape[-1] < 1:
        raise ValueError(f"energies must have a last dimension of labels, got shape {tuple(e.shape)}")
    t = check_int_tensor(target, "target")
    if t.shape != e.shape[:-1]:
        raise ValueError(
            f"target must have shape {tuple(e.shape[:-1])} (energies without the label "
            f"dimension), got {tuple(t.shape)}"
        )
    return e, check_labels(t, e.shape[-1], "target")


def check_negative(negative: object, target: Tensor, n: int) -> Tensor:
    """Incorrect labels: the shape of ``target``, in ``[0, n)``, never equal to the correct label."""
    neg = check_int_tensor(negative, "negative")
    if neg.shape != target.shape:
        raise ValueError(
            f"negative must have the shape of target {tuple(target.shape)}, got {tuple(neg.shape)}"
        )
    neg = check_labels(neg, n, "negative")
    if bool((neg == target).any()):
        raise ValueError("a negative label equals the correct label of its example")
    return neg


def check_dim(x: Tensor, dim: object) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if not -x.dim() <= dim < max(x.dim(), 1):
        raise IndexError(f"dim {dim} is out of range for a tensor with {x.dim()} dimensions")
    return dim


def check_two_labels(e: Tensor, what: str) -> None:
    """``energies`` must offer at least one incorrect label besides the correct one."""
    if e.shape[-1] < 2:
        raise ValueError(
            f"{what} needs at least 2 labels (a correct and an incorrect one), got {e.shape[-1]}"
        )


def check_generator(generator: object) -> torch.Generator | None:
    import torch

    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


# ---------------------------------------------------------------- sympy
def check_symbols(args: Iterable[object]) -> tuple[sp.Symbol, ...]:
    """The argument list of a lambdified function: sympy Symbols only."""
    import sympy as sp

    out = tuple(args)
    for a in out:
        if not isinstance(a, sp.Symbol):
            raise TypeError(f"arguments must be sympy Symbols, got {a!r}")
    return out


# ---------------------------------------------------------------- reductions
def reduce(loss: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean()
