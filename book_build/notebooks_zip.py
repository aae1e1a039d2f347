"""``notebooks.zip``: every page of the book in one download, next to ``index.html``.

The archive holds the source of every page in the table of contents (the
notebooks, and the Markdown pages), ``requirements.txt``, the helper package
(``ebm_utils/``, ``book_build/``, ``pyproject.toml``) so that
``pip install -r requirements.txt`` works offline from the unpacked folder,
``CITATION.cff``, and a short ``README.md``.  Entries are sorted and dated
1980-01-01, so the same sources give the same bytes.  The intro page links to it.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Iterable

from .build_info import build_line, repository

NAME = "notebooks.zip"
PACKAGE_DIRS = ("ebm_utils", "book_build")
TOP_FILES = ("requirements.txt", "pyproject.toml", "CITATION.cff")
EPOCH = (1980, 1, 1, 0, 0, 0)

README = """# Energy-Based Models, Executed: the notebooks

Version {version} (commit {commit}). Every page of the book, as it is built.

    python3.11 -m venv .venv && . .venv/bin/activate
    pip install -r requirements.txt      # exact pins; installs ebm_utils from this folder
    jupyter lab book                     # or: pip install jupyterlab first

`torch==2.13.0` is pinned; for the CPU build add
`--extra-index-url https://download.pytorch.org/whl/cpu`.
The book, its tests and its history: {url}
"""


def archive_members(root: Path, pages: Iterable[Path]) -> list[Path]:
    """Repository-relative paths to put in the archive, sorted, without caches."""
    members = set()
    for p in pages:
        members.add(p.resolve().relative_to(root))
    for name in TOP_FILES:
        members.add(Path(name))
    for d in PACKAGE_DIRS:
        members.update(p.relative_to(root) for p in (root / d).rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(members)


def write_zip(root: Path, pages: Iterable[Path], out: Path) -> list[str]:
    """Write the archive; return the names it holds."""
    version, commit = build_line(root)
    names = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        readme = zipfile.ZipInfo("ebm-book/README.md", EPOCH)
        zf.writestr(readme, README.format(version=version, commit=commit, url=repository(root).url),
                    compress_type=zipfile.ZIP_DEFLATED)
        names.append(readme.filename)
        for rel in archive_members(root, pages):
            info = zipfile.ZipInfo(f"ebm-book/{rel.as_posix()}", EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, (root / rel).read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
            names.append(info.filename)
    return names


def _on_build_finished(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html" or app.builder.name != "html":
        return
    root = Path(app.srcdir)
    pages = [Path(app.env.doc2path(doc)) for doc in sorted(app.env.found_docs)]
    write_zip(root, pages, Path(app.outdir) / NAME)


def setup(app: Any) -> dict[str, Any]:
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
