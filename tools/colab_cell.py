"""The install cell that lets a page run in Colab (or any Jupyter without ``ebm_utils``).

Every notebook page of the book gets, as its first code cell::

    # Colab, Binder or a bare Jupyter: install the book's helper package if it is missing.
    try:
        import ebm_utils
    except ModuleNotFoundError:
        %pip install --quiet "ebm_utils @ git+https://github.com/<owner>/<name>@v<version>"

Where ``ebm_utils`` is importable (a clone, ``make lab``, nbval, the book build,
``make test-seeds``, Binder) the cell prints nothing and changes nothing.  The
URL comes from ``_config.yml`` (``repository.url``) and the tag from
``CITATION.cff`` (``version``), so the cell never drifts from the launch buttons
or the citation.  The cell is tagged ``remove-cell``: the HTML book and the PDF
leave it out; a reader who opens the notebook sees it.

    python tools/colab_cell.py check [NOTEBOOK ...]   # exit 1 and list the notebooks without the right cell
    python tools/colab_cell.py apply [NOTEBOOK ...]   # insert or update it (idempotent)

Without arguments: every notebook page of ``_toc.yml``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from book_build.build_info import install_ref, repository  # noqa: E402

MARKER = "# Colab, Binder or a bare Jupyter: install the book's helper package if it is missing."
TAG = "remove-cell"
CELL_ID = "ebm-install-cell"


def install_spec(root: Path = ROOT) -> str:
    """The pip requirement of the published helper package: the repository at this version's tag."""
    return f"ebm_utils @ git+{repository(root).url}@{install_ref(root)}"


def cell_source(root: Path = ROOT) -> str:
    return "\n".join([
        MARKER,
        "try:",
        "    import ebm_utils",
        "except ModuleNotFoundError:",
        f'    %pip install --quiet "{install_spec(root)}"',
    ])


def _is_install_cell(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARKER)


def problems(nb: nbformat.NotebookNode, root: Path = ROOT) -> list[str]:
    """What is wrong with a notebook's install cell; empty when it is right."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    ours = [c for c in code if _is_install_cell(c)]
    if not ours:
        return ["no install cell"]
    out = []
    if len(ours) > 1:
        out.append(f"{len(ours)} install cells")
    first = code[0]
    if not _is_install_cell(first):
        out.append("the install cell is not the first code cell")
    cell = ours[0]
    if cell.source != cell_source(root):
        out.append("the install cell differs from the current one (repository URL or version changed?)")
    if TAG not in cell.metadata.get("tags", []):
        out.append(f"the install cell is not tagged {TAG}")
    if cell.get("outputs"):
        out.append("the install cell has outputs (it must print nothing where ebm_utils is installed)")
    return out


def applied(nb: nbformat.NotebookNode, root: Path = ROOT) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose first code cell is the current install cell (and no other is)."""
    nb = nbformat.from_dict(nb)
    kept = [c for c in nb.cells if not _is_install_cell(c)]
    old = next((c for c in nb.cells if _is_install_cell(c)), None)
    cell = nbformat.v4.new_code_cell(cell_source(root), metadata={"tags": [TAG]})
    if old is not None:
        cell.metadata = nbformat.from_dict({**old.metadata, "tags": sorted(set(old.metadata.get("tags", [])) | {TAG})})
        cell.execution_count = old.get("execution_count")
    has_ids = nb.nbformat > 4 or nb.nbformat_minor >= 5
    if has_ids:
        taken = {c.get("id") for c in kept}
        cell.id = old.get("id") if old is not None and old.get("id") else CELL_ID
        if cell.id in taken:
            cell.id = next(f"{CELL_ID}-{i}" for i in range(1, 10_000) if f"{CELL_ID}-{i}" not in taken)
    else:
        cell.pop("id", None)
    at = next((i for i, c in enumerate(kept) if c.cell_type == "code"), len(kept))
    nb.cells = kept[:at] + [cell] + kept[at:]
    return nb


def notebook_pages(root: Path = ROOT) -> list[Path]:
    """Every ``.ipynb`` page of the book, from ``_toc.yml`` (never a hand-kept list)."""
    from book_cache import book_sources, load_config

    return [p for p in book_sources(load_config(root)) if p.suffix == ".ipynb"]


def _write(path: Path, nb: nbformat.NotebookNode) -> None:
    path.write_text(nbformat.writes(nb), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "apply"])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or notebook_pages()
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    bad, changed = [], []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        if args.command == "check":
            bad += [f"{path}: {p}" for p in problems(nb)]
        else:
            new = applied(nb)
            if nbformat.writes(new) != text:
                _write(path, new)
                changed.append(path)
    if args.command == "check":
        for line in bad:
            print(line)
        print(f"{len(paths)} notebooks checked, {len({b.split(': ')[0] for b in bad})} without the right install cell")
        if bad:
            print("fix: python tools/colab_cell.py apply")
        return 1 if bad else 0
    print(f"{len(paths)} notebooks, {len(changed)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
