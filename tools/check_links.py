"""Every internal link and anchor of the built HTML book resolves (offline).

Reads every page (``.html`` outside ``_static``) under the build folder (``_build/html`` by default),
collects the ``id`` (and ``<a name>``) of every element, and checks each
``href``/``src`` that stays inside the site: the file it names exists (a folder
means its ``index.html``), it does not leave the site, and its ``#fragment``
names an element of the target page.  External links (``http(s):``,
``mailto:`` ...) are only counted here; the weekly workflow job checks them with
linkchecker, which needs the network.

    python tools/check_links.py [BUILD_DIR]    # prints the figures; exit 1 on a broken link

Why not linkchecker here: offline and as root it drops privileges and tries to
resolve every host it meets; on this book it had checked nothing after ten minutes.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
LINK_ATTRS = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src",
              "source": "src", "area": "href"}
EXTERNAL_SCHEMES = {"http", "https", "mailto", "ftp", "tel"}
IGNORED_SCHEMES = {"javascript", "data", "blob", "about"}


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v for k, v in attrs if v is not None}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        attr = LINK_ATTRS.get(tag)
        if attr and a.get(attr, "").strip():
            self.links.append(a[attr].strip())

    handle_startendtag = handle_starttag


@dataclass
class Page:
    ids: set[str]
    links: list[str]


@dataclass
class LinkReport:
    """What was checked, and what is broken (``page: link -- reason``)."""

    pages: int = 0
    internal_links: int = 0
    anchors: int = 0  # internal links with a #fragment (each one checked against the target's ids)
    external_links: int = 0
    external_urls: set[str] = field(default_factory=set)
    broken: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.pages} pages: {self.internal_links} internal links ({self.anchors} with an anchor) "
                f"checked, {len(self.broken)} broken; {self.external_links} external links "
                f"({len(self.external_urls)} distinct URLs) left to the weekly job")


def parse_page(path: Path) -> Page:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return Page(parser.ids, parser.links)


def check_site(site: Path) -> LinkReport:
    """Check every HTML file under ``site``."""
    site = site.resolve()
    # _static holds the theme's Jinja fragments (``*.html`` that are not pages)
    pages = {p.resolve(): parse_page(p) for p in sorted(site.rglob("*.html"))
             if "_static" not in p.relative_to(site).parts}
    report = LinkReport(pages=len(pages))
    for path, page in pages.items():
        where = path.relative_to(site).as_posix()
        for link in page.links:
            parts = urlsplit(link)
            scheme = parts.scheme.lower()
            if scheme in EXTERNAL_SCHEMES or link.startswith("//"):
                report.external_links += 1
                report.external_urls.add(link.split("#")[0] if scheme != "mailto" else link)
                continue
            if scheme in IGNORED_SCHEMES:
                continue
            if scheme:
                report.broken.append(f"{where}: {link} -- unknown scheme {scheme!r}")
                continue
            report.internal_links += 1
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if not target.is_relative_to(site):
                report.broken.append(f"{where}: {link} -- leaves the site")
                continue
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                report.broken.append(f"{where}: {link} -- no such file {target.relative_to(site).as_posix()}")
                continue
            if parts.fragment:
                report.anchors += 1
                fragment = unquote(parts.fragment)
                if target.suffix != ".html":
                    report.broken.append(f"{where}: {link} -- an anchor into a file that is not a page")
                    continue
                ids = pages[target].ids if target in pages else parse_page(target).ids
                if fragment not in ids:
                    report.broken.append(f"{where}: {link} -- no element with id {fragment!r}")
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    site = Path(args[0]) if args else ROOT / "_build" / "html"
    if not (site / "index.html").is_file():
        print(f"no built book in {site}: run `make book` first", file=sys.stderr)
        return 2
    report = check_site(site)
    for line in report.broken:
        print(line)
    print(report.summary())
    return 1 if report.broken else 0


if __name__ == "__main__":
    sys.exit(main())
