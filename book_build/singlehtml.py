"""Let the single-page HTML builder (the source of the PDF, ``make pdf``) render folded cells.

myst-nb 1.4 registers its folded-cell node (``HideCodeCellNode``) for the
``html`` builder only, so ``singlehtml`` stops at the first folded cell.  This
extension registers the same visitors for ``singlehtml`` as well.
"""
from __future__ import annotations

from typing import Any


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("myst_nb")
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput, visit_HideCellInput

    visitors = (visit_HideCellInput, depart_HideCellInput)
    app.add_node(HideCodeCellNode, override=True, html=visitors, singlehtml=visitors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
