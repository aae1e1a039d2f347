"""book_build.hidden_gated_solutions: gated solutions hidden in the students' edition."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from sphinx.application import Sphinx


DOC = """Title
=====

.. exercise::
   :label: ex-one

   Compute something.

.. solution-start:: ex-one
   :class: dropdown

Text of the solution.

.. code-block:: python

   secret_solution_code = 42

.. solution-end::

After the solution.
"""


def build(tmp_path: Path, hide: bool, extensions: list[str]) -> tuple[str, str]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(f"extensions = {extensions!r}\nhide_solutions = {hide}\n")
    (src / "index.rst").write_text(DOC)
    warnings = io.StringIO()
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                 status=None, warning=warnings, freshenv=True)
    app.build()
    # several Sphinx apps in one process re-register docutils nodes: not about this page
    real = [w for w in warnings.getvalue().splitlines() if "is already registered" not in w]
    return (tmp_path / "out" / "index.html").read_text(), "\n".join(real)


@pytest.mark.parametrize("hide", [False, True])
def test_gated_solution_builds(tmp_path: Path, hide: bool) -> None:
    html, warnings = build(tmp_path, hide, ["sphinx_exercise", "book_build.hidden_gated_solutions"])
    assert "WARNING" not in warnings and "ERROR" not in warnings, warnings
    assert "Compute something." in html and "After the solution." in html
    assert ("secret_solution_code" in html) is (not hide)
    assert ("Text of the solution." in html) is (not hide)


def test_without_the_extension_the_students_edition_fails(tmp_path: Path) -> None:
    """The bug being worked around: sphinx-exercise alone cannot hide a gated solution."""
    with pytest.raises(NotImplementedError, match="solution_end_node"):
        build(tmp_path, True, ["sphinx_exercise"])
