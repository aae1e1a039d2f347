"""The book's figure style: one look for every page.

``use_book_style()`` at the top of a page sets readable defaults and makes
inline figures PNG (nbval compares SVG output but not PNG, so PNG figures keep
the strict notebook tests stable).  ``figure()`` returns a figure and axes
with the style applied.  Introduced on the page "How this book checks itself".

Colour is never the only carrier of meaning.  The style's property cycle
changes the line style together with the colour, so curves drawn with the
defaults differ in both; and :func:`colour_only_entries` finds the legend
entries of a figure that a reader could tell apart by colour alone.  Inside a
notebook, ``use_book_style()`` makes every inline figure pass through it: a
figure with such entries is not drawn, and the cell shows an error instead
(which the strict notebook tests then report).
"""
from __future__ import annotations

from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.collections import Collection, PathCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = ["BOOK_STYLE", "use_book_style", "figure", "COLORS", "LINESTYLES", "colour_only_entries"]

#: Colour-blind-safe palette (Okabe & Ito), in the order lines are drawn.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
#: Line styles drawn with the colours above, one for one: the n-th default curve
#: differs from the others in colour *and* dash pattern.
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3))]

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
    "axes.prop_cycle": mpl.cycler(color=COLORS) + mpl.cycler(linestyle=LINESTYLES),
    "axes.titlesize": "medium",
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
    "svg.hashsalt": "ebm-book",
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE`, make inline figures PNG (retina) and audit each one.

    The audit is :func:`colour_only_entries`: inside IPython, an inline figure
    with legend entries told apart by colour alone raises ``ValueError`` in
    place of its image.
    """
    mpl.rcParams.update(BOOK_STYLE)
    try:  # only inside IPython
        from IPython import get_ipython
        from matplotlib.figure import Figure
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
        shell = get_ipython()
    except Exception:  # pragma: no cover - outside a notebook
        return
    if shell is None:  # pragma: no cover - plain Python
        return
    formatter = shell.display_formatter.formatters["image/png"]
    draw = formatter.lookup_by_type(Figure)
    if getattr(draw, "audited", False):
        return

    def audited(fig: Figure, *args: Any, **kwargs: Any) -> Any:
        problems = colour_only_entries(fig)
        if problems:
            plt.close(fig)
            raise ValueError("colour is the only difference between legend entries: " + "; ".join(problems))
        return draw(fig, *args, **kwargs)

    audited.audited = True  # type: ignore[attr-defined]
    formatter.for_type(Figure, audited)


def _style_key(handle: Any) -> tuple[Any, ...] | None:
    """What, besides colour, tells this legend handle apart (None: not a data series)."""
    if isinstance(handle, ErrorbarContainer):
        handle = handle.lines[0]
    if isinstance(handle, BarContainer):
        handle = handle.patches[0] if handle.patches else None
    if isinstance(handle, Line2D):
        drawn = handle.get_linestyle() not in ("None", "none", "", " ") and handle.get_linewidth() > 0
        # the dash pattern itself: get_linestyle() reports every custom pattern as "--"
        _, seq = handle._unscaled_dash_pattern  # noqa: SLF001 (no public getter in matplotlib 3.11)
        dashes = (tuple(seq or ()), round(handle.get_linewidth(), 1)) if drawn else None
        marker = handle.get_marker()
        marker = None if marker in (None, "None", "none", "", " ") else (
            str(marker), handle.get_fillstyle(), str(handle.get_markerfacecolor()) == "none")
        return ("line", dashes, marker)
    if isinstance(handle, Patch):
        return ("patch", handle.get_hatch(), handle.get_linestyle(), handle.get_fill())
    if isinstance(handle, Collection):
        paths = handle.get_paths()  # a scatter's marker; other collections' paths are the data
        shape = tuple(paths[0].vertices.round(3).ravel()) if isinstance(handle, PathCollection) and paths else None
        hollow = len(handle.get_facecolor()) == 0
        return ("collection", type(handle).__name__, shape, hollow, handle.get_hatch(),
                tuple(handle.get_linestyle()[0][1] or ()) if handle.get_linestyle() else None)
    return None


def colour_only_entries(fig: plt.Figure) -> list[str]:
    """Pairs of legend entries of ``fig`` that differ in colour only.

    For each axes, the labelled artists (what ``ax.legend()`` would show) are
    compared on everything a reader can see without colour: line style and
    width, marker shape and fill, hatch, the kind of artist.  Two entries equal
    in all of these are reported as ``"<axes title>: 'a' and 'b'"``.  An empty
    list means every legend can be read in greyscale.
    """
    problems: list[str] = []
    for ax in fig.axes:
        seen: dict[tuple[Any, ...], str] = {}
        for handle, label in zip(*ax.get_legend_handles_labels()):
            key = _style_key(handle)
            if key is None:
                continue
            if key in seen:
                where = ax.get_title() or ax.get_ylabel() or "axes"
                problems.append(f"{where}: {seen[key]!r} and {label!r}")
            else:
                seen[key] = label
    return problems


def figure(ncols: int = 1, nrows: int = 1, **kwargs: Any) -> tuple[plt.Figure, Any]:
    """``plt.subplots`` with the book's style and a width that grows with ``ncols``."""
    if ncols < 1 or nrows < 1:
        raise ValueError(f"need at least one row and column, got {nrows}x{ncols}")
    mpl.rcParams.update(BOOK_STYLE)
    w, h = BOOK_STYLE["figure.figsize"]
    kwargs.setdefault("figsize", (min(w * ncols * 0.75 + 1.6, 12.0), h * nrows))
    return plt.subplots(nrows, ncols, **kwargs)
