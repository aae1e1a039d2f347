"""What the built book offers readers beyond its pages: launch buttons, the footer, notebooks.zip, alt text.

The URLs are checked against ``_config.yml`` and the repository's files (the
launch itself needs the network: Colab and Binder cannot be reached here).
"""
from __future__ import annotations

import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from book_build import build_info

from .conftest import html_pages

ROOT = Path(__file__).resolve().parents[2]
PAGES = html_pages()
IDS = [str(p.relative_to(p.parents[2])) for p in PAGES]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.alts: list[str] = []
        self.footer = ""
        self._in_footer = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a":
            self.hrefs.append(a.get("href", ""))
        if tag == "img" and "_images/" in a.get("src", ""):
            self.alts.append(a.get("alt", ""))
        if tag == "p" and "ebm-build-info" in a.get("class", ""):
            self._in_footer += 1
        elif self._in_footer:
            self._in_footer += 1 if tag not in ("br", "img") else 0

    def handle_endtag(self, tag: str) -> None:
        if self._in_footer:
            self._in_footer -= 1

    def handle_data(self, data: str) -> None:
        if self._in_footer:
            self.footer += data


def parse(page: Path) -> _Links:
    p = _Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def _source_of(page: Path, site: Path) -> Path | None:
    rel = page.relative_to(site).with_suffix(".ipynb")
    return ROOT / rel if (ROOT / rel).is_file() else None


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_footer_names_version_and_commit(built_html: Path, page: Path) -> None:
    footer = " ".join(parse(page).footer.split())
    assert re.search(rf"Version {re.escape(build_info.book_version())} · commit ([0-9a-f]{{12}}(\+modified)?|unknown)",
                     footer), f"{page.name}: footer {footer!r}"


def launch_problems(hrefs: list[str], notebook: str) -> list[str]:
    """What is wrong with a page's Colab and Binder links for ``notebook`` (repo-relative path)."""
    repo = build_info.repository()
    path = f"{repo.path_to_book}/{notebook}".lstrip("/")
    colab = [h for h in hrefs if h.startswith("https://colab.research.google.com/")]
    binder = [h for h in hrefs if h.startswith("https://mybinder.org/")]
    problems = []
    want_colab = f"https://colab.research.google.com/github/{repo.github_path}/blob/{repo.branch}/{path}"
    if colab != [want_colab]:
        problems.append(f"Colab links {colab}, expected [{want_colab}]")
    if len(binder) != 1:
        problems.append(f"Binder links {binder}")
    else:
        url = urlsplit(binder[0])
        if url.path != f"/v2/gh/{repo.github_path}/{repo.branch}":
            problems.append(f"Binder repository/branch {url.path}")
        if parse_qs(url.query).get("urlpath") != [f"lab/tree/{path}"]:
            problems.append(f"Binder opens {parse_qs(url.query).get('urlpath')}, not lab/tree/{path}")
    return problems


def test_launch_buttons_on_every_notebook_page(built_html: Path) -> None:
    checked, problems = 0, []
    for page in PAGES:
        source = _source_of(page, built_html)
        if source is None:
            continue
        checked += 1
        problems += [f"{page.name}: {p}" for p in launch_problems(parse(page).hrefs, source.relative_to(ROOT).as_posix())]
    assert checked >= 10, "expected the book's notebook pages"
    assert not problems, problems[:10]


def test_the_launch_check_can_fail() -> None:
    repo = build_info.repository()
    good_colab = f"https://colab.research.google.com/github/{repo.github_path}/blob/{repo.branch}/book/a.ipynb"
    good_binder = f"https://mybinder.org/v2/gh/{repo.github_path}/{repo.branch}?urlpath=lab/tree/book/a.ipynb"
    assert launch_problems([good_colab, good_binder], "book/a.ipynb") == []
    assert launch_problems([good_colab.replace(repo.branch, "dev"), good_binder], "book/a.ipynb")
    assert launch_problems([good_colab, good_binder.replace("book/a", "book/b")], "book/a.ipynb")
    assert launch_problems([good_binder], "book/a.ipynb")


def test_notebooks_zip_is_linked_from_the_intro_and_holds_every_notebook(built_html: Path) -> None:
    archive = built_html / "notebooks.zip"
    assert archive.is_file(), "no notebooks.zip in the built book"
    intro = built_html / "book" / "intro.html"
    assert "../notebooks.zip" in parse(intro).hrefs
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    notebooks = [s.relative_to(ROOT).as_posix() for p in PAGES if (s := _source_of(p, built_html))]
    missing = [n for n in notebooks if f"ebm-book/{n}" not in names]
    assert notebooks and not missing, missing
    assert {"ebm-book/README.md", "ebm-book/requirements.txt"} <= names


GENERIC = re.compile(r"^(figure|image|plot|png|output|graph)\b", re.I)


def alt_text_problems(alt: str) -> list[str]:
    """An alt text must say what the figure shows: a sentence, not a file name or a label."""
    words = alt.split()
    problems = []
    if len(words) < 6:
        problems.append(f"too short to say what it shows: {alt!r}")
    if GENERIC.match(alt) or re.search(r"\.(png|jpe?g|svg)\b", alt, re.I) or "<Figure" in alt:
        problems.append(f"generic: {alt!r}")
    return problems


def test_every_figure_has_a_descriptive_alt_text(built_html: Path) -> None:
    problems, figures = [], 0
    for page in PAGES:
        for alt in parse(page).alts:
            figures += 1
            problems += [f"{page.name}: {p}" for p in alt_text_problems(alt)]
    assert figures >= 20
    assert not problems, problems[:10]


@pytest.mark.parametrize("alt", ["", "Figure 3", "<Figure size 640x480 with 1 Axes>", "plot of loss.png curve over steps now"])
def test_the_alt_text_check_can_fail(alt: str) -> None:
    assert alt_text_problems(alt)
