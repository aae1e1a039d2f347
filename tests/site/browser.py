"""Open the pages of the built book in one headless Chromium, one tab per core.

Everything a test asserts about a page is collected here, in one pass over
the book: the tests read the reports, axe-core's accessibility audit included
(``axe-playwright-python`` ships axe-core in its wheel: no network).  Each tab
opens page after page, so its
renderer process and caches stay warm (a fresh tab per page costs about three
times the CPU).  Only conditions are awaited (the load event, MathJax's
typesetting promise, every image decoded), never a fixed delay.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

LOCAL_HOSTS = ("127.0.0.1", "localhost")

# Chromium resolves no other host and uses no proxy: a remote request fails at
# once, offline or not, and the request listener below reports it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

WAIT_FOR_MATHJAX = """async () => {
    if (!document.querySelector('.math')) return true;
    await MathJax.startup.promise;
    return true;
}"""
MATHJAX_READY = "() => !document.querySelector('.math') || !!(window.MathJax && MathJax.startup && MathJax.startup.promise)"

UNTYPESET_MATH = """() => [...document.querySelectorAll('.math')]
    .filter(e => !e.querySelector('mjx-container'))
    .map(e => e.textContent.slice(0, 80))"""

# MathJax's assistive MathML: a hidden MathML copy of every formula for screen readers
NO_ASSISTIVE_MML = "() => [...document.querySelectorAll('mjx-container')].filter(c => !c.querySelector('mjx-assistive-mml math')).length"

MATHJAX_ERRORS = "() => [...document.querySelectorAll('mjx-merror')].map(e => e.textContent)"

LOAD_ALL_IMAGES = """async () => {
    const imgs = [...document.querySelectorAll('img')];
    imgs.forEach(i => { i.loading = 'eager'; });
    await Promise.all(imgs.map(i => i.decode().catch(() => null)));
    return imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
}"""

SEARCH_HITS = "#search-results ul.search li"


@dataclass(frozen=True)
class AxeViolation:
    """One axe-core rule a page breaks, with how many elements break it."""

    rule: str
    impact: str  # minor, moderate, serious or critical
    nodes: int
    help: str
    targets: tuple[str, ...] = ()  # CSS selectors of the first offending elements


@dataclass
class PageReport:
    """What one page did in the browser."""

    url: str
    problems: list[str] = field(default_factory=list)  # console errors, exceptions, remote requests
    untypeset: list[str] = field(default_factory=list)
    mathjax_errors: list[str] = field(default_factory=list)
    unloaded_images: list[str] = field(default_factory=list)
    title: str = ""
    search_hits: int | None = None
    screenshot_bytes: int | None = None
    axe_violations: list[AxeViolation] | None = None  # None: not audited
    formulas_without_mathml: int = 0  # typeset formulas a screen reader cannot read
    seconds: float = 0.0  # how long the visit took (for diagnosis; nothing asserts on it)


def is_remote(url: str) -> bool:
    return not url.startswith(("data:", "blob:", "about:")) and urlparse(url).hostname not in LOCAL_HOSTS


@dataclass
class Visit:
    """One page to open, and what to do there besides the checks every page gets."""

    name: str
    url: str
    dark: bool = False
    search: bool = False
    screenshot: Path | None = None
    html: str | None = None  # page content to check instead of a URL
    axe: bool = False  # run axe-core's accessibility audit on the page


class _Tab:
    """One browser tab that opens page after page (its renderer and caches stay warm).

    Every console error, uncaught exception and remote request goes into the
    report of the page being visited.
    """

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.report = PageReport("")
        page.on("request", lambda r: self.report.problems.append(f"remote request: {r.url}")
                if is_remote(r.url) else None)
        page.on("console", lambda m: self.report.problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.report.problems.append(f"uncaught exception: {e}"))

    async def visit(self, v: Visit) -> PageReport:
        page = self.page
        self.report = report = PageReport(v.url)
        start = time.perf_counter()
        await page.emulate_media(color_scheme="dark" if v.dark else "light")
        if v.html is not None:
            await page.set_content(v.html, wait_until="load")
        else:
            await page.goto(v.url, wait_until="load")
            await page.wait_for_function(MATHJAX_READY)
            await page.evaluate(WAIT_FOR_MATHJAX)
        report.unloaded_images = await page.evaluate(LOAD_ALL_IMAGES)
        report.untypeset = await page.evaluate(UNTYPESET_MATH)
        report.mathjax_errors = await page.evaluate(MATHJAX_ERRORS)
        report.formulas_without_mathml = await page.evaluate(NO_ASSISTIVE_MML)
        report.title = await page.title()
        if v.axe:
            report.axe_violations = await audit(page)
        if v.search:
            await page.wait_for_selector(SEARCH_HITS, timeout=15000)
            report.search_hits = await page.evaluate(f"() => document.querySelectorAll('{SEARCH_HITS}').length")
        if v.screenshot is not None:
            v.screenshot.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(v.screenshot), full_page=True)
            report.screenshot_bytes = v.screenshot.stat().st_size
        report.seconds = time.perf_counter() - start
        return report


async def audit(page) -> list[AxeViolation]:  # type: ignore[no-untyped-def]
    """axe-core's violations on the page as it is now (after MathJax has typeset)."""
    from axe_playwright_python.async_playwright import Axe

    # preload: false -- axe's CSSOM preload re-fetches @import'ed stylesheets relative to the
    # page instead of the stylesheet (a 404 for the theme's "../basic.css", logged as a console
    # error); it only serves the css-orientation-lock rule, which then reports "incomplete"
    results = await Axe().run(page, options={"resultTypes": ["violations"], "preload": False})
    return [AxeViolation(v["id"], v.get("impact") or "unknown", len(v["nodes"]), v["help"],
                         tuple(str(n.get("target")) for n in v["nodes"][:3]))
            for v in results.response["violations"]]


def visit_all(executable: str, visits: list[Visit], tabs: int | None = None) -> dict[str, PageReport | str]:
    """Open every page in one browser, in ``tabs`` tabs side by side (default: one per core).

    Returns a report per visit name, or the error that stopped the visit.
    """
    if tabs is None:
        tabs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    async def run() -> dict[str, PageReport | str]:
        from playwright.async_api import async_playwright

        queue: asyncio.Queue[Visit] = asyncio.Queue()
        for v in visits:
            queue.put_nowait(v)
        results: dict[str, PageReport | str] = {}
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            context = await browser.new_context(viewport={"width": 1280, "height": 900})

            async def worker() -> None:
                tab = _Tab(await context.new_page())
                while not queue.empty():
                    v = queue.get_nowait()
                    # a made-up page gets a tab of its own: its errors must not spill into the book's
                    here = _Tab(await context.new_page()) if v.html is not None else tab
                    try:
                        results[v.name] = await here.visit(v)
                    except Exception as exc:  # reported by the test of this page
                        results[v.name] = f"{type(exc).__name__}: {exc}"
                        if here is tab:
                            await tab.page.close()
                            tab = _Tab(await context.new_page())
                    if here is not tab:
                        await here.page.close()

            try:
                await asyncio.gather(*(worker() for _ in range(max(1, min(tabs, len(visits))))))
            finally:
                await browser.close()
        return results

    return asyncio.run(run())
