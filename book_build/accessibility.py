"""Accessibility fixes of the theme's HTML that axe-core asks for.

pydata-sphinx-theme (under sphinx-book-theme 1.3.0) makes every sidebar entry
with sub-pages a ``<details>`` whose ``<summary>`` holds only a decorative
chevron: a screen reader announces an unnamed button (axe-core rule
``summary-name``, impact *serious*).  This extension names each one after the
entry it opens ("Show the sections of 1.1 Learning energies"), by rewriting the
sidebar's ``<nav>`` of every written page once the build has finished (the theme
renders the sidebar from its own functions, out of an extension's reach).

It also

* gives the entries of the bibliography the ``listitem`` role: docutils marks them
  ``doc-biblioentry`` (a role ARIA has deprecated) inside a ``role="list"``, and a
  list without list items is a *critical* axe violation (``aria-required-children``);
* darkens links inside admonitions (exercises, notes) in the light theme, where the
  theme's blue falls below 4.5:1 contrast (``color-contrast``, *serious*).

``tests/site`` runs axe-core on every page.
"""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"
CSS = "ebm-accessibility.css"

# <a class="reference internal" href="...">Title</a><details ...><summary><span class="toctree-toggle"
_ENTRY = re.compile(r'(<a\b[^>]*>)(?P<title>(?:(?!</?a\b).)*?)</a>(?P<between>\s*<details\b[^>]*>\s*)<summary>', re.S)
# a caption heading put inside <summary> (the theme's other layout)
_CAPTION = re.compile(r'<summary>(?P<caption>\s*<p\b[^>]*class="[^"]*caption[^"]*"[^>]*>(?P<title>.*?)</p>)', re.S)
_TAGS = re.compile(r"<[^>]+>")


def _label(title_html: str) -> str:
    text = " ".join(html.unescape(_TAGS.sub("", title_html)).split())
    return html.escape(f"Show the sections of {text}" if text else "Show the sections", quote=True)


def name_summaries(toctree_html: str) -> str:
    """Give every unnamed ``<summary>`` of a sidebar an ``aria-label``."""
    out = _ENTRY.sub(lambda m: f'{m.group(1)}{m.group("title")}</a>{m.group("between")}'
                     f'<summary aria-label="{_label(m.group("title"))}">', toctree_html)
    out = _CAPTION.sub(lambda m: f'<summary aria-label="{_label(m.group("title"))}">{m.group("caption")}', out)
    return out.replace("<summary>", '<summary aria-label="Show the sections">')


def fix_roles(body: str) -> str:
    """Bibliography entries as list items of their ``role="list"`` (docutils says ``doc-biblioentry``)."""
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


_SIDEBAR = re.compile(r'(<nav class="[^"]*\bbd-docs-nav\b[^"]*"[^>]*>)(.*?)(</nav>)', re.S)


def name_sidebar_summaries(page_html: str) -> str:
    """:func:`name_summaries` applied to the sidebar navigation of a whole page only."""
    return _SIDEBAR.sub(lambda m: m.group(1) + name_summaries(m.group(2)) + m.group(3), page_html)


def _on_page(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if "body" in context:
        context["body"] = fix_roles(context["body"])


def _on_finished(app: Any, exception: Exception | None) -> None:
    """Rewrite the sidebar of every written page (the theme renders it from its own functions)."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for page in out.rglob("*.html"):
        if "_static" in page.relative_to(out).parts:
            continue
        text = page.read_text(encoding="utf-8")
        fixed = name_sidebar_summaries(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def _add_static(app: Any, config: Any) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _add_static)
    app.add_css_file(CSS)
    app.connect("html-page-context", _on_page, priority=900)
    app.connect("build-finished", _on_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
