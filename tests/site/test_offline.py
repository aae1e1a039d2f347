"""The HTML book is self-contained: no page loads anything from the network."""
from __future__ import annotations

import functools
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from .conftest import html_pages

REMOTE = re.compile(r"^(https?:)?//", re.IGNORECASE)
CSS_REMOTE_URL = re.compile(r"url\(\s*['\"]?(https?:)?//", re.IGNORECASE)
LOADING_ATTRS = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "embed": ("src",),
    "object": ("data",),
}
LOADING_LINK_RELS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch"}


class _AssetCollector(HTMLParser):
    """What a page loads (assets, inline CSS), and which of its images lack alt text."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline_css: list[str] = []
        self._in_style = False
        self.images = 0
        self.missing_alt: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images += 1
            if not a.get("alt", "").strip():
                self.missing_alt.append(a.get("src", "?"))
        for name in LOADING_ATTRS.get(tag, ()):
            if a.get(name):
                self.assets.extend(u.strip().split(" ")[0] for u in a[name].split(","))
        if tag == "link" and LOADING_LINK_RELS & set(a.get("rel", "").lower().split()):
            self.assets.append(a.get("href", ""))
        if "style" in a:
            self.inline_css.append(a["style"])
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.inline_css.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False


PAGES = html_pages()


@functools.lru_cache(maxsize=None)
def parsed(page: Path) -> _AssetCollector:
    """Each page is parsed once for all the tests that read it."""
    parser = _AssetCollector()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_the_book_has_pages(built_html: Path) -> None:
    assert len(PAGES) >= 5, f"expected the book's pages under {built_html}/book"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(p.parents[2])) for p in PAGES])
def test_page_loads_no_remote_asset(built_html: Path, page: Path) -> None:
    parser = parsed(page)
    remote = [u for u in parser.assets if REMOTE.match(u)]
    remote += [c for c in parser.inline_css if CSS_REMOTE_URL.search(c)]
    assert not remote, f"{page.name} loads remote assets: {remote}"
    assert parser.assets, "no assets parsed at all: is the parser broken?"


def test_stylesheets_load_no_remote_asset(built_html: Path) -> None:
    offenders = [
        str(css.relative_to(built_html))
        for css in built_html.glob("_static/**/*.css")
        if CSS_REMOTE_URL.search(css.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not offenders, f"stylesheets with remote url(): {offenders}"


def test_math_is_rendered_by_a_bundled_mathjax(built_html: Path) -> None:
    assert (built_html / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_the_checker_flags_remote_assets() -> None:
    """The parser above must be able to fail."""
    parser = _AssetCollector()
    parser.feed(
        '<script src="https://cdn.example.org/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/a.css">'
        '<div style="background: url(https://example.org/a.png)"></div>'
        '<a href="https://example.org">a link is not a load</a>'
    )
    assert [u for u in parser.assets if REMOTE.match(u)] == [
        "https://cdn.example.org/x.js",
        "//fonts.example.org/a.css",
    ]
    assert any(CSS_REMOTE_URL.search(c) for c in parser.inline_css)


def has_transparent_pixels(png: Path) -> bool:
    """Whether any pixel of the image is not fully opaque (alpha below 255)."""
    with Image.open(png) as img:
        if img.mode not in ("RGBA", "RGBa", "LA", "La", "PA") and "transparency" not in img.info:
            return False  # no alpha channel and no transparent colour
        return img.convert("RGBA").getchannel("A").getextrema()[0] < 255


def test_figures_are_opaque_for_dark_mode(built_html: Path) -> None:
    """Notebook figures carry their own white background, so they stay legible in dark mode."""
    figures = sorted((built_html / "_images").glob("*.png"))
    assert figures, "no figures in the built book"
    transparent = [f.name for f in figures if has_transparent_pixels(f)]
    assert not transparent, f"figures with transparent pixels: {transparent}"


def test_transparency_checker_can_fail(tmp_path: Path) -> None:
    opaque, one_clear_pixel, palette = tmp_path / "o.png", tmp_path / "c.png", tmp_path / "p.png"
    Image.new("RGBA", (4, 4), (255, 255, 255, 255)).save(opaque)
    img = Image.new("RGBA", (4, 4), (255, 255, 255, 255))
    img.putpixel((2, 3), (0, 0, 0, 254))
    img.save(one_clear_pixel)
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).convert("P").save(palette, transparency=0)
    assert [has_transparent_pixels(p) for p in (opaque, one_clear_pixel, palette)] == [False, True, True]


def test_every_image_has_alt_text(built_html: Path) -> None:
    missing, count = [], 0
    for page in PAGES:
        parser = parsed(page)
        missing += [f"{page.name}: {src}" for src in parser.missing_alt]
        count += parser.images
    assert count >= 20, "expected the book's figures"
    assert not missing, f"images without alt text: {missing}"


def test_alt_text_checker_can_fail() -> None:
    parser = _AssetCollector()
    parser.feed('<img src="a.png" alt="a figure"><img src="b.png"><img src="c.png" alt=" ">')
    assert parser.missing_alt == ["b.png", "c.png"] and parser.images == 3
