"""The GitHub Actions workflow runs the README's commands and publishes from main."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def readme_commands() -> list[str]:
    """The commands of the README's set-up block (the first ```bash block)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README has no ```bash block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _runs(job: dict[str, Any]) -> list[str]:
    return [str(s.get("run", "")) for s in job.get("steps", [])]


def workflow_problems(wf: dict[str, Any], commands: list[str]) -> list[str]:
    """Everything the workflow gets wrong; empty when it is right."""
    problems = []
    triggers = wf.get("on", wf.get(True, {}))  # YAML 1.1 reads a bare `on` as True
    for event in ("push", "pull_request"):
        if event not in (triggers or {}):
            problems.append(f"not triggered on {event}")
    jobs = wf.get("jobs", {})
    test = jobs.get("test", {})
    runs = _runs(test)
    if "make test" in commands and not any(r.strip() == "make test" for r in runs):
        problems.append("the test job does not run `make test`")
    for c in commands:
        if not c.startswith("make "):
            problems.append(f"README command {c!r} is not a make target")
    uploads = [s for s in test.get("steps", []) if "upload-artifact" in str(s.get("uses", ""))]
    if not any("_build/html/reports" in str(s.get("with", {}).get("path", "")) and
               "failure()" in str(s.get("if", "")) for s in uploads):
        problems.append("no upload of _build/html/reports on failure")
    pages = [s for s in test.get("steps", []) if "upload-pages-artifact" in str(s.get("uses", ""))]
    if not pages or pages[0].get("with", {}).get("path") != "_build/html":
        problems.append("the built book is not uploaded for Pages")
    problems += execution_cache_problems(test.get("steps", []))
    deploy = jobs.get("deploy", {})
    if "deploy-pages" not in " ".join(str(s.get("uses", "")) for s in deploy.get("steps", [])):
        problems.append("no deploy-pages step")
    if "refs/heads/main" not in str(deploy.get("if", "")) or deploy.get("needs") != "test":
        problems.append("deploy must need the test job and run only on main")
    seeds = jobs.get("seeds", {})
    if not any(re.fullmatch(r'make test-seeds SEEDS="1 2 3 4 5"', r.strip()) for r in _runs(seeds)):
        problems.append("no job runs `make test-seeds` for seeds 1 to 5")
    return problems


def execution_cache_problems(steps: list[dict[str, Any]]) -> list[str]:
    """The published build reuses executed pages, keyed by tools/book_cache.py."""
    book = [i for i, s in enumerate(steps) if str(s.get("run", "")).strip() == "make book"
            and "failure()" not in str(s.get("if", ""))]
    caches = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/cache@")]
    if not book:
        return ["no step builds the published book with `make book`"]
    if not caches or caches[0] > book[-1]:
        return ["no actions/cache step restores the execution cache before `make book`"]
    cache = steps[caches[0]]
    if cache.get("with", {}).get("path") != "_build/.jupyter_cache":
        return ["the actions/cache step does not hold _build/.jupyter_cache"]
    key = str(cache.get("with", {}).get("key", ""))
    producers = [s for s in steps if s.get("id") and f"steps.{s['id']}.outputs" in key]
    if not any("tools/book_cache.py key" in str(s.get("run", "")) for s in producers):
        return ["the cache key is not the one tools/book_cache.py computes"]
    if not cache.get("with", {}).get("restore-keys"):
        return ["no restore-keys: a changed page would discard every cached page"]
    return []


def test_readme_has_the_two_commands():
    assert readme_commands() == ["make book", "make test"]


def test_workflow_runs_the_readme_commands_and_deploys_from_main():
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert workflow_problems(wf, readme_commands()) == []


def test_ci_entry_point_runs_make_test():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", run, re.M)
    # and one seed besides 0, after the tests
    assert re.search(r"^make test-seeds SEEDS=\S+$", run, re.M)
    assert run.index("make test\n") < run.index("make test-seeds")


def _step(wf: dict[str, Any], uses: str) -> dict[str, Any]:
    return next(s for s in wf["jobs"]["test"]["steps"] if str(s.get("uses", "")).startswith(uses))


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda wf: wf["jobs"]["test"]["steps"].pop(2), "does not run `make test`"),
        (lambda wf: wf.pop("on", None) or wf.pop(True, None), "not triggered on push"),
        (lambda wf: wf["jobs"]["deploy"].update({"if": "always()"}), "only on main"),
        (lambda wf: wf["jobs"]["test"]["steps"].remove(_step(wf, "actions/cache@")), "no actions/cache"),
        (lambda wf: _step(wf, "actions/cache@")["with"].update({"key": "${{ hashFiles('book/**') }}"}),
         "not the one tools/book_cache.py computes"),
        (lambda wf: _step(wf, "actions/cache@")["with"].update({"path": "_build"}), "_build/.jupyter_cache"),
        (lambda wf: wf["jobs"].pop("seeds"), "test-seeds"),
        (lambda wf: wf["jobs"]["seeds"]["steps"][-1].update({"run": 'make test-seeds SEEDS="1"'}), "test-seeds"),
    ],
)
def test_checker_rejects_broken_workflows(mutate, expected):
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    mutate(wf)
    assert any(expected in p for p in workflow_problems(wf, readme_commands()))


def make_recipe(target: str) -> str:
    """The commands of a Makefile target (its tab-indented lines)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.M)
    assert match, f"no target {target!r} in the Makefile"
    return match.group(1)


def test_make_test_stays_strict():
    test = make_recipe("test")
    assert "notebook-tests" in test and "book-strict-then-site-tests" in test
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^book-strict-then-site-tests: book-strict$", text, re.M)
    chain = make_recipe("book-strict-then-site-tests")
    assert chain.index(" pdf") < chain.index(" site-tests")  # the site tests check the PDF too
    notebooks = make_recipe("notebook-tests")
    assert "--nbval " in notebooks and "--nbval-lax" not in notebooks
    strict = make_recipe("book-strict")
    assert "-W -n --keep-going" in strict and "--all" in strict  # from scratch: every warning again


def test_make_book_executes_stale_pages_then_builds_strictly():
    book = make_recipe("book")
    assert book.index("tools/book_cache.py execute") < book.index("build . -W -n --keep-going")
    assert "environment.pickle" in book  # a failed build cannot be followed by a silent incremental one


def test_mutation_runs_only_tests_that_need_nothing_but_the_package():
    # mutmut copies ebm_utils/ and tests/ only: a test that reads tools/ or the book
    # must be left out of its selection, or the clean run fails and nothing is measured
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    ignored = {a.removeprefix("--ignore=") for a in cfg["pytest_add_cli_args_test_selection"] if a.startswith("--ignore=")}
    needs_tools = {f"tests/{p.name}" for p in sorted((ROOT / "tests").glob("test_*.py"))
                   if re.search(r'ROOT / "tools"|parents\[1\] / "tools"', p.read_text(encoding="utf-8"))}
    assert needs_tools and needs_tools <= ignored, sorted(needs_tools - ignored)
