"""Execute every notebook under other book seeds: every assert must hold for every seed.

    python tools/run_seeds.py --seeds "1 2 3 4 5" [--jobs 2] [notebooks ...]

Each (notebook, seed) pair runs in a fresh kernel with ``EBM_SEED=<seed>``
(:mod:`ebm_utils.seeding`), two kernels at a time by default.  Outputs are
not compared (they are committed for seed 0 only); a cell that raises fails
the pair.  Prints one line per failing page and seed, then a summary, and
exits with 1 if anything failed.  ``make test-seeds`` calls it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Outcome:
    notebook: str
    seed: int
    seconds: float
    error: str | None  # None: every cell ran


def _all_notebooks() -> list[Path]:
    return sorted(
        p for p in (ROOT / "book").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts
    )


def _run(path: str, seed: int, timeout: int) -> Outcome:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    os.environ["EBM_SEED"] = str(seed)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as err:
        error = _summary(nb, err)
    except (CellTimeoutError, DeadKernelError) as err:
        error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return Outcome(os.path.relpath(path, ROOT), seed, time.perf_counter() - start, error)


def _summary(nb: object, err: Exception) -> str:
    """The failing cell's number and the error's last line (name: value)."""
    cell = next(
        (i for i, c in enumerate(nb.cells)  # type: ignore[attr-defined]
         if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))),
        None,
    )
    ename = getattr(err, "ename", type(err).__name__)
    evalue = " ".join(str(getattr(err, "evalue", err)).split())
    if len(evalue) > 300:
        evalue = evalue[:297] + "..."
    where = f" (cell {cell})" if cell is not None else ""
    return f"{ename}: {evalue}{where}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1 2 3 4 5", help='space-separated seeds, e.g. "6 7"')
    parser.add_argument("--jobs", type=int, default=2, help="kernels at a time (default 2)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    parser.add_argument("notebooks", nargs="*", help="default: every notebook under book/")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split()]
    except ValueError:
        parser.error(f"--seeds must be integers, got {args.seeds!r}")
    if not seeds or any(s < 0 for s in seeds):
        parser.error("--seeds needs at least one non-negative integer")
    paths = [Path(p).resolve() for p in args.notebooks] or _all_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")

    tasks = [(str(p), s) for s in seeds for p in paths]
    start = time.perf_counter()
    failures: list[Outcome] = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_run, p, s, args.timeout) for p, s in tasks]
        for fut in as_completed(futures):
            out = fut.result()
            if out.error is not None:
                failures.append(out)
                print(f"FAIL {out.notebook} seed={out.seed}: {out.error}", flush=True)
    wall = time.perf_counter() - start
    failed_pages = len({f.notebook for f in failures})
    print(
        f"test-seeds: {len(paths)} notebooks x seeds {' '.join(map(str, seeds))}: "
        f"{len(tasks) - len(failures)} of {len(tasks)} runs passed, {len(failures)} failed "
        f"({failed_pages} pages); {wall:.0f} s with {args.jobs} kernels"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
