"""Keep the HTML book self-contained: no remote scripts, no duplicate scripts.

Jupyter Book 1.x always loads sphinx-thebe, which (with Sphinx 7) registers its
inline configuration twice; the second copy redeclares a ``const`` and raises a
JavaScript error on every page.  The book does not offer live kernels, so this
extension drops sphinx-thebe's scripts (including the remote Thebe URL they
name) from every page.
"""
from __future__ import annotations

from typing import Any


def _is_thebe(script: Any) -> bool:
    filename = str(getattr(script, "filename", "") or "")
    body = str(getattr(script, "attributes", {}).get("body", "") or "")
    return "thebe" in filename or "THEBE_JS_URL" in body


def drop_thebe_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [s for s in scripts if not _is_thebe(s)]


def setup(app: Any) -> dict[str, Any]:
    # run after sphinx-thebe and the theme have filled in the page's scripts
    app.connect("html-page-context", drop_thebe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
