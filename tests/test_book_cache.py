"""tools/book_cache.py and tools/import_graph.py: the execution cache is never stale.

A tiny book in a temporary folder (a package ``mypkg`` and a few one-cell
notebooks) stands in for the real one, so these tests run in seconds and never
execute the book's pages:

* nothing changed: nothing re-executes;
* a module changed: exactly the notebooks that import it, directly or through
  other modules of the package, re-execute, and their outputs are the new ones;
* ``requirements.txt`` changed: everything re-executes;
* one notebook's code changed: that notebook only.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book_cache  # noqa: E402
from import_graph import notebook_files  # noqa: E402
from jupyter_cache import get_cache  # noqa: E402

CONFIG = """\
title: tiny
only_build_toc_files: true
exclude_patterns: [_build]
execute:
  execute_notebooks: cache
  timeout: 60
"""
# mypkg.a imports mypkg.b; mypkg.c stands alone; the package's __init__ is lazy (PEP 562)
LAZY_INIT = """\
import importlib
__version__ = "1"
_EXPORTS = {"value_b": "b", "value_c": "c"}


def __getattr__(name):
    if name in ("a", "b", "c"):
        return importlib.import_module(f".{name}", __name__)
    if name in _EXPORTS:
        return getattr(importlib.import_module("." + _EXPORTS[name], __name__), name)
    raise AttributeError(name)
"""
EAGER_INIT = "from . import a, b, c\n"
MODULES = {
    "a.py": "from .b import value_b\n\nvalue_a = value_b + 10\n",
    "b.py": "value_b = 1\n",
    "c.py": "value_c = 100\n",
}
NOTEBOOKS = {  # page -> its code cell
    "uses_a": "from mypkg.a import value_a\nprint('a', value_a)",
    "uses_c": "from mypkg.c import value_c\nprint('c', value_c)",
    "plain": "import math\nprint('plain', math.factorial(4))",
    "bare": "import mypkg\nprint('bare', mypkg.__version__)",
}


def write_notebook(path: Path, code: str, markdown: str = "# A page") -> None:
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell(code)]
    path.write_text(nbformat.writes(nb), encoding="utf-8")


def make_book(root: Path, init: str = LAZY_INIT, notebooks: dict[str, str] = NOTEBOOKS) -> Path:
    (root / "book").mkdir(parents=True)
    (root / "_config.yml").write_text(CONFIG)
    toc = ["format: jb-book", "root: book/intro", "chapters:"] + [f"  - file: book/{n}" for n in notebooks]
    (root / "_toc.yml").write_text("\n".join(toc) + "\n")
    (root / "book" / "intro.md").write_text("# Tiny\n")
    (root / "requirements.txt").write_text("numpy==2.4.6\n")
    (root / "mypkg").mkdir()
    (root / "mypkg" / "__init__.py").write_text(init)
    for name, text in MODULES.items():
        (root / "mypkg" / name).write_text(text)
    for name, code in notebooks.items():
        write_notebook(root / "book" / f"{name}.ipynb", code)
    return root


def edit(path: Path, extra: str = "\n# edited\n") -> None:
    path.write_text(path.read_text() + extra)


def stale(root: Path) -> list[str]:
    """The pages `execute` would run now, by name."""
    cfg = book_cache.load_config(root)
    plan = book_cache.make_plan(cfg, get_cache(str(cfg.cache_dir)))
    return sorted(Path(p.rel).stem for p, _ in plan.stale)


def pretend_executed(root: Path) -> None:
    """Record every stale page as executed (its source as the 'output'): no kernel needed."""
    from jupyter_cache.base import CacheBundleIn

    cfg = book_cache.load_config(root)
    cache = get_cache(str(cfg.cache_dir))
    for page, _ in book_cache.make_plan(cfg, cache).stale:
        data = {"execution_seconds": 0.0,
                book_cache.DATA_KEY: {"page": page.rel, "key": page.key, "inputs": page.inputs}}
        cache.cache_notebook_bundle(CacheBundleIn(page.nb, str(page.path), data=data),
                                    check_validity=False, overwrite=True)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    root = make_book(tmp_path / "tiny")
    pretend_executed(root)
    assert stale(root) == []
    return root


# -- which pages go stale (no kernels) --------------------------------------------
def test_nothing_changed_nothing_runs(book: Path) -> None:
    assert stale(book) == []
    os.utime(book / "mypkg" / "b.py")  # a newer file with the same contents is no change
    assert stale(book) == []


def test_a_module_reruns_exactly_its_importers(book: Path) -> None:
    edit(book / "mypkg" / "c.py")
    assert stale(book) == ["uses_c"]


def test_a_module_imported_through_another_module_reruns_its_importers(book: Path) -> None:
    edit(book / "mypkg" / "b.py")  # uses_a imports mypkg.a, which imports mypkg.b
    assert stale(book) == ["uses_a"]


def test_the_package_init_reruns_every_importer(book: Path) -> None:
    edit(book / "mypkg" / "__init__.py")  # runs before any of its modules
    assert stale(book) == ["bare", "uses_a", "uses_c"]


def test_requirements_rerun_everything(book: Path) -> None:
    (book / "requirements.txt").write_text("numpy==2.4.7\n")
    assert stale(book) == ["bare", "plain", "uses_a", "uses_c"]


def test_one_notebook_reruns_alone(book: Path) -> None:
    write_notebook(book / "book" / "plain.ipynb", NOTEBOOKS["plain"] + "\nprint('more')")
    assert stale(book) == ["plain"]


def test_markdown_only_edits_rerun_nothing(book: Path) -> None:
    write_notebook(book / "book" / "plain.ipynb", NOTEBOOKS["plain"], markdown="# Retitled page")
    assert stale(book) == []


def test_a_new_page_runs_alone(book: Path) -> None:
    write_notebook(book / "book" / "extra.ipynb", "print('extra')")
    edit(book / "_toc.yml", "  - file: book/extra\n")
    assert stale(book) == ["extra"]


def test_pages_cached_by_jupyter_book_itself_count_as_stale(book: Path) -> None:
    cfg = book_cache.load_config(book)
    cache = get_cache(str(cfg.cache_dir))
    record = cache.match_cache_notebook(nbformat.read(book / "book" / "plain.ipynb", as_version=4))
    from jupyter_cache.base import CacheBundleIn

    bundle = cache.get_cache_bundle(record.pk)
    cache.cache_notebook_bundle(CacheBundleIn(bundle.nb, record.uri, data={"execution_seconds": 1.0}),
                                check_validity=False, overwrite=True)
    assert stale(book) == ["plain"]


def test_the_reason_names_the_changed_file(book: Path) -> None:
    edit(book / "mypkg" / "b.py")
    cfg = book_cache.load_config(book)
    plan = book_cache.make_plan(cfg, get_cache(str(cfg.cache_dir)))
    assert [why for _, why in plan.stale] == ["changed: mypkg/b.py"]


def test_an_eager_package_makes_every_importer_depend_on_every_module(tmp_path: Path) -> None:
    root = make_book(tmp_path / "eager", init=EAGER_INIT)
    pretend_executed(root)
    edit(root / "mypkg" / "c.py")
    assert stale(root) == ["bare", "uses_a", "uses_c"]  # importing mypkg.a runs __init__, which imports c


def test_the_ci_key_follows_the_inputs(book: Path) -> None:
    def key() -> str:
        return book_cache.book_key(book_cache.read_pages(book_cache.load_config(book)))

    before = key()
    assert key() == before
    edit(book / "mypkg" / "c.py")
    assert key() != before


# -- the imports found in code ----------------------------------------------------
def imported(root: Path, code: str | list[str], folder: Path | None = None) -> list[str]:
    cells = [code] if isinstance(code, str) else code
    files = notebook_files(cells, folder or root / "book", root)
    return sorted(f.relative_to(root).as_posix() for f in files)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_book(tmp_path / "tree", notebooks={})


INIT, A, B, C = "mypkg/__init__.py", "mypkg/a.py", "mypkg/b.py", "mypkg/c.py"


@pytest.mark.parametrize("code, files", [
    ("from mypkg.a import value_a", [INIT, A, B]),
    ("import mypkg.c", [INIT, C]),
    ("import mypkg.c as m\nprint(m.value_c)", [INIT, C]),
    ("import mypkg", [INIT]),  # a lazy __init__ alone
    ("import mypkg\nprint(mypkg.__version__)", [INIT]),  # bound by __init__ itself
    ("import mypkg\nmypkg.c.value_c", [INIT, C]),  # __getattr__("c") imports .c
    ("import mypkg as p\np.value_b", [INIT, B]),  # __getattr__ maps value_b to .b
    ("from mypkg import value_c", [INIT, C]),
    ("from mypkg import a", [INIT, A, B]),
    ("import mypkg\nprint(dir(mypkg))", [INIT, A, B, C]),  # the module object escapes: anything
    ("from mypkg import *", [INIT, A, B, C]),
    ("import importlib\nimportlib.import_module('mypkg.c')", [INIT, C]),
    ("import importlib\nname = 'mypkg.c'\nimportlib.import_module(name)", [INIT, A, B, C]),
    ("%run helper.py", [INIT, A, B, C]),
    ("%matplotlib inline\nfrom mypkg.c import value_c", [INIT, C]),
    ("import numpy, math", []),
    ("def f():\n    from mypkg.c import value_c\n    return value_c", [INIT, C]),  # inside a function
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mypkg.c import value_c", []),
])
def test_imports_found_in_a_notebook(tree: Path, code: str, files: list[str]) -> None:
    assert imported(tree, code) == files


def test_a_cell_the_kernel_cannot_compile_imports_nothing(tree: Path) -> None:
    assert imported(tree, ["import mypkg.a\nprint(1 +)", "import mypkg.c"]) == [INIT, C]


def test_a_lazy_init_that_computes_names_it_cannot_follow_means_everything(tree: Path) -> None:
    (tree / "mypkg" / "__init__.py").write_text(
        "import importlib\n\ndef __getattr__(name):\n"
        "    return importlib.import_module(name.lower(), __name__)\n")
    assert imported(tree, "import mypkg") == [INIT]
    assert imported(tree, "from mypkg import c") == [INIT, A, B, C]


def test_relative_imports_inside_the_package(tree: Path) -> None:
    (tree / "mypkg" / "c.py").write_text("from . import b\nfrom .. import mypkg\n")
    assert imported(tree, "import mypkg.c") == [INIT, B, C]


def test_package_data_files_count_with_the_package(tree: Path) -> None:
    (tree / "mypkg" / "style.mplstyle").write_text("lines.linewidth: 2\n")
    assert imported(tree, "import mypkg.c") == [INIT, C, "mypkg/style.mplstyle"]


def test_a_module_next_to_the_notebook_counts(tree: Path) -> None:
    (tree / "book" / "helper.py").write_text("import mypkg.c\n")
    assert imported(tree, "import helper") == ["book/helper.py", INIT, C]


# -- real kernels: outputs follow the code ----------------------------------------
def cached_output(root: Path, page: str) -> str:
    cfg = book_cache.load_config(root)
    cache = get_cache(str(cfg.cache_dir))
    nb = nbformat.read(root / "book" / f"{page}.ipynb", as_version=4)
    _, merged = cache.merge_match_into_notebook(nb)
    return "".join(o.get("text", "") for c in merged.cells if c.cell_type == "code" for o in c.outputs)


def run_execute(root: Path, tmp_path: Path) -> dict:
    summary = tmp_path / "summary.json"
    assert book_cache.main(["execute", "--root", str(root), "--jobs", "2", "--summary", str(summary)]) == 0
    return json.loads(summary.read_text())


def test_execute_runs_stale_pages_and_their_outputs_are_new(tmp_path: Path, monkeypatch) -> None:
    root = make_book(tmp_path / "run", notebooks={k: NOTEBOOKS[k] for k in ("uses_a", "uses_c")})
    monkeypatch.setenv("PYTHONPATH", str(root))  # the kernels import this mypkg
    first = run_execute(root, tmp_path)
    assert sorted(first["executed"]) == ["book/uses_a.ipynb", "book/uses_c.ipynb"]
    assert cached_output(root, "uses_a") == "a 11\n"
    assert run_execute(root, tmp_path)["executed"] == {}  # nothing changed

    before = (root / "book" / "uses_a.ipynb").stat().st_mtime_ns
    (root / "mypkg" / "b.py").write_text("value_b = 2\n")
    second = run_execute(root, tmp_path)
    assert list(second["executed"]) == ["book/uses_a.ipynb"]
    assert cached_output(root, "uses_a") == "a 12\n"  # the new code's output, not the old one
    assert (root / "book" / "uses_a.ipynb").stat().st_mtime_ns > before  # Sphinx will re-read it


def test_a_failing_page_leaves_no_stale_output(tmp_path: Path, monkeypatch) -> None:
    root = make_book(tmp_path / "fail", notebooks={"uses_c": NOTEBOOKS["uses_c"]})
    monkeypatch.setenv("PYTHONPATH", str(root))
    run_execute(root, tmp_path)
    (root / "mypkg" / "c.py").write_text("raise RuntimeError('broken module')\n")
    outcome = run_execute(root, tmp_path)
    assert outcome["executed"] == {} and list(outcome["failed"]) == ["book/uses_c.ipynb"]
    with pytest.raises(KeyError):  # jupyter-book will execute it itself and report the error
        cached_output(root, "uses_c")


def test_jupyter_book_renders_the_new_outputs(tmp_path: Path, monkeypatch) -> None:
    """myst-nb finds every page in the cache (same hash), and re-renders a re-executed page."""
    import subprocess

    root = make_book(tmp_path / "jb", notebooks={k: NOTEBOOKS[k] for k in ("uses_a", "uses_c")})
    monkeypatch.setenv("PYTHONPATH", str(root))
    jupyter_book = Path(sys.executable).parent / "jupyter-book"

    def build() -> tuple[str, str]:
        run_execute(root, tmp_path)
        log = subprocess.run([str(jupyter_book), "build", ".", "-W", "-n", "--keep-going"], cwd=root,
                             capture_output=True, text=True)
        assert log.returncode == 0, log.stdout[-3000:] + log.stderr[-3000:]
        return log.stdout + log.stderr, (root / "_build/html/book/uses_a.html").read_text()

    log, html = build()
    assert log.count("Using cached notebook") == 2 and "Executing notebook" not in log
    assert "a 11" in html
    (root / "mypkg" / "b.py").write_text("value_b = 2\n")
    log, html = build()
    assert "Executing notebook" not in log
    assert "a 12" in html and "a 11" not in html


def test_a_lazy_init_with_absolute_computed_names_is_followed(tree: Path) -> None:
    (tree / "mypkg" / "__init__.py").write_text(
        "import importlib\n_SUB = ('a', 'b', 'c')\n_EXPORTS = {'value_c': 'c'}\n\n"
        "def __getattr__(name):\n"
        "    if name in _SUB:\n        return importlib.import_module(f'{__name__}.{name}')\n"
        "    return getattr(importlib.import_module(f'{__name__}.{_EXPORTS[name]}'), name)\n")
    assert imported(tree, "import mypkg") == [INIT]
    assert imported(tree, "from mypkg import value_c") == [INIT, C]
    assert imported(tree, "import mypkg\nmypkg.b.value_b") == [INIT, B]
