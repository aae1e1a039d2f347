"""Every page of the built book, opened in headless Chromium.

Asserted on each page: it loads without console errors or uncaught exceptions;
it requests nothing outside the local server; MathJax has typeset every
formula (no raw TeX left, no MathJax error); every image has loaded.  The
search page finds "partition function".  Screenshots of two pages are saved
in ``_build/screenshots/``.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from .conftest import ARTIFACTS, html_pages

PAGES = html_pages()
IDS = [str(p.relative_to(p.parents[2])) for p in PAGES]

WAIT_FOR_MATHJAX = """async () => {
    if (!document.querySelector('.math')) return true;
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
        await new Promise(r => setTimeout(r, 50));
    }
    await MathJax.startup.promise;
    return true;
}"""

UNTYPESET_MATH = """() => [...document.querySelectorAll('.math')]
    .filter(e => !e.querySelector('mjx-container'))
    .map(e => e.textContent.slice(0, 80))"""

MATHJAX_ERRORS = "() => [...document.querySelectorAll('mjx-merror')].map(e => e.textContent)"

LOAD_ALL_IMAGES = """async () => {
    const imgs = [...document.querySelectorAll('img')];
    imgs.forEach(i => { i.loading = 'eager'; });
    await Promise.all(imgs.map(i => i.decode().catch(() => null)));
    return imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
}"""


def open_page(browser, url: str, dark: bool = False):  # type: ignore[no-untyped-def]
    """Open ``url``; return the page and the problems seen while loading it."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, color_scheme="dark" if dark else "light"
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))

    def guard(route):  # type: ignore[no-untyped-def]
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith("data:") or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            problems.append(f"remote request: {route.request.url}")
            route.abort()

    page.route("**/*", guard)
    page.goto(url, wait_until="load")
    page.evaluate(WAIT_FOR_MATHJAX)
    return page, problems


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_page_in_a_real_browser(browser, book_url: str, built_html: Path, path: Path) -> None:
    url = f"{book_url}/{path.relative_to(built_html).as_posix()}"
    page, problems = open_page(browser, url)
    try:
        unloaded = page.evaluate(LOAD_ALL_IMAGES)
        untypeset = page.evaluate(UNTYPESET_MATH)
        merrors = page.evaluate(MATHJAX_ERRORS)
        title = page.title()
    finally:
        page.context.close()
    assert not problems, f"{path.name}: {problems}"
    assert not untypeset, f"{path.name}: formulas left as raw TeX: {untypeset[:3]}"
    assert not merrors, f"{path.name}: MathJax errors: {merrors[:3]}"
    assert not unloaded, f"{path.name}: images that did not load: {unloaded}"
    assert title, f"{path.name}: page has no title"


def test_search_finds_partition_function(browser, book_url: str) -> None:
    page, problems = open_page(browser, f"{book_url}/search.html?q=partition+function")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=15000)
        hits = page.evaluate("() => document.querySelectorAll('#search-results ul.search li').length")
    finally:
        page.context.close()
    assert not problems, problems
    assert hits >= 1


@pytest.mark.parametrize(
    "name, path, dark",
    [
        ("intro", "book/intro.html", False),
        ("how_this_book_checks_itself-dark", "book/how_this_book_checks_itself.html", True),
    ],
)
def test_screenshots(browser, book_url: str, name: str, path: str, dark: bool) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page, problems = open_page(browser, f"{book_url}/{path}", dark=dark)
    try:
        page.evaluate(LOAD_ALL_IMAGES)
        out = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(out), full_page=True)
    finally:
        page.context.close()
    assert not problems, problems
    assert out.stat().st_size > 10_000


def test_the_browser_checks_can_fail(browser, book_url: str) -> None:
    """A page with raw TeX, a broken image and a script error is caught by the same checks."""
    bad = (
        "<html><head><title>bad</title></head><body>"
        '<span class="math">\\(x^2\\)</span><img src="missing.png">'
        "<script>undefinedFunction()</script></body></html>"
    )
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(bad)
    untypeset = page.evaluate(UNTYPESET_MATH)
    unloaded = page.evaluate(LOAD_ALL_IMAGES)
    context.close()
    assert untypeset == ["\\(x^2\\)"]
    assert unloaded == ["missing.png"]
    assert errors and "undefinedFunction" in errors[0]
