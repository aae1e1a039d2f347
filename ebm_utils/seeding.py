"""Placeholder of the book's single source of randomness (replaced by the full module on merge)."""
from __future__ import annotations

import os

ENV_VAR = "EBM_SEED"
STRIDE = 1_000_003


def book_seed() -> int:
    raw = os.environ.get(ENV_VAR, "0")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_VAR} must be a non-negative integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{ENV_VAR} must be a non-negative integer, got {raw!r}")
    return value


def seed_for(stream: int = 0) -> int:
    if isinstance(stream, bool) or not isinstance(stream, int) or not 0 <= stream < STRIDE:
        raise ValueError(f"stream must be an int in [0, {STRIDE}), got {stream!r}")
    return book_seed() * STRIDE + stream
