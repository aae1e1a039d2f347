"""What a build is: the book's version, its commit, and where its repository lives.

One home for facts that several places print or derive:

* the repository URL and branch come from ``_config.yml`` (``repository:``), the
  only place that names them;
* the version comes from ``CITATION.cff`` (the citation is what readers quote);
* the commit comes from ``EBM_BUILD_COMMIT`` or ``GITHUB_SHA`` when set (CI),
  otherwise from ``git``; with neither it is ``unknown``.

As a Sphinx extension it prints "version X · commit Y" in the footer of every
page; ``tools/pdf.py`` prints the same line on the PDF's first page, and
``tools/colab_cell.py`` pins every notebook's install cell to the tag ``v<version>``.
"""
from __future__ import annotations

import html
import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Repository:
    """The book's repository as ``_config.yml`` names it."""

    url: str
    branch: str
    path_to_book: str = ""

    @property
    def github_path(self) -> str:
        """``owner/name`` of a GitHub URL (the launch services need it)."""
        prefix = "https://github.com/"
        if not self.url.startswith(prefix) or self.url.rstrip("/").count("/") != 4:
            raise ValueError(f"repository.url must be https://github.com/<owner>/<name>, got {self.url!r}")
        return self.url[len(prefix):].rstrip("/").removesuffix(".git")


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def repository(root: Path = ROOT) -> Repository:
    """``repository:`` of ``_config.yml``; a clear error when it is missing."""
    repo = load_yaml(root / "_config.yml").get("repository") or {}
    if not repo.get("url"):
        raise ValueError(f"{root / '_config.yml'}: repository.url is not set")
    return Repository(str(repo["url"]).rstrip("/"), str(repo.get("branch", "main")),
                      str(repo.get("path_to_book", "") or "").strip("/"))


def book_version(root: Path = ROOT) -> str:
    """The ``version`` of ``CITATION.cff``."""
    version = load_yaml(root / "CITATION.cff").get("version")
    if not version:
        raise ValueError(f"{root / 'CITATION.cff'}: no version")
    return str(version)


def install_ref(root: Path = ROOT) -> str:
    """The git ref a reader's install of ``ebm_utils`` is pinned to: the tag of this version."""
    return f"v{book_version(root)}"


def build_commit(root: Path = ROOT) -> str:
    """The commit being built (12 hex digits), ``+modified`` for a dirty tree, or ``unknown``."""
    for var in ("EBM_BUILD_COMMIT", "GITHUB_SHA"):
        if os.environ.get(var):
            return os.environ[var][:12]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}+modified" if dirty else sha


@lru_cache(maxsize=None)
def build_line(root: Path = ROOT) -> tuple[str, str]:
    """``(version, commit)`` of this build (computed once per process)."""
    return book_version(root), build_commit(root)


def footer_html(root: Path = ROOT) -> str:
    """The footer paragraph: version and commit, the commit linked to the repository."""
    version, commit = build_line(root)
    sha = commit.split("+")[0]
    repo = repository(root)
    commit_html = html.escape(commit)
    if sha != "unknown":
        commit_html = f'<a href="{html.escape(repo.url)}/commit/{html.escape(sha)}">{commit_html}</a>'
    return (f'<p class="ebm-build-info">Version {html.escape(version)} · commit {commit_html} · '
            f'<a href="{html.escape(repo.url)}">source</a></p>')


def _set_footer(app: Any, config: Any) -> None:
    options = dict(config.html_theme_options or {})
    extra = options.get("extra_footer", "")
    options["extra_footer"] = f"{extra}{footer_html(Path(app.confdir))}"
    config.html_theme_options = options
    version, commit = build_line(Path(app.confdir))
    config.html_context = {**(config.html_context or {}), "ebm_version": version, "ebm_commit": commit}


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _set_footer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
