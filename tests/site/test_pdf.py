"""The PDF edition (``make pdf`` → ``_build/pdf/book.pdf``), read with pypdf.

Checked: a sane number of pages for the number of pages of the book; the first
page names the version and the commit; every chapter's title is in the text,
in ``_toc.yml`` order after the contents; no raw TeX and no MathJax error; at
least as many embedded images as the HTML book has figures.  Without the PDF the
tests skip (``make pdf`` needs Chromium), unless ``REQUIRE_BROWSER=1`` (``.ci/run``).
"""
from __future__ import annotations

import functools
import os
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from book_build import build_info

from .conftest import html_pages

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "_build" / "pdf" / "book.pdf"
RAW_TEX = re.compile(r"\\(frac|begin\{|end\{|left|right|mathbb|sum_|partial|beta\b)|\$\$|\\\(|\\\[|Math input error")


@functools.lru_cache(maxsize=1)
def reader() -> Any:
    from pypdf import PdfReader

    return PdfReader(PDF)


@functools.lru_cache(maxsize=1)
def page_texts() -> list[str]:
    return [unicodedata.normalize("NFKC", p.extract_text() or "") for p in reader().pages]


@pytest.fixture(scope="module")
def pdf() -> Path:
    if not PDF.is_file():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but there is no {PDF.relative_to(ROOT)}: run `make pdf`")
        pytest.skip(f"no {PDF.relative_to(ROOT)}: run `make pdf` (needs Chromium)")
    return PDF


def squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


class _Title(HTMLParser):
    """The text of a page's first ``<h1>`` (without its ``#`` permalink)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.text, self.done, self.skip = 0, "", False, 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "h1":
            self.depth = 1
        elif self.depth:
            self.depth += 1
            if tag == "a" and "headerlink" in (dict(attrs).get("class") or ""):
                self.skip = self.depth

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            if self.skip == self.depth:
                self.skip = 0
            self.depth -= 1
            if self.depth == 0:
                self.done = True

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip and not self.done:
            self.text += data


def toc_titles(site: Path) -> list[str]:
    """The title of every page after the first, in ``_toc.yml`` order, from the built HTML."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(ROOT / "_toc.yml")
    titles = []
    for doc in list(site_map.keys())[1:]:  # the root page is the PDF's opening, not a chapter
        page = site / f"{doc}.html"
        if page.is_file():
            p = _Title()
            p.feed(page.read_text(encoding="utf-8"))
            titles.append(" ".join(p.text.split()))
    return titles


def test_page_count_is_sane(pdf: Path) -> None:
    n, chapters = len(reader().pages), len(html_pages())
    assert chapters * 1 <= n <= chapters * 40, f"{n} PDF pages for {chapters} pages of the book"


def test_first_page_names_version_and_commit(pdf: Path) -> None:
    first = page_texts()[0]
    assert "Energy-Based Models, Executed" in first
    assert re.search(rf"Version {re.escape(build_info.book_version())} · commit ([0-9a-f]{{12}}(\+modified)?|unknown)",
                     first), first[:300]


def test_every_chapter_title_in_toc_order(pdf: Path, built_html: Path) -> None:
    titles = toc_titles(built_html)
    assert len(titles) >= 10
    texts = [squash(t) for t in page_texts()]
    whole = "".join(texts)
    missing = [t for t in titles if squash(t) not in whole]
    assert not missing, f"titles not in the PDF: {missing}"
    # after the contents (which list every title), each chapter starts after the one before
    contents_end = max(i for i, t in enumerate(texts[:10]) if squash(titles[-1]) in t or squash(titles[0]) in t)
    body = "".join(texts[contents_end + 1:])
    at = -1
    for title in titles:
        at = body.find(squash(title), at + 1)
        assert at >= 0, f"{title!r} is missing after the contents, or out of _toc.yml order"


def test_contents_have_page_numbers(pdf: Path) -> None:
    contents = next(t for t in page_texts()[:5] if "Contents" in t)
    numbers = [int(m) for m in re.findall(r"(?m)(\d+)\s*$", contents)]
    assert len(numbers) >= 5 and numbers == sorted(numbers), numbers[:20]


def test_no_raw_tex_or_math_error(pdf: Path) -> None:
    bad = [(i + 1, m.group(0)) for i, t in enumerate(page_texts()) for m in RAW_TEX.finditer(t)]
    assert not bad, f"raw TeX or MathJax errors on pages: {bad[:10]}"


def test_the_raw_tex_check_can_fail() -> None:
    for text in ("p = \\frac{1}{2}", "$$x$$", "Math input error", "\\(x\\)", "\\begin{aligned}"):
        assert RAW_TEX.search(text), text
    assert not RAW_TEX.search("p1 = 1/(1 + e−β(F2−F1))")


def embedded_images(pdf_reader: Any) -> int:
    """Distinct image objects drawn on the pages (directly or inside form XObjects)."""
    seen: set[Any] = set()

    def walk(resources: Any) -> None:
        xobjects = resources.get("/XObject") if resources else None
        if not xobjects:
            return
        for ref in xobjects.get_object().values():
            obj = ref.get_object()
            key = getattr(ref, "idnum", id(obj))
            if key in seen:
                continue
            seen.add(key)
            if obj.get("/Subtype") == "/Image":
                seen.add(("image", key))
            elif obj.get("/Subtype") == "/Form":
                walk(obj.get("/Resources"))

    for page in pdf_reader.pages:
        walk(page.get("/Resources"))
    return sum(1 for k in seen if isinstance(k, tuple))


def html_figures(site: Path) -> int:
    return len({m for p in html_pages() for m in re.findall(r'<img [^>]*src="[^"]*(_images/[^"]+)"',
                                                            p.read_text(encoding="utf-8"))})


def test_every_figure_is_in_the_pdf(pdf: Path, built_html: Path) -> None:
    figures = html_figures(built_html)
    assert figures >= 20
    assert embedded_images(reader()) >= figures, f"{embedded_images(reader())} images in the PDF, {figures} figures"
