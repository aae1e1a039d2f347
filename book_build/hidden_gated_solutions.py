"""Hide gated solutions (``solution-start`` ... ``solution-end``) in the students' edition.

sphinx-exercise 1.2.1 drops a ``solution-start`` directive when ``hide_solutions``
is true but keeps its ``solution-end`` node and everything between the two:
the HTML writer then fails on the unknown ``solution_end_node``, and the code
cells of the solution would stay visible.  This extension makes
``solution-start`` leave a marker in that case and removes the marker, the
matching ``solution-end`` and everything between them.  With
``hide_solutions`` false nothing changes.
"""
from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node


class hidden_solution_start(nodes.Element):
    """Where a hidden gated solution begins (removed before writing)."""


class SolutionStartOrMarker(SolutionStartDirective):
    def run(self) -> list[nodes.Node]:
        out = super().run()  # keeps sphinx-exercise's gated bookkeeping
        if self.env.app.config.hide_solutions:
            return [hidden_solution_start()]
        return out


class RemoveHiddenGatedSolutions(SphinxTransform):
    default_priority = 9  # before sphinx-exercise merges gated solutions (10)

    def apply(self, **kwargs: Any) -> None:
        if not self.config.hide_solutions:
            return
        for start in list(self.document.findall(hidden_solution_start)):
            parent = start.parent
            i = parent.index(start)
            end = next((k for k in range(i + 1, len(parent)) if isinstance(parent[k], solution_end_node)), None)
            if end is None:
                raise ValueError(f"solution-start without a solution-end at the same level: {start.source}")
            for child in list(parent.children[i : end + 1]):
                parent.remove(child)


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx_exercise")
    app.add_directive("solution-start", SolutionStartOrMarker, override=True)
    app.add_node(hidden_solution_start)
    app.add_transform(RemoveHiddenGatedSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
