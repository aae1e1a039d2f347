"""Every page of the built book, opened in headless Chromium.

Asserted on each page: it loads without console errors or uncaught exceptions;
it requests nothing outside the local server; MathJax has typeset every
formula (no raw TeX left, no MathJax error); every image has loaded; it has a
title; axe-core finds no serious or critical accessibility violation (the
figures by impact are written to ``_build/axe-summary.json``).  The search page
finds "partition function".  Screenshots of two pages
are saved in ``_build/screenshots/``.

One browser opens all of these pages, several at a time (``browser.py``), when
the first test asks; each test then checks its page's report.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from .browser import PageReport, Visit, visit_all
from .conftest import ARTIFACTS, HTML, html_pages

BLOCKING_IMPACTS = ("serious", "critical")

PAGES = html_pages()
IDS = [str(p.relative_to(p.parents[2])) for p in PAGES]
SCREENSHOTS = [
    ("intro", "book/intro.html", False),
    ("how_this_book_checks_itself-dark", "book/how_this_book_checks_itself.html", True),
]
BAD_PAGE = (
    "<html><head><title>bad</title></head><body>"
    '<span class="math">\\(x^2\\)</span><img src="missing.png">'
    '<script src="https://cdn.example.org/x.js"></script>'
    "<script>undefinedFunction()</script></body></html>"
)
# axe-core must flag these: an image without alt text (critical), an unnamed button (critical)
INACCESSIBLE_PAGE = (
    '<html lang="en"><head><title>inaccessible</title></head><body><main>'
    '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==">'
    "<button></button></main></body></html>"
)


@pytest.fixture(scope="session")
def reports(chromium: str, book_url: str, built_html: Path) -> dict[str, PageReport | str]:
    visits = [Visit(f"page:{i}", f"{book_url}/{p.relative_to(built_html).as_posix()}", axe=True)
              for i, p in zip(IDS, PAGES)]
    visits.append(Visit("search", f"{book_url}/search.html?q=partition+function", search=True))
    visits += [Visit(f"screenshot:{name}", f"{book_url}/{path}", dark=dark, screenshot=ARTIFACTS / f"{name}.png")
               for name, path, dark in SCREENSHOTS]
    visits.append(Visit("bad", book_url, html=BAD_PAGE))
    visits.append(Visit("inaccessible", book_url, html=INACCESSIBLE_PAGE, axe=True))
    return visit_all(chromium, visits)


def report_of(reports: dict[str, PageReport | str], name: str) -> PageReport:
    report = reports[name]
    assert isinstance(report, PageReport), f"{name}: the browser failed: {report}"
    return report


@pytest.mark.parametrize("page_id", IDS)
def test_page_in_a_real_browser(reports: dict[str, PageReport | str], page_id: str) -> None:
    r = report_of(reports, f"page:{page_id}")
    assert not r.problems, f"{page_id}: {r.problems}"
    assert not r.untypeset, f"{page_id}: formulas left as raw TeX: {r.untypeset[:3]}"
    assert not r.mathjax_errors, f"{page_id}: MathJax errors: {r.mathjax_errors[:3]}"
    assert r.formulas_without_mathml == 0, f"{page_id}: formulas without assistive MathML (screen readers)"
    assert not r.unloaded_images, f"{page_id}: images that did not load: {r.unloaded_images}"
    assert r.title, f"{page_id}: page has no title"


def test_search_finds_partition_function(reports: dict[str, PageReport | str]) -> None:
    r = report_of(reports, "search")
    assert not r.problems, r.problems
    assert r.search_hits is not None and r.search_hits >= 1


@pytest.mark.parametrize("name", [s[0] for s in SCREENSHOTS])
def test_screenshots(reports: dict[str, PageReport | str], name: str) -> None:
    r = report_of(reports, f"screenshot:{name}")
    assert not r.problems, r.problems
    assert r.screenshot_bytes is not None and r.screenshot_bytes > 10_000


def test_the_browser_checks_can_fail(reports: dict[str, PageReport | str]) -> None:
    """A page with raw TeX, a broken image, a remote script and a script error is caught."""
    r = report_of(reports, "bad")
    assert r.untypeset == ["\\(x^2\\)"]
    assert r.unloaded_images == ["missing.png"]
    assert any("undefinedFunction" in p for p in r.problems if p.startswith("uncaught exception"))
    assert "remote request: https://cdn.example.org/x.js" in r.problems


def test_every_page_was_visited(reports: dict[str, PageReport | str]) -> None:
    assert len(PAGES) >= 5 and all(f"page:{i}" in reports for i in IDS)


@pytest.mark.parametrize("page_id", IDS)
def test_page_has_no_serious_accessibility_violation(reports: dict[str, PageReport | str], page_id: str) -> None:
    r = report_of(reports, f"page:{page_id}")
    assert r.axe_violations is not None, "axe-core did not run"
    blocking = [v for v in r.axe_violations if v.impact in BLOCKING_IMPACTS]
    assert not blocking, f"{page_id}: " + "; ".join(f"{v.impact} {v.rule} x{v.nodes} ({v.help}) at {v.targets}"
                                                    for v in blocking)


def test_accessibility_summary(reports: dict[str, PageReport | str]) -> None:
    """Every page was audited; the figures (violations by impact and rule) go to _build/axe-summary.json."""
    by_impact: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    audited = 0
    for page_id in IDS:
        r = report_of(reports, f"page:{page_id}")
        if r.axe_violations is None:
            continue
        audited += 1
        for v in r.axe_violations:
            by_impact[v.impact] += v.nodes
            by_rule[f"{v.impact} {v.rule}"] += v.nodes
    summary = {"pages": audited, "elements_by_impact": dict(sorted(by_impact.items())),
               "elements_by_rule": dict(sorted(by_rule.items()))}
    (HTML.parent / "axe-summary.json").write_text(json.dumps(summary, indent=1))
    print(summary)
    assert audited == len(IDS)


def test_the_accessibility_audit_can_fail(reports: dict[str, PageReport | str]) -> None:
    r = report_of(reports, "inaccessible")
    rules = {(v.rule, v.impact) for v in r.axe_violations or []}
    assert ("image-alt", "critical") in rules and ("button-name", "critical") in rules, rules
