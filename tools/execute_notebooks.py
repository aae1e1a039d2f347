"""Execute notebooks in place, top to bottom, so they can be committed executed.

    python tools/execute_notebooks.py [--jobs N] book/ch1_1/a_one_to_many.ipynb [...]

Each notebook runs in a fresh ``python3`` kernel with its own folder as the
working directory (as nbval and Jupyter Book run it), ``--jobs`` at a time
(default: one per core, one thread each).  Per-cell timing metadata is not
recorded, so re-executing an unchanged page leaves git clean.  A notebook that
raises is not written; the exit status is non-zero if any raised.
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_cache import default_jobs, limit_threads, run_notebook  # noqa: E402

TIMEOUT = 300


def execute(path: str) -> tuple[str, float, str | None]:
    nb = nbformat.read(path, as_version=4)
    executed, seconds, error = run_notebook(nb, str(Path(path).parent), TIMEOUT, allow_errors=False)
    if executed is not None:
        executed.metadata.pop("widgets", None)
        nbformat.write(executed, path)
    return path, seconds, error


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--jobs", type=int, default=default_jobs())
    args = ap.parse_args(argv)
    if not args.paths:
        print(__doc__)
        return 2
    failed = 0
    threads = str(max(1, default_jobs() // args.jobs))
    with ProcessPoolExecutor(max_workers=min(args.jobs, len(args.paths)), initializer=limit_threads,
                             initargs=(threads,)) as pool:
        for future in as_completed([pool.submit(execute, p) for p in args.paths]):
            path, seconds, error = future.result()
            if error is None:
                print(f"{path}: executed in {seconds:.1f} s")
            else:
                failed += 1
                print(f"{path}: FAILED, not written: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
