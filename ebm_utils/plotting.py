"""The book's figure style: one look for every page.

``use_book_style()`` at the top of a page sets readable defaults and makes
inline figures PNG (nbval compares SVG output but not PNG, so PNG figures keep
the strict notebook tests stable).  ``figure()`` returns a figure and axes
with the style applied.  Introduced on the page "How this book checks itself".
"""
from __future__ import annotations

from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt

__all__ = ["BOOK_STYLE", "use_book_style", "figure", "COLORS"]

#: Colour-blind-safe palette (Okabe & Ito), in the order lines are drawn.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

BOOK_STYLE: dict[str, Any] = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    # an opaque white background keeps figures legible in the HTML dark mode
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "savefig.dpi": 150,
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "axes.titlesize": "medium",
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
    "svg.hashsalt": "ebm-book",
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` and make inline figures PNG (retina)."""
    mpl.rcParams.update(BOOK_STYLE)
    try:  # only inside IPython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
    except Exception:  # pragma: no cover - outside a notebook
        pass


def figure(ncols: int = 1, nrows: int = 1, **kwargs: Any) -> tuple[plt.Figure, Any]:
    """``plt.subplots`` with the book's style and a width that grows with ``ncols``."""
    if ncols < 1 or nrows < 1:
        raise ValueError(f"need at least one row and column, got {nrows}x{ncols}")
    mpl.rcParams.update(BOOK_STYLE)
    w, h = BOOK_STYLE["figure.figsize"]
    kwargs.setdefault("figsize", (min(w * ncols * 0.75 + 1.6, 12.0), h * nrows))
    return plt.subplots(nrows, ncols, **kwargs)
