"""Tests of the built HTML book (run by `make test` after the strict build).

They read ``_build/html``; when it does not exist they skip and say how to
build it.  The browser tests also need Chromium (Debian's ``chromium``); they skip without
it, unless ``REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""
from __future__ import annotations

import functools
import os
import http.server
import shutil
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "_build" / "screenshots"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def html_pages() -> list[Path]:
    """Every content page of the book (not Sphinx's genindex/search pages)."""
    if not HTML.is_dir():
        return []
    pages = sorted(HTML.glob("book/**/*.html"))
    return [p for p in pages if "_static" not in p.parts]


@pytest.fixture(scope="session")
def built_html() -> Path:
    if not (HTML / "index.html").exists():
        pytest.skip("no built book in _build/html: run `make book` (or `make test`) first")
    return HTML


def chromium_path() -> str | None:
    for c in CHROMIUM_CANDIDATES:
        if Path(c).exists():
            return c
    return shutil.which("chromium")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def book_url(built_html: Path) -> Iterator[str]:
    """The built book served on a loopback port for the duration of the session."""
    handler = functools.partial(_QuietHandler, directory=str(built_html))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


@pytest.fixture(scope="session")
def chromium(built_html: Path) -> str:
    """Chromium's executable, for the browser tests (which need playwright too)."""
    exe = chromium_path()
    if exe is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but Chromium was not found (apt-get install chromium)")
        pytest.skip(
            "Chromium not found: install Debian's chromium (apt-get install chromium) to run "
            "the browser tests; .ci/run does this"
        )
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but playwright is not installed (requirements.txt)")
        pytest.skip("playwright is not installed (requirements.txt)")
    return exe
