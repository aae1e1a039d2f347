"""Time every page of the book: execute each notebook in a fresh kernel, in memory.

    .venv/bin/python tools/benchmark_pages.py [--jobs 2] [--budget 10] [PAGE.ipynb ...]

Runs ``--jobs`` notebooks at a time (as ``make test`` does with two cores, one
thread each), prints a table of seconds per page, slowest first, and exits
with status 1 if any page exceeds ``--budget`` seconds or fails.  Nothing is
written back to the notebooks.  A benchmark, not a test: timings depend on
the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))


def run(path: str) -> tuple[str, float, str]:
    """One page in a fresh kernel, exactly as `make book` executes it (tools/book_cache.py)."""
    import nbformat
    from book_cache import run_notebook

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    _, _, error = run_notebook(nb, str(Path(path).parent), timeout=300, allow_errors=False)
    status = "ok" if error is None else f"FAILED: {error.splitlines()[0][:120]}"
    return path, time.perf_counter() - start, status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="*")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--budget", type=float, default=10.0)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    pages = args.pages or sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "book").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )
    os.chdir(ROOT)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run, pages))
    bad = 0
    print(f"{'seconds':>8}  page")
    for path, seconds, status in sorted(results, key=lambda r: -r[1]):
        flag = ""
        if status != "ok":
            flag, bad = f"  {status}", bad + 1
        elif seconds > args.budget:
            flag, bad = f"  over the {args.budget:g} s budget", bad + 1
        print(f"{seconds:8.1f}  {path}{flag}")
    print(f"{len(results)} pages, total {sum(r[1] for r in results):.1f} s of kernel time")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
