"""Every internal link and anchor of the built book resolves (offline, ``tools/check_links.py``).

External links are counted, not fetched: the weekly workflow job checks them.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from check_links import check_site  # noqa: E402


def test_every_internal_link_and_anchor_resolves(built_html: Path) -> None:
    report = check_site(built_html)
    print(report.summary())
    assert report.pages >= 10 and report.internal_links >= 500 and report.anchors >= 50, report.summary()
    assert not report.broken, "\n".join(report.broken[:30])


def test_the_link_checker_can_fail(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/a.html#here">ok</a><a href="sub/a.html#nowhere">bad anchor</a>'
        '<a href="missing.html">missing</a><a href="../outside.html">outside</a>'
        '<a href="#top">self</a><a href="https://example.org/x#y">external</a>'
        '<img src="sub/pic.png"><a href="sub/">folder</a><span id="top"></span>')
    (tmp_path / "sub" / "a.html").write_text('<h1 id="here">A</h1>')
    (tmp_path / "sub" / "index.html").write_text("<p>index</p>")
    (tmp_path / "sub" / "pic.png").write_bytes(b"png")
    report = check_site(tmp_path)
    assert len(report.broken) == 3, report.broken
    assert any("sub/a.html#nowhere" in b and "no element with id 'nowhere'" in b for b in report.broken)
    assert any("missing.html" in b and "no such file" in b for b in report.broken)
    assert any("../outside.html" in b and "leaves the site" in b for b in report.broken)
    assert report.external_links == 1 and report.anchors == 3
