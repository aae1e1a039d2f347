"""Execute notebooks in place, top to bottom, so they can be committed executed.

    python tools/execute_notebooks.py book/ch1_1/a_one_to_many.ipynb [...]

Each notebook runs in a fresh ``python3`` kernel with its own folder as the
working directory (as nbval and Jupyter Book run it).  Per-cell timing
metadata is not recorded, so re-executing an unchanged page leaves git clean.
Stops with a non-zero exit status at the first notebook that raises.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for p in paths:
        seconds = execute(Path(p))
        print(f"{p}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
