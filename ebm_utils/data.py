"""Small seeded toy data sets, generated locally (no downloads).

Each function returns a float64 tensor of shape ``[n, 2]`` and is fully
determined by its ``stream`` of the book's seed (:mod:`ebm_utils.seeding`).
Used by chapter 1.1 (pages (d), (e), (f) and (g)).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from . import seeding
from ._validation import check_int, check_nonnegative, check_positive

__all__ = ["ring", "two_moons", "spiral"]


def _check(n: int, noise: float) -> None:
    check_int(n, "n")
    check_nonnegative(noise, "noise")


def ring(n: int, radius: float = 1.0, noise: float = 0.05, stream: int = 0) -> Tensor:
    """Points on a circle of ``radius`` plus isotropic Gaussian noise of std ``noise``."""
    _check(n, noise)
    check_positive(radius, "radius")
    g = seeding.generator(stream)
    theta = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    pts = radius * torch.stack([theta.cos(), theta.sin()], dim=1)
    return pts + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)


def two_moons(n: int, noise: float = 0.05, stream: int = 0) -> Tensor:
    """The two interleaved half circles of the classic toy set, ``n`` points in all."""
    _check(n, noise)
    g = seeding.generator(stream)
    upper = torch.rand(n, generator=g, dtype=torch.float64) < 0.5
    t = math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    x = torch.where(upper, t.cos(), 1 - t.cos())
    y = torch.where(upper, t.sin(), 0.5 - t.sin())
    pts = torch.stack([x, y], dim=1)
    return pts + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)


def spiral(n: int, turns: float = 1.5, noise: float = 0.03, stream: int = 0) -> Tensor:
    """An Archimedean spiral r = t / (2 pi turns), t in [0, 2 pi turns], radius up to 1."""
    _check(n, noise)
    check_positive(turns, "turns")
    g = seeding.generator(stream)
    t = 2 * math.pi * turns * torch.rand(n, generator=g, dtype=torch.float64).sqrt()
    r = t / (2 * math.pi * turns)
    pts = torch.stack([r * t.cos(), r * t.sin()], dim=1)
    return pts + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
