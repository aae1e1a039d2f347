"""Time the book's builds on this machine, each next to its lower bound, in one run.

    make bench        # = .venv/bin/python tools/bench.py [--module losses] [--keep]

Works in a copy of the working tree (tracked and untracked files, not
``_build``), so the worktree is not touched; the copy's kernels import the
copy's ``ebm_utils`` (``PYTHONPATH``).  In this order it measures

1. every page in a fresh kernel, one per core at a time, in memory
   (``tools/benchmark_pages.py``): the wall time of executing the book;
2. render only: ``make book-strict`` from an empty ``_build`` (the committed
   outputs, nothing executed);
3. cold ``make book`` from an empty ``_build``;

(1-3 ``--rounds`` times, in the order 1 2 3, 3 2 1, ..., so that a load that
drifts during the run weighs on both sides of the ratio; the means are used)
4. warm ``make book`` (nothing changed);
5. ``make book`` after editing one ``ebm_utils`` module, and which pages ran;
6. ``make book`` after editing one notebook's code, and which pages ran;
7. the empty page: a notebook whose only cell is ``import ebm_utils``, against
   one whose only cell is ``pass`` (median of five fresh kernels each).

and prints each figure and the ratio cold / (1 + 2).  Timings depend on the
machine and on what else runs on it (the load average is printed with each
step): this prints, and never fails on a timing.  It fails only if a build fails.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.15
RENDER = "render only (make book-strict, empty _build)"
COLD = "cold make book (empty _build)"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def copy_tree(dest: Path) -> None:
    """The working tree as it is (uncommitted edits included), modification times kept."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


class Bench:
    def __init__(self, tree: Path, venv: Path) -> None:
        self.tree = tree
        self.venv = venv
        # the copy's own install stamp, newer than its requirements: `make` in the copy must
        # never reinstall into the shared venv (an editable install would then point at the
        # copy, which is deleted at the end, and the worktree's venv would lose ebm_utils)
        self.stamp = tree / ".bench-installed"
        self.stamp.touch()
        self.env = dict(os.environ, PYTHONPATH=str(tree))
        self.env.pop("BOOK_JOBS", None)
        self.cpu: dict[str, list[float]] = {}  # label -> CPU seconds of each run

    def run(self, label: str, cmd: list[str]) -> tuple[float, str]:
        """Wall time of ``cmd``; its CPU time (with all its children's) goes to ``self.cpu``."""
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=self.tree, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n")
            raise SystemExit(f"make bench: `{' '.join(cmd)}` failed ({label})")
        self.cpu.setdefault(label, []).append(cpu)
        print(f"  {label:<52} {seconds:7.1f} s   (CPU {cpu:6.1f} s, load {load:.2f})", flush=True)
        return seconds, proc.stdout + proc.stderr

    def make(self, label: str, target: str, summary: Path | None = None) -> tuple[float, str]:
        if summary is not None:
            self.env["BOOK_CACHE_SUMMARY"] = str(summary)
        try:
            return self.run(label, ["make", "--no-print-directory", target, f"VENV={self.venv}",
                                    f"STAMP={self.stamp}"])
        finally:
            self.env.pop("BOOK_CACHE_SUMMARY", None)

    def empty_build(self) -> None:
        shutil.rmtree(self.tree / "_build", ignore_errors=True)


def page_seconds(tree: Path, source: str, env: dict[str, str], repeat: int) -> float:
    """Median wall time of a one-cell notebook in a fresh kernel, start to shutdown."""
    script = f"""
import sys, time, nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook(metadata={{"kernelspec": {{"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}}}})
nb.cells.append(nbformat.v4.new_code_cell({source!r}))
start = time.perf_counter()
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
print(time.perf_counter() - start)
"""
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", script], cwd=tree, env=env, check=True,
                             capture_output=True, text=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def reexecuted(summary: Path) -> list[str]:
    return sorted(json.loads(summary.read_text())["executed"]) if summary.exists() else []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default="losses", help="the ebm_utils module to edit (step 5)")
    ap.add_argument("--notebook", default="book/ch1_2/ii_nll_loss.ipynb", help="the notebook to edit (step 6)")
    ap.add_argument("--repeat", type=int, default=5, help="fresh kernels per empty-page figure")
    ap.add_argument("--rounds", type=int, default=2, help="measurements of each side of the ratio")
    ap.add_argument("--keep", action="store_true", help="keep the copy of the tree")
    args = ap.parse_args()
    venv = Path(sys.prefix)  # run by the book's .venv/bin/python
    n = cores()
    pages_label = f"pages {n} at a time (fresh kernels)"
    print(f"make bench: {time.strftime('%Y-%m-%d %H:%M')}, {cpu_name()}, {n} cores, "
          f"Python {platform.python_version()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tmp = Path(tempfile.mkdtemp(prefix="book-bench-"))
    tree = tmp / "book"
    try:
        copy_tree(tree)
        b = Bench(tree, venv)
        python = str(venv / "bin" / "python")

        summary = tmp / "summary.json"
        figures: dict[str, list[float]] = {"pages": [], "render": [], "cold": []}
        by_jb, cold_pages = 0, []

        def measure(what: str) -> None:
            nonlocal by_jb, cold_pages
            if what == "pages":
                seconds, _ = b.run(pages_label,
                                   [python, "tools/benchmark_pages.py", "--jobs", str(n), "--budget", "1e9"])
            elif what == "render":  # on an empty _build; the one of the last cold build is kept aside
                keep = tmp / "_build.kept"
                if (tree / "_build").exists():
                    (tree / "_build").rename(keep)
                seconds, _ = b.make(RENDER, "book-strict")
                b.empty_build()
                if keep.exists():
                    keep.rename(tree / "_build")
            else:
                b.empty_build()
                seconds, log = b.make(COLD, "book", summary)
                by_jb += log.count("Executing notebook")
                cold_pages = reexecuted(summary)
            figures[what].append(seconds)

        # rounds in A B C / C B A order, so that a load that drifts during the run
        # weighs on both sides of the ratio alike
        for r in range(args.rounds):
            for what in (("pages", "render", "cold") if r % 2 == 0 else ("cold", "render", "pages")):
                measure(what)
        pages, render, cold = (statistics.mean(figures[k]) for k in ("pages", "render", "cold"))
        warm, log = b.make("warm make book (nothing changed)", "book", summary)
        warm_pages = reexecuted(summary)

        module = tree / "ebm_utils" / f"{args.module}.py"
        module.write_text(module.read_text() + "\n# edited by make bench\n")
        after_module, _ = b.make(f"make book after editing ebm_utils/{args.module}.py", "book", summary)
        module_pages = reexecuted(summary)

        nb_path = tree / args.notebook
        nb = json.loads(nb_path.read_text())
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
        cell["source"] = ["# edited by make bench\n", *([cell["source"]] if isinstance(cell["source"], str)
                                                         else cell["source"])]
        nb_path.write_text(json.dumps(nb, indent=1))
        after_nb, _ = b.make(f"make book after editing {args.notebook}", "book", summary)
        nb_pages = reexecuted(summary)

        env = dict(b.env)
        empty = page_seconds(tree, "pass", env, args.repeat)
        imported = page_seconds(tree, "import ebm_utils", env, args.repeat)
        print(f"  {'empty page: only `pass` (median of %d)' % args.repeat:<52} {empty:7.1f} s")
        print(f"  {'empty page: only `import ebm_utils` (target <= 1.5 s)':<52} {imported:7.1f} s"
              f"   (the import costs {imported - empty:.1f} s)")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"copy kept in {tree}")

    total = len(cold_pages)
    print()
    print(f"cold make book: {total} notebooks executed in parallel before rendering, "
          f"{by_jb} by jupyter-book itself")
    print(f"warm make book re-executed {len(warm_pages)} notebooks")
    print(f"after editing ebm_utils/{args.module}.py: {len(module_pages)} of {total} re-executed"
          + (f": {', '.join(Path(p).stem for p in module_pages)}" if len(module_pages) < total else " (all)"))
    print(f"after editing {args.notebook}: {len(nb_pages)} re-executed: {', '.join(nb_pages)}")
    ratio = cold / (pages + render)
    cpu = {k: statistics.mean(v) for k, v in b.cpu.items()}
    cpu_pages, cpu_render, cpu_cold = (cpu[label] for label in (pages_label, RENDER, COLD))
    if args.rounds > 1:
        rounds = [c / (p + q) for p, q, c in zip(figures["pages"], figures["render"], figures["cold"])]
        print(f"ratio in each round: {', '.join(f'{x:.2f}' for x in rounds)}")
    print(f"ratio: cold make book / (pages {n} at a time + render only) = {cold:.1f} / ({pages:.1f} + "
          f"{render:.1f}) = {ratio:.2f}   (target <= {TARGET_RATIO}; means of {args.rounds} rounds)")
    print(f"the same in CPU time (insensitive to other load): {cpu_cold:.1f} / ({cpu_pages:.1f} + "
          f"{cpu_render:.1f}) = {cpu_cold / (cpu_pages + cpu_render):.2f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
