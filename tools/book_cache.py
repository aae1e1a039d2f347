"""The book's execution cache: pages executed in parallel, and never stale.

    .venv/bin/python tools/book_cache.py execute [--jobs N]   # `make book` runs this first
    .venv/bin/python tools/book_cache.py status               # what would run, and why
    .venv/bin/python tools/book_cache.py key                  # one key for CI's actions/cache

Jupyter Book (``execute_notebooks: cache``) looks each notebook up in the
jupyter-cache under ``_build/.jupyter_cache`` by a hash of its code cells, and
executes the ones it does not find, one at a time.  ``execute`` fills that
cache first, one kernel per core, so the build that follows only renders.

jupyter-cache's hash sees a notebook's code and nothing else (MyST-NB issue
#299), so by itself the cache would keep showing outputs of old library code.
This tool stores, next to each cached notebook, a key of everything the outputs
depend on, and re-executes a page when its key changed:

* the notebook's code cells (jupyter-cache's own hash of them);
* the contents of every repository file the notebook imports, directly or
  through other local modules (``tools/import_graph.py`` finds them with ast:
  ``ebm_utils/__init__.py``, ``ebm_utils/losses.py``, ...);
* ``requirements.txt`` (the pinned library versions) and the Python version.

A page whose key changed has its cache record removed, is re-executed, and
its file's modification time is bumped, so Sphinx's incremental build
renders it again.  A page that fails here is left out of the cache: Jupyter
Book then executes it itself and reports the error (the strict build fails).
Records written by Jupyter Book itself carry no key and count as stale.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_graph import notebook_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA_KEY = "book_cache"  # our entry in a jupyter-cache record's `data`
ENVIRONMENT_FILES = ("requirements.txt",)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


# -- the book's configuration ---------------------------------------------------
@dataclass
class BookConfig:
    """The parts of ``_config.yml`` and ``_toc.yml`` that decide what executes, and how."""

    root: Path
    mode: str = "auto"
    timeout: int = 30
    allow_errors: bool = False
    run_in_temp: bool = False
    exclude_execution: list[str] = field(default_factory=list)
    exclude_patterns: list[str] = field(default_factory=list)
    only_toc_files: bool = False
    myst_extensions: list[str] = field(default_factory=list)
    build_dir: Path | None = None

    @property
    def cache_dir(self) -> Path:
        """Where myst-nb looks: ``<build dir>/.jupyter_cache`` (its default)."""
        return (self.build_dir or self.root / "_build") / ".jupyter_cache"


def load_config(root: Path, config_file: Path | None = None, build_dir: Path | None = None) -> BookConfig:
    data = yaml.safe_load((config_file or root / "_config.yml").read_text(encoding="utf-8")) or {}
    execute = data.get("execute") or {}
    if execute.get("cache"):
        raise SystemExit("book_cache: `execute: cache:` is set in _config.yml; this tool uses the default path")
    mode = execute.get("execute_notebooks", "auto")
    return BookConfig(
        root=root,
        mode="off" if mode is False else str(mode),
        timeout=int(execute.get("timeout", 30)),
        allow_errors=bool(execute.get("allow_errors", False)),
        run_in_temp=bool(execute.get("run_in_temp", False)),
        exclude_execution=list(execute.get("exclude_patterns") or []),
        exclude_patterns=list(data.get("exclude_patterns") or []),
        only_toc_files=bool(data.get("only_build_toc_files", False)),
        myst_extensions=list((data.get("parse") or {}).get("myst_enable_extensions") or []),
        build_dir=build_dir,
    )


def _toc_docnames(root: Path) -> list[str]:
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(root / "_toc.yml")
    names = list(site_map.keys())
    for pattern in sorted(site_map.globs()):
        for path in sorted(root.glob(pattern + ".*")) + sorted(root.glob(pattern)):
            if path.is_file():
                names.append(path.relative_to(root).with_suffix("").as_posix())
    return list(dict.fromkeys(names))


def book_sources(cfg: BookConfig) -> list[Path]:
    """Every page of the book that is a notebook (``.ipynb``, or MyST text notebook)."""
    root = cfg.root
    candidates: list[Path] = []
    for docname in _toc_docnames(root) if (root / "_toc.yml").exists() else []:
        for suffix in (".ipynb", ".md"):
            if (root / (docname + suffix)).is_file():
                candidates.append(root / (docname + suffix))
                break
    if not cfg.only_toc_files:
        skip = {"_build", ".venv", ".git", ".ipynb_checkpoints", "node_modules"}
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.suffix in (".ipynb", ".md") and not (set(rel.parts) & skip) and not any(
                PurePosixPath(rel.as_posix()).match(p) for p in cfg.exclude_patterns
            ):
                candidates.append(path)
    pages = []
    for path in dict.fromkeys(candidates):
        if path.suffix == ".ipynb" or _is_text_notebook(path):
            if not any(PurePosixPath(path.as_posix()).match(p) for p in cfg.exclude_execution):
                pages.append(path)
    return pages


def _is_text_notebook(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    from myst_nb.core.read import is_myst_markdown_notebook

    return is_myst_markdown_notebook(text)


def read_notebook(path: Path, cfg: BookConfig) -> nbformat.NotebookNode:
    """The notebook exactly as myst-nb reads it (so jupyter-cache's hashes agree)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        return nbformat.reads(text, as_version=4)
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig

    reader = create_nb_reader(str(path), MdParserConfig(enable_extensions=set(cfg.myst_extensions)),
                              NbParserConfig(), text)
    assert reader is not None, path
    return reader.read(text)


# -- keys ---------------------------------------------------------------------
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def environment_inputs(root: Path) -> dict[str, str]:
    """What every page depends on: the pinned libraries and the interpreter."""
    inputs = {name: _sha((root / name).read_bytes()) if (root / name).exists() else "absent"
              for name in ENVIRONMENT_FILES}
    inputs["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    return inputs


@dataclass
class Page:
    """One notebook of the book and the key of everything its outputs depend on."""

    path: Path
    rel: str
    nb: nbformat.NotebookNode
    code_hash: str  # jupyter-cache's hash of the code cells
    inputs: dict[str, str]  # file or setting -> hash
    key: str


def make_page(path: Path, cfg: BookConfig, env: dict[str, str], cache: Any,
              graphs: dict | None = None) -> Page:
    nb = read_notebook(path, cfg)
    _, code_hash = cache.create_hashed_notebook(nb)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    inputs = {"notebook code": code_hash, **env}
    for f in notebook_files(code, path.parent, cfg.root, graphs):
        rel = f.relative_to(cfg.root).as_posix() if f.is_relative_to(cfg.root) else str(f)
        inputs[rel] = _sha(f.read_bytes())
    key = _sha(json.dumps(inputs, sort_keys=True).encode())
    return Page(path, path.relative_to(cfg.root).as_posix(), nb, code_hash, inputs, key)


def explain(page: Page, old: dict[str, str] | None) -> str:
    """Why a page must run again, comparing with the inputs of its last cached run."""
    if old is None:
        return "not in the cache"
    changed = sorted(k for k in set(page.inputs) | set(old) if page.inputs.get(k) != old.get(k))
    added = [k for k in changed if k not in old]
    removed = [k for k in changed if k not in page.inputs]
    edited = [k for k in changed if k in old and k in page.inputs]
    parts = [f"changed: {', '.join(edited)}"] if edited else []
    parts += [f"now imports: {', '.join(added)}"] if added else []
    parts += [f"no longer imports: {', '.join(removed)}"] if removed else []
    return "; ".join(parts) or "key differs"


def read_pages(cfg: BookConfig) -> list[Page]:
    from jupyter_cache.cache.main import JupyterCacheBase

    hasher = JupyterCacheBase(cfg.cache_dir)  # only its hash function: the folder is not touched
    env = environment_inputs(cfg.root)
    graphs: dict = {}  # modules read once for all pages
    return [make_page(p, cfg, env, hasher, graphs) for p in book_sources(cfg)]


def book_key(pages: list[Page]) -> str:
    """One key for the whole book: it changes when any page's key changes."""
    return _sha("\n".join(f"{p.rel} {p.key}" for p in sorted(pages, key=lambda p: p.rel)).encode())


@dataclass
class Plan:
    pages: list[Page]
    fresh: list[Page] = field(default_factory=list)
    stale: list[tuple[Page, str]] = field(default_factory=list)
    expected_seconds: dict[str, float] = field(default_factory=dict)


def make_plan(cfg: BookConfig, cache: Any, pages: list[Page] | None = None) -> Plan:
    """Sort the pages into up to date and stale (with the reason)."""
    plan = Plan(read_pages(cfg) if pages is None else pages)
    last_run: dict[str, dict[str, Any]] = {}  # page -> our data of its newest record
    for record in sorted(cache.list_cache_records(), key=lambda r: r.created):
        ours = (record.data or {}).get(DATA_KEY)
        if ours:
            last_run[ours["page"]] = ours
            plan.expected_seconds[ours["page"]] = float(record.data.get("execution_seconds") or 0)
    for page in plan.pages:
        try:
            record = cache.match_cache_notebook(page.nb)
        except KeyError:
            record = None
        ours = (record.data or {}).get(DATA_KEY, {}) if record is not None else {}
        if record is not None and ours.get("key") == page.key:
            plan.fresh.append(page)
        elif record is not None and not ours:
            plan.stale.append((page, "cached without a key (executed by jupyter-book itself)"))
        else:
            plan.stale.append((page, explain(page, (ours or last_run.get(page.rel, {})).get("inputs"))))
    return plan


# -- execution ----------------------------------------------------------------
def run_notebook(nb: nbformat.NotebookNode, folder: str, timeout: int, allow_errors: bool,
                 in_temp: bool = False) -> tuple[nbformat.NotebookNode | None, float, str | None]:
    """Execute a copy of ``nb`` as myst-nb would (same function, same options).

    Returns (executed notebook or None, seconds, error or None).  The kernel
    talks over Unix sockets in a private folder: kernels started at the same
    time over TCP can pick the same free port, and one of them dies.
    """
    import tempfile
    import traceback

    from jupyter_cache.executors.utils import single_nb_execution
    from traitlets.config import Config

    error = "no attempt"
    for _ in range(2):  # a kernel that dies while starting gets a second chance
        with tempfile.TemporaryDirectory(prefix="book_cache-") as sockets, \
                tempfile.TemporaryDirectory(prefix="book_cache-cwd-") as temp_cwd:
            ipc = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
            try:
                result = single_nb_execution(copy.deepcopy(nb), cwd=temp_cwd if in_temp else folder,
                                             timeout=timeout, allow_errors=allow_errors,
                                             meta_override=True, config=ipc)
            except Exception as exc:  # the kernel, not the notebook, failed
                error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                continue
        if result.err is not None:
            return None, result.time, f"{type(result.err).__name__}: {result.err}"
        return result.nb, result.time, None
    return None, 0.0, error


def _execute_one(task: tuple[str, nbformat.NotebookNode, str, bool, int, bool]) -> tuple[str, Any, float, str | None]:
    """In a worker process: run one page of the plan."""
    rel, nb, folder, in_temp, timeout, allow_errors = task
    return (rel, *run_notebook(nb, folder, timeout, allow_errors, in_temp))


def limit_threads(threads: str) -> None:
    """In a worker: its kernels inherit this (one kernel per core, no oversubscription)."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, threads)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class Outcome:
    executed: dict[str, float] = field(default_factory=dict)  # page -> seconds
    failed: dict[str, str] = field(default_factory=dict)  # page -> error
    wall: float = 0.0


def execute(plan: Plan, cfg: BookConfig, cache: Any, jobs: int, log=print) -> Outcome:
    """Run every stale page, ``jobs`` kernels at a time, into the cache."""
    from jupyter_cache.base import CacheBundleIn

    outcome = Outcome()
    if not plan.stale:
        return outcome
    # a stale record must not survive a failed re-execution: myst-nb would render it
    for page, _ in plan.stale:
        try:
            cache.remove_cache(cache.match_cache_notebook(page.nb).pk)
        except KeyError:
            pass
    # longest first (known from the last run; else the one with the most code)
    order = sorted(plan.stale, key=lambda s: (-plan.expected_seconds.get(s[0].rel, float("inf")),
                                              -sum(len(c.source) for c in s[0].nb.cells)))
    pages = {p.rel: p for p, _ in order}
    threads = str(max(1, default_jobs() // jobs))
    tasks = [(p.rel, p.nb, str(p.path.parent), cfg.run_in_temp, cfg.timeout, cfg.allow_errors) for p, _ in order]
    start = time.perf_counter()
    done = 0
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=limit_threads,
                             initargs=(threads,)) as pool:
        pending = {pool.submit(_execute_one, t) for t in tasks}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                rel, nb, seconds, error = future.result()
                page = pages[rel]
                done += 1
                if error is None:
                    data = {"execution_seconds": seconds,
                            DATA_KEY: {"page": rel, "key": page.key, "inputs": page.inputs}}
                    cache.cache_notebook_bundle(CacheBundleIn(nb, str(page.path), data=data),
                                                check_validity=False, overwrite=True)
                    outcome.executed[rel] = seconds
                    log(f"  [{done:>2}/{len(tasks)}] {seconds:5.1f} s  {rel}")
                else:
                    outcome.failed[rel] = error
                    log(f"  [{done:>2}/{len(tasks)}] FAILED  {rel}: {error.splitlines()[0][:200]}")
    outcome.wall = time.perf_counter() - start
    _forget_older_runs(cache, {p.rel: p.code_hash for p, _ in order})
    now = time.time()
    for page, _ in order:  # Sphinx re-reads a page only if its source is newer than its doctree
        try:
            os.utime(page.path, (now, now))
        except OSError:  # a read-only checkout: make Sphinx read every page again instead
            (cfg.cache_dir.parent / ".doctrees" / "environment.pickle").unlink(missing_ok=True)
    return outcome


def _forget_older_runs(cache: Any, current: dict[str, str]) -> None:
    """Drop records of earlier versions of the re-executed pages (keeps the cache small)."""
    for record in cache.list_cache_records():
        ours = (record.data or {}).get(DATA_KEY) or {}
        if ours.get("page") in current and record.hashkey != current[ours["page"]]:
            try:
                cache.remove_cache(record.pk)
            except KeyError:
                pass


# -- command line -------------------------------------------------------------
def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["execute", "status", "key"])
    ap.add_argument("--root", type=Path, default=ROOT, help="the book's folder (with _config.yml)")
    ap.add_argument("--config", type=Path, help="another _config.yml (as jupyter-book --config)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("BOOK_JOBS", 0)) or default_jobs(),
                    help="kernels at a time (default: one per core)")
    ap.add_argument("--summary", type=Path, default=os.environ.get("BOOK_CACHE_SUMMARY") or None,
                    help="write what was executed as JSON here (or $BOOK_CACHE_SUMMARY)")
    args = ap.parse_args(list(argv) if argv is not None else None)

    from jupyter_cache import get_cache

    root = args.root.resolve()
    cfg = load_config(root, args.config)
    if args.command == "execute" and cfg.mode != "cache":
        print(f"book_cache: execute_notebooks is {cfg.mode!r}, not 'cache': nothing to do")
        return 0
    pages = read_pages(cfg)
    if args.command == "key":
        print(book_key(pages))
        return 0
    cache = get_cache(str(cfg.cache_dir))
    plan = make_plan(cfg, cache, pages)
    if args.command == "status":
        for page in plan.fresh:
            print(f"up to date  {page.rel}")
        for page, why in plan.stale:
            print(f"will run    {page.rel}  ({why})")
        return 0
    print(f"book_cache: {len(plan.pages)} notebooks, {len(plan.fresh)} up to date, "
          f"{len(plan.stale)} to execute" + (f" on {args.jobs} cores:" if plan.stale else ""))
    for page, why in plan.stale:
        print(f"  {page.rel}: {why}")
    outcome = execute(plan, cfg, cache, args.jobs)
    if plan.stale:
        kernel = sum(outcome.executed.values())
        print(f"book_cache: executed {len(outcome.executed)} in {outcome.wall:.1f} s "
              f"({kernel:.1f} s of kernel time)")
    if outcome.failed:
        print(f"book_cache: {len(outcome.failed)} failed; jupyter-book will run them again "
              "and report the error: " + ", ".join(sorted(outcome.failed)))
    if args.summary:
        args.summary.write_text(json.dumps({
            "pages": len(plan.pages), "up_to_date": [p.rel for p in plan.fresh],
            "executed": outcome.executed, "failed": outcome.failed, "wall": outcome.wall,
            "reasons": {p.rel: why for p, why in plan.stale},
        }, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
