"""``make pdf``: print the single-page HTML book to ``_build/pdf/book.pdf`` with Chromium.

Why Chromium and not LaTeX: the browser tests already need Debian's Chromium
(``.ci/run`` installs it), the formulas are typeset by the same bundled MathJax
as the HTML book (no second rendering of the math that could disagree with the
first), the figures are the same PNGs, and no 380 MB of texlive is needed.

    python tools/pdf.py preflight          # one line and exit 2 when Chromium is missing
    python tools/pdf.py print [--site DIR] [--out FILE]

``print`` opens the root page of the single-page build (``make pdf`` builds it
into ``_build/singlehtml``) on a loopback server, waits for MathJax, then in the
page: hides the site's navigation, opens folded outputs that hold a figure,
adds a title page (title, version, commit, date of the build) and a table of
contents of every page in ``_toc.yml`` order, and wraps long code lines.  It
prints once to learn on which page each chapter starts (from the PDF's outline, read back with pypdf),
writes those numbers into the table of contents and prints again.  Every page
has its number in the footer; the PDF has an outline (bookmarks) and tags.
When ``_build/html`` exists the PDF is copied there too (the intro page links to it).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import http.server
import io
import json
import re
import unicodedata
import shutil
import socketserver
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from book_build.build_info import build_line, load_yaml, repository  # noqa: E402

SITE = ROOT / "_build" / "singlehtml"
OUT = ROOT / "_build" / "pdf" / "book.pdf"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--no-proxy-server",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost"]
INSTALL_HINT = "make pdf needs Chromium: install it with `apt-get install chromium` (Debian/Ubuntu), then run make pdf again"

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
@media print {
  .bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer,
  .bd-footer-article, .bd-footer-content, .prev-next-area, .headerlink, .skip-link,
  .header-article-items, #pst-back-to-top, .search-button-field, .bd-search, .toggle-button,
  .ebm-print-hide { display: none !important; }
  .bd-main, .bd-content, .bd-article-container, .bd-page-width, .bd-container, .bd-container__inner,
  .bd-article { max-width: none !important; width: auto !important; padding: 0 !important; margin: 0 !important;
    min-width: 0 !important; flex: 1 1 auto !important; }
  body, .bd-container { min-width: 0 !important; width: 100% !important; }
  pre, pre code, .highlight pre { white-space: pre-wrap !important; word-break: break-word; overflow: visible !important; }
  .cell_output, .output { overflow: visible !important; max-height: none !important; }
  img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
  figure, .cell_output img { break-inside: avoid; }
  h1, h2, h3, h4 { break-after: avoid; }
  .ebm-chapter { break-before: page; }
  mjx-container[display="true"] { overflow: visible !important; }
  a { color: inherit; text-decoration: none; }
}
#ebm-title-page { break-after: page; text-align: center; padding-top: 30%; }
#ebm-title-page h1 { font-size: 2.4em; margin-bottom: 0.6em; }
#ebm-title-page p { margin: 0.3em 0; }
#ebm-toc { break-after: page; }
#ebm-toc ol { list-style: none; padding-left: 0; }
#ebm-toc li { display: flex; margin: 0.15em 0; }
#ebm-toc li.level-2, #ebm-toc li.level-3 { padding-left: 1.5em; font-size: 0.95em; }
#ebm-toc li.level-1 { font-weight: bold; margin-top: 0.6em; }
#ebm-toc .title { flex: 1 1 auto; }
#ebm-toc .dots { flex: 1 1 auto; border-bottom: 1px dotted #888; margin: 0 0.4em 0.3em; }
#ebm-toc .page { flex: 0 0 auto; min-width: 2.5em; text-align: right; }
"""

# Runs in the page: the title page, the table of contents, the print layout.
PREPARE = """(info) => {
  const style = document.createElement('style');
  style.textContent = info.css;
  document.head.appendChild(style);
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  // the contents, from the document markers of the single-page build, in _toc.yml order
  const entries = [];
  for (const span of document.querySelectorAll('span[id^="document-"]')) {
    let el = span.nextElementSibling;
    while (el && !/^H[1-6]$/.test(el.tagName) && !el.querySelector('h1,h2,h3,h4,h5,h6')) el = el.nextElementSibling;
    if (!el) continue;
    const h = /^H[1-6]$/.test(el.tagName) ? el : el.querySelector('h1,h2,h3,h4,h5,h6');
    const title = [...h.childNodes].filter(n => !(n.classList && n.classList.contains('headerlink')))
                   .map(n => n.textContent).join('').trim();
    const level = parseInt(h.tagName.slice(1));
    entries.push({id: span.id, title, level});
    if (level <= 2) el.classList.add('ebm-chapter');
  }
  // figures folded away in the HTML are unfolded on paper
  document.querySelectorAll('details').forEach(d => { if (d.querySelector('img')) d.open = true; });
  const title = document.createElement('section');
  title.id = 'ebm-title-page';
  title.innerHTML = `<h1></h1><p class="version"></p><p class="repo"></p>`;
  title.querySelector('h1').textContent = info.title;
  title.querySelector('.version').textContent = info.buildLine;
  title.querySelector('.repo').textContent = info.repository;
  const toc = document.createElement('nav');
  toc.id = 'ebm-toc';
  toc.setAttribute('aria-label', 'Contents');
  toc.innerHTML = '<h2>Contents</h2><ol></ol>';
  const ol = toc.querySelector('ol');
  const minLevel = Math.min(...entries.map(e => e.level));
  for (const e of entries) {
    const li = document.createElement('li');
    li.className = 'level-' + (e.level - minLevel + 1);
    li.innerHTML = '<a class="title"></a><span class="dots"></span><span class="page">000</span>';
    li.querySelector('a').textContent = e.title;
    li.querySelector('a').setAttribute('href', '#' + e.id);
    li.dataset.target = e.id;
    ol.appendChild(li);
  }
  article.prepend(toc);
  article.prepend(title);
  return entries;
}"""

SET_PAGES = """(pages) => {
  document.querySelectorAll('#ebm-toc li').forEach((li, i) => {
    li.querySelector('.page').textContent = pages[i] === null ? '' : String(pages[i]);
  });
}"""

WAIT_FOR_PAGE = """async () => {
  if (document.querySelector('.math')) { await MathJax.startup.promise; }
  const imgs = [...document.querySelectorAll('img')];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
}"""

FOOTER = ('<div style="font-size:8px; width:100%; text-align:center; color:#555;">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def chromium_path() -> str | None:
    for c in CHROMIUM_CANDIDATES:
        if Path(c).exists():
            return c
    return shutil.which("chromium")


def squash(text: str) -> str:
    """Text without whitespace, lower case: a title still matches when the PDF wraps it."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def outline_headings(reader) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """Every heading of the PDF's outline (Chromium makes one from the HTML headings), in order, with its 1-based page."""
    out: list[tuple[str, int]] = []

    def walk(items) -> None:  # type: ignore[no-untyped-def]
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append((str(item.title), reader.get_destination_page_number(item) + 1))

    walk(reader.outline)
    return out


def same_heading(outline_title: str, title: str) -> bool:
    """Whether an outline entry is this title's heading.

    Chromium's outline repeats the part of a wrapped heading before its line break
    ("1.1(d) The energy1.1(d) The energy and the loss"), so the entry may only start
    with the title; a formula's glyphs may differ, so a title with math is compared
    up to its first non-ASCII character.
    """
    outline_title, key = squash(outline_title), squash(title)
    ascii_prefix = squash(re.split(r"[^\x20-\x7e]", title)[0])
    if outline_title.startswith(key) or (key and outline_title.endswith(key) and len(outline_title) < 2 * len(key)):
        return True
    return ascii_prefix != key and len(ascii_prefix) >= 8 and outline_title.startswith(ascii_prefix)


def chapter_pages(pdf_bytes: bytes, titles: list[str]) -> list[int | None]:
    """The page where each title's heading is, matched in order along the PDF's outline."""
    from pypdf import PdfReader

    headings = [(squash(t), page) for t, page in outline_headings(PdfReader(io.BytesIO(pdf_bytes)))]
    found: list[int | None] = []
    at = 0
    for title in titles:
        hit = next((i for i in range(at, len(headings)) if same_heading(headings[i][0], title)), None)
        found.append(None if hit is None else headings[hit][1])
        if hit is not None:
            at = hit + 1
    return found


def _serve(site: Path) -> tuple[socketserver.ThreadingTCPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def root_page(site: Path) -> Path:
    """The single-page build's root document, copied next to ``_images`` (its links are relative to there)."""
    root_doc = str(load_yaml(ROOT / "_toc.yml")["root"])
    page = site / f"{root_doc}.html"
    if not page.is_file():
        raise FileNotFoundError(f"no single-page build at {page}: run `make pdf`")
    printable = site / "print.html"
    shutil.copyfile(page, printable)
    return printable


async def _print(executable: str, url: str, out: Path, info: dict) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1000, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(url, wait_until="load", timeout=300_000)
            await page.emulate_media(media="print")
            missing = await page.evaluate(WAIT_FOR_PAGE)
            if missing:
                raise RuntimeError(f"images that did not load: {missing[:5]}")
            entries = await page.evaluate(PREPARE, info)
            options = dict(path=None, format="A4", print_background=True, display_header_footer=True,
                           header_template="<span></span>", footer_template=FOOTER, outline=True, tagged=True,
                           margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"})
            first = await page.pdf(**options)
            pages = chapter_pages(first, [e["title"] for e in entries])
            await page.evaluate(SET_PAGES, pages)
            out.parent.mkdir(parents=True, exist_ok=True)
            await page.pdf(**{**options, "path": str(out)})
            return {"entries": entries, "pages": pages, "errors": errors}
        finally:
            await browser.close()


def print_pdf(site: Path = SITE, out: Path = OUT) -> dict:
    executable = chromium_path()
    if executable is None:
        raise SystemExit(INSTALL_HINT)
    printable = root_page(site)
    version, commit = build_line()
    repo = repository()
    info = {
        "css": PRINT_CSS,
        "title": str(load_yaml(ROOT / "_config.yml").get("title", "")),
        "buildLine": f"Version {version} · commit {commit} · built {dt.date.today().isoformat()}",
        "repository": repo.url,
    }
    server, base = _serve(site)
    try:
        result = asyncio.run(_print(executable, f"{base}/{printable.name}", out, info))
    finally:
        server.shutdown()
    html = ROOT / "_build" / "html"
    if out == OUT and (html / "index.html").is_file():  # the site links to it (book/intro.md)
        shutil.copyfile(out, html / "book.pdf")
    meta = out.with_suffix(".json")
    meta.write_text(json.dumps({"version": version, "commit": commit,
                                "contents": [{"title": e["title"], "page": p}
                                             for e, p in zip(result["entries"], result["pages"])]}, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["preflight", "print"])
    parser.add_argument("--site", type=Path, default=SITE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    if args.command == "preflight":
        return 0
    try:
        import playwright  # noqa: F401
        import pypdf  # noqa: F401
    except ImportError as exc:
        print(f"make pdf needs {exc.name}: run `make venv` (requirements.txt pins it)", file=sys.stderr)
        return 2
    try:
        result = print_pdf(args.site, args.out)
    except FileNotFoundError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    from pypdf import PdfReader

    n = len(PdfReader(args.out).pages)
    unplaced = [e["title"] for e, p in zip(result["entries"], result["pages"]) if p is None]
    print(f"{args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}: {n} pages, "
          f"{len(result['entries'])} pages of the book in the contents"
          + (f"; no page number found for {unplaced}" if unplaced else ""))
    if result["errors"]:
        print(f"page errors while printing: {result['errors'][:3]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
