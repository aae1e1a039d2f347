r"""One source of randomness for the whole book.

Every random number the book draws comes from one integer, the *book seed*,
read from the environment variable ``EBM_SEED`` (0 when unset).  A page never
seeds anything itself: it asks for a *stream*, a small index of its own
choosing, and gets a generator seeded with

.. math::
    \text{seed\_for}(k) = \text{book\_seed} \times \text{STRIDE} + k,
    \qquad 0 \le k < \text{STRIDE} = 1\,000\,003,

so different streams of one book seed never share a seed, and
``EBM_SEED=7 make test`` re-runs every experiment of the book on other random
numbers.  With ``EBM_SEED`` unset, ``generator(k)`` is exactly
``torch.Generator().manual_seed(k)``.

* :func:`generator` -- a seeded ``torch.Generator`` (``torch.randn(..., generator=g)``);
* :func:`numpy_rng` and :func:`python_rng` -- the same stream for numpy and ``random``;
* :func:`sweep` -- the streams ``first, ..., first + count - 1``, for measuring a
  tendency over several seeds inside one cell.

Library functions that draw random numbers take ``stream: int = 0`` and draw
from :func:`generator`.  This module imports nothing heavy at import time
(torch and numpy load inside the functions), so ``import ebm_utils`` stays light.
Introduced on the page "How this book checks itself".
"""
from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

from ._validation import check_int

if TYPE_CHECKING:  # pragma: no cover - type names only
    import numpy
    import torch

__all__ = ["ENV_VAR", "STRIDE", "book_seed", "seed_for", "generator", "numpy_rng", "python_rng", "sweep"]

ENV_VAR = "EBM_SEED"
STRIDE = 1_000_003


def book_seed() -> int:
    """The book seed: ``int(os.environ["EBM_SEED"])``, or 0 when the variable is unset.

    Raises:
        ValueError: naming ``EBM_SEED`` if its value is not a non-negative integer.
    """
    raw = os.environ.get(ENV_VAR, "0")
    text = raw.strip()
    if not text.isdecimal() or not text.isascii():
        raise ValueError(f"{ENV_VAR} must be a non-negative integer, got {raw!r}")
    return int(text)


def seed_for(stream: int = 0) -> int:
    r"""The seed of ``stream`` under the book seed: ``book_seed() * STRIDE + stream``."""
    return book_seed() * STRIDE + check_int(stream, "stream", 0, STRIDE - 1)


def generator(stream: int = 0) -> torch.Generator:
    """A ``torch.Generator`` seeded for ``stream`` (``manual_seed(stream)`` when ``EBM_SEED`` is unset)."""
    import torch

    return torch.Generator().manual_seed(seed_for(stream))


def numpy_rng(stream: int = 0) -> numpy.random.Generator:
    """A ``numpy.random.Generator`` (PCG64) seeded for ``stream``."""
    import numpy

    return numpy.random.default_rng(seed_for(stream))


def python_rng(stream: int = 0, salt: str = "") -> random.Random:
    """A ``random.Random`` seeded for ``stream``.

    ``salt`` (a short text) splits one stream into independent ones, as the
    derivation checker does for the steps of one chain (``"step 2"``).
    """
    if not isinstance(salt, str):
        raise TypeError(f"salt must be a string, got {type(salt).__name__}")
    if not salt:
        return random.Random(seed_for(stream))
    return random.Random(f"{seed_for(stream)}:{salt}")  # str seeds hash with sha512: stable


def sweep(count: int, first: int = 0) -> list[int]:
    """The streams ``first, ..., first + count - 1``: one run per stream, to measure a tendency.

    A page that states "in at least 9 of 10 runs" loops over ``sweep(10)``
    and asserts the fraction; under another ``EBM_SEED`` every run changes.
    """
    check_int(count, "count", 1)
    check_int(first, "first", 0, STRIDE - count)
    return list(range(first, first + count))
