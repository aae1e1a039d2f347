"""The book's figure style: colour is never the only carrier of meaning."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from ebm_utils.plotting import COLORS, LINESTYLES, colour_only_entries, figure  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_default_curves_differ_in_colour_and_dash_pattern():
    fig, ax = figure()
    for k in range(len(COLORS)):
        ax.plot([0, 1], [k, k + 1], label=f"curve {k}")
    assert colour_only_entries(fig) == []
    dashes = {tuple(line._unscaled_dash_pattern[1] or ()) for line in ax.get_lines()}
    assert len(dashes) == len(LINESTYLES) == len(COLORS)


@pytest.mark.parametrize("draw", [
    lambda ax, i: ax.plot([0, 1], [i, 0], "-", label=f"s{i}"),                       # same solid line
    lambda ax, i: ax.plot([0, 1], [i, 0], "o", label=f"s{i}"),                       # same marker, no line
    lambda ax, i: ax.plot([0, 1], [i, 0], ls=(0, (1, 3)), label=f"s{i}"),            # same custom dashes
    lambda ax, i: ax.scatter([0, 1], [i, 0], label=f"s{i}"),                         # same scatter marker
    lambda ax, i: ax.fill_between([0, 1], [i, 0], alpha=0.3, label=f"s{i}"),         # same plain band
    lambda ax, i: ax.hist([0.0, 1.0, float(i)], label=f"s{i}"),                      # same bars
    lambda ax, i: ax.errorbar([0, 1], [i, 0], yerr=0.1, fmt="s", label=f"s{i}"),     # same error bars
])
def test_entries_told_apart_by_colour_alone_are_reported(draw):
    fig, ax = figure()
    ax.set_title("panel")
    for i in range(2):
        draw(ax, i)
    assert colour_only_entries(fig) == ["panel: 's0' and 's1'"]


@pytest.mark.parametrize("draw", [
    lambda ax, i: ax.plot([0, 1], [i, 0], ["-", "--"][i], label=f"s{i}"),
    lambda ax, i: ax.plot([0, 1], [i, 0], ls=[(0, (1, 3)), (0, (5, 1, 1, 1))][i], label=f"s{i}"),
    lambda ax, i: ax.plot([0, 1], [i, 0], "-", lw=[1.0, 3.0][i], label=f"s{i}"),
    lambda ax, i: ax.plot([0, 1], [i, 0], "o", fillstyle=["full", "none"][i], label=f"s{i}"),
    lambda ax, i: ax.scatter([0, 1], [i, 0], marker="o^"[i], label=f"s{i}"),
    lambda ax, i: ax.fill_between([0, 1], [i, 0], hatch=[None, "//"][i], label=f"s{i}"),
    lambda ax, i: ax.plot([0, 1], [i, 0], label=f"s{i}"),  # the book's cycle: colour and dashes
])
def test_entries_with_another_visual_difference_pass(draw):
    fig, ax = figure()
    for i in range(2):
        draw(ax, i)
    assert colour_only_entries(fig) == []


def test_unlabelled_artists_and_other_axes_are_not_compared():
    fig, (a, b) = figure(ncols=2)
    a.plot([0, 1], [0, 1], "-", color="grey")  # no label: a guide line, not a series
    a.plot([0, 1], [1, 0], "-", label="data")
    b.plot([0, 1], [1, 0], "-", label="other panel")
    assert colour_only_entries(fig) == []


def _run(code: str) -> list[dict]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb.cells[0].outputs


def test_a_notebook_shows_an_error_instead_of_a_colour_only_figure():
    setup = ("import matplotlib.pyplot as plt\n"
             "from ebm_utils.plotting import figure, use_book_style\n"
             "use_book_style()\n"
             "fig, ax = figure()\n")
    bad = _run(setup + "ax.plot([0, 1], [0, 1], '-', label='a'); ax.plot([0, 1], [1, 0], '-', label='b')\nplt.show()")
    text = "".join(str(o) for o in bad)
    assert "colour is the only difference between legend entries" in text and "'a' and 'b'" in text
    assert not any("image/png" in o.get("data", {}) for o in bad)
    good = _run(setup + "ax.plot([0, 1], [0, 1], label='a'); ax.plot([0, 1], [1, 0], label='b')\nplt.show()")
    assert any("image/png" in o.get("data", {}) for o in good)
    assert "colour is the only" not in "".join(str(o) for o in good)
