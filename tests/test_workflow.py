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
    deploy = jobs.get("deploy", {})
    if "deploy-pages" not in " ".join(str(s.get("uses", "")) for s in deploy.get("steps", [])):
        problems.append("no deploy-pages step")
    if "refs/heads/main" not in str(deploy.get("if", "")) or deploy.get("needs") != "test":
        problems.append("deploy must need the test job and run only on main")
    return problems


def test_readme_has_the_two_commands():
    assert readme_commands() == ["make book", "make test"]


def test_workflow_runs_the_readme_commands_and_deploys_from_main():
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert workflow_problems(wf, readme_commands()) == []


def test_ci_entry_point_runs_make_test():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", run, re.M)


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda wf: wf["jobs"]["test"]["steps"].pop(2), "does not run `make test`"),
        (lambda wf: wf.pop("on", None) or wf.pop(True, None), "not triggered on push"),
        (lambda wf: wf["jobs"]["deploy"].update({"if": "always()"}), "only on main"),
    ],
)
def test_checker_rejects_broken_workflows(mutate, expected):
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    mutate(wf)
    assert any(expected in p for p in workflow_problems(wf, readme_commands()))
