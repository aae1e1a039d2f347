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
    first = " ".join(page_texts()[0].split())
    assert "Energy-Based Models, Executed" in first
    assert re.search(rf"Version {re.escape(build_info.book_version())} · commit ([0-9a-f]{{12}}(\+modified)?|unknown)",
                     first), first[:300]


def outline(pdf_reader: Any) -> list[tuple[str, int]]:
    """The PDF's bookmarks (Chromium makes them from the headings), flattened, with 1-based pages."""
    out: list[tuple[str, int]] = []

    def walk(items: Any) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append((squash(str(item.title)), pdf_reader.get_destination_page_number(item) + 1))

    walk(pdf_reader.outline)
    return out


def test_every_chapter_title_in_toc_order(pdf: Path, built_html: Path) -> None:
    titles = toc_titles(built_html)
    assert len(titles) >= 10
    whole = "".join(squash(t) for t in page_texts())
    missing = [t for t in titles if squash(t) not in whole]
    assert not missing, f"titles not in the PDF's text: {missing}"
    # each chapter's heading comes after the one before, in the bookmarks and in the pages
    headings, at, last_page = outline(reader()), -1, 0
    for title in titles:
        key = squash(re.split(r"[^\x20-\x7e]", title)[0])  # up to a formula, whose glyphs may differ
        # Chromium's bookmark of a wrapped heading repeats its first line before the whole title
        at = next((i for i in range(at + 1, len(headings)) if key in headings[i][0]), -1)
        assert at >= 0, f"no heading {title!r} in the PDF after the previous chapter: out of _toc.yml order?"
        assert headings[at][1] >= last_page, f"{title!r} on page {headings[at][1]}, before page {last_page}"
        last_page = headings[at][1]


def test_contents_give_the_page_each_chapter_starts_on(pdf: Path, built_html: Path) -> None:
    headings = outline(reader())
    # the contents run from their own heading's page to the page before the next heading's
    c = next(i for i, (t, _) in enumerate(headings) if t == "contents")
    contents = "\n".join(page_texts()[headings[c][1] - 1:headings[c + 1][1] - 1])
    lines = [(squash(m.group(1)), int(m.group(2))) for m in re.finditer(r"(?m)^(?!\d+ / \d+\s*$)(.*\S)\s+(\d+)\s*$", contents)]  # not the footers
    numbers = [n for _, n in lines]
    assert len(lines) >= 10 and numbers == sorted(numbers), lines[:20]
    at = -1
    for title in toc_titles(built_html):
        key = squash(re.split(r"[^\x20-\x7e]", title)[0])
        listed = next((n for t, n in lines if t.startswith(key)), None)
        at = next((i for i in range(at + 1, len(headings)) if key in headings[i][0]), -1)
        assert listed is not None and at >= 0, title
        assert listed == headings[at][1], f"{title!r}: contents say page {listed}, the heading is on {headings[at][1]}"


class _Code(HTMLParser):
    """The text of every ``<pre>`` block (code cells and their printed outputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag == "pre" and self.depth > 0

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


@functools.lru_cache(maxsize=1)
def code_text() -> str:
    """Squashed text of the code shown in the book: TeX inside Python source is code, not unrendered math."""
    parser = _Code()
    for page in html_pages():
        parser.feed(page.read_text(encoding="utf-8"))
    return squash("".join(parser.parts))


def raw_tex(texts: list[str], code: str) -> list[tuple[int, str]]:
    """(page, match) of raw TeX or MathJax errors on lines that are not code shown in the book."""
    bad = []
    for i, text in enumerate(texts):
        for line in text.splitlines():
            for m in RAW_TEX.finditer(line):
                if "Math input error" in m.group(0) or squash(line) not in code:
                    bad.append((i + 1, line.strip()[:80]))
    return bad


def test_no_raw_tex_or_math_error(pdf: Path, built_html: Path) -> None:
    bad = raw_tex(page_texts(), code_text())
    assert not bad, f"raw TeX or MathJax errors on pages: {bad[:10]}"


def test_tex_in_code_is_not_raw_math_but_tex_in_prose_is() -> None:
    code = squash('display(Math(rf"\\frac{{a}}{{b}}"))')
    assert raw_tex(['display(Math(rf"\\frac{{a}}{{b}}"))'], code) == []
    assert raw_tex(["the ratio \\frac{a}{b} in prose"], code) == [(1, "the ratio \\frac{a}{b} in prose")]
    assert raw_tex(["Math input error"], squash("Math input error"))


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
