"""Mutation testing of the modules that check the book: `make mutation`.

    python tools/mutation.py [--jobs 2] [--modules "checks verification"] [--report-only]

Runs mutmut (configured in ``pyproject.toml``, ``[tool.mutmut]``) over the
checkers -- ``losses``, ``derivation``, ``equality``, ``checks``, ``symbolic``,
``_validation`` and ``verification`` -- with the unit tests.  The adversarial
derivation tests run 3 seeds instead of 100 (``EBM_ADVERSARIAL_SEEDS``): a
mutant the full run would kill but 3 seeds miss counts as a survivor, so the
figures are, if anything, pessimistic.  sympy's cache is switched off in the
workers (``SYMPY_USE_CACHE=no``): with it, a cached result computed by the
unmutated code could hide a mutant (see ``../shared/NOTES.md``); without it
sympy is slower, so the adversarial tests get a proof budget of 1200 CPU
seconds instead of 120 (a true step that times out would fail the clean run).

Then it prints, per module, the mutants killed, the survivors, the survivors
judged *equivalent* (listed with a reason in ``tools/mutation_equivalent.txt``:
a mutant that no test can kill because it does not change what the code
computes), and the score ``killed / (mutants - equivalent)``.  It exits with 1
if a module scores below 90 %, and lists every survivor not judged equivalent.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("losses", "derivation", "equality", "checks", "symbolic", "_validation", "verification")
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.txt"
THRESHOLD = 0.90
LINE = re.compile(r"^\s*ebm_utils\.(?P<module>\w+)\.(?P<name>\S+): (?P<status>.+)$")


def mutmut(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "mutmut"
    return subprocess.run([str(exe), *args], cwd=ROOT, env=env, text=True, capture_output=True)


def equivalent_mutants() -> dict[str, str]:
    """``{mutant name: reason}`` from tools/mutation_equivalent.txt (``name  # reason`` lines)."""
    out: dict[str, str] = {}
    if EQUIVALENT.is_file():
        for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition("#")
            if not reason.strip():
                raise SystemExit(f"{EQUIVALENT.name}: {name.strip()} has no reason")
            out[name.strip()] = reason.strip()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="mutmut workers (default 2)")
    parser.add_argument("--report-only", action="store_true", help="summarise the last run, do not run")
    parser.add_argument("--modules", default=" ".join(MODULES),
                        help="space-separated modules to run and report (default: all seven)")
    args = parser.parse_args(argv)
    modules = tuple(args.modules.split())
    unknown_modules = sorted(set(modules) - set(MODULES))
    if unknown_modules:
        parser.error(f"not a checked module: {', '.join(unknown_modules)} (choose from {', '.join(MODULES)})")

    if not args.report_only:
        env = dict(os.environ, EBM_ADVERSARIAL_SEEDS="3", SYMPY_USE_CACHE="no",
                   EBM_ADVERSARIAL_PROOF_SECONDS="1200",
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        names = [] if modules == MODULES else [f"ebm_utils.{m}.*" for m in modules]
        run = mutmut("run", "--max-children", str(args.jobs), *names, env=env)
        if run.returncode not in (0, 1):
            print(run.stdout[-2000:], run.stderr[-2000:], sep="\n")
            return 2

    listing = mutmut("results", "--all", "true")
    status: dict[str, dict[str, str]] = defaultdict(dict)
    for line in listing.stdout.splitlines():
        m = LINE.match(line)
        if m and m["module"] in modules:
            status[m["module"]][f"ebm_utils.{m['module']}.{m['name']}"] = m["status"].strip()
    if not status:
        print("no mutation results: run `make mutation` first", file=sys.stderr)
        return 2

    equivalent = equivalent_mutants()
    failed = False
    print(f"{'module':<14} {'mutants':>8} {'killed':>7} {'survived':>9} {'equivalent':>11} {'score':>7}")
    leftovers: list[str] = []
    for module in modules:
        results = status.get(module, {})
        counts = Counter(results.values())
        killed = counts["killed"] + counts["timeout"]  # a timeout is a detection (mutmut counts it so)
        equiv = [k for k, s in results.items() if s != "killed" and k in equivalent]
        survivors = [k for k, s in results.items() if s not in ("killed", "timeout") and k not in equivalent]
        judged = len(results) - len(equiv)
        score = killed / judged if judged else 1.0
        failed |= score < THRESHOLD
        print(f"{module:<14} {len(results):>8} {killed:>7} {len(survivors):>9} {len(equiv):>11} {score:>7.1%}")
        leftovers += [f"  {k}: {results[k]}" for k in sorted(survivors)]
    if leftovers:
        print("\nsurvivors not judged equivalent:")
        print("\n".join(leftovers))
    unknown = sorted(set(equivalent) - {k for r in status.values() for k in r})
    if unknown:
        print(f"\n{EQUIVALENT.name} names mutants that no longer exist: {', '.join(unknown)}")
    print(f"\nthreshold {THRESHOLD:.0%} per module: {'FAILED' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
