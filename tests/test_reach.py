"""The book where its readers are: Colab and Binder, the citation, the download of every page.

Everything up to the launch is checked here (the launch itself needs the network):

* every notebook page's first code cell is the install cell of ``tools/colab_cell.py``,
  for the repository of ``_config.yml`` at the tag of ``CITATION.cff``'s version,
  and it prints nothing where ``ebm_utils`` is installed (nbval, the book build);
* the launch buttons are configured for that repository (``tests/site`` checks
  the URLs each built page carries);
* Binder's environment pins every package exactly as ``requirements.txt`` does;
* ``CITATION.cff`` is valid under the Citation File Format 1.2.0 schema, and the
  BibTeX of "How to cite" says the same;
* ``notebooks.zip`` holds every page and installs offline.

Each checker is also fed a wrong input and must reject it.
"""
from __future__ import annotations

import copy
import json
import re
import sys
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import colab_cell  # noqa: E402
from book_build import build_info, notebooks_zip  # noqa: E402

CFF_SCHEMA = ROOT / "tests" / "data" / "citation-file-format-1.2.0.schema.json"
NOTEBOOKS = colab_cell.notebook_pages()


# -- the install cell ---------------------------------------------------------

def test_the_book_has_notebook_pages() -> None:
    assert len(NOTEBOOKS) >= 10, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_every_notebook_starts_with_the_install_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert colab_cell.problems(nb) == [], f"{path}: run `python tools/colab_cell.py apply`"


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title")] + [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_the_install_cell_is_derived_from_the_config() -> None:
    repo, ref = build_info.repository(), build_info.install_ref()
    source = colab_cell.cell_source()
    assert f'"ebm_utils @ git+{repo.url}@{ref}"' in source
    assert ref == "v" + yaml.safe_load((ROOT / "CITATION.cff").read_text())["version"]
    assert repo.url == yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_apply_inserts_the_cell_first_and_is_idempotent() -> None:
    nb = _notebook("x = 1", "print(x)")
    once = colab_cell.applied(nb)
    assert colab_cell.problems(once) == []
    code = [c for c in once.cells if c.cell_type == "code"]
    assert code[0].source == colab_cell.cell_source() and [c.source for c in code[1:]] == ["x = 1", "print(x)"]
    assert once.cells[0].cell_type == "markdown"
    assert nbformat.writes(colab_cell.applied(once)) == nbformat.writes(once)
    nbformat.validate(once)


def test_apply_moves_and_updates_an_old_cell() -> None:
    old = colab_cell.cell_source().replace(build_info.install_ref(), "v0.0.1")
    nb = _notebook("x = 1", old, old)
    assert colab_cell.problems(nb)  # two cells, not first, stale tag
    fixed = colab_cell.applied(nb)
    code = [c.source for c in fixed.cells if c.cell_type == "code"]
    assert code == [colab_cell.cell_source(), "x = 1"] and colab_cell.problems(fixed) == []


@pytest.mark.parametrize("break_it, expected", [
    (lambda nb: nb.cells.pop(1), "no install cell"),
    (lambda nb: nb.cells.insert(1, nbformat.v4.new_code_cell("import math")), "not the first code cell"),
    (lambda nb: nb.cells[1].metadata.update(tags=[]), "not tagged"),
    (lambda nb: setattr(nb.cells[1], "source", nb.cells[1].source.replace("ebm-textbook", "other")), "differs"),
    (lambda nb: nb.cells[1].outputs.append(nbformat.v4.new_output("stream", text="Installing")), "has outputs"),
])
def test_the_check_catches_a_wrong_cell(break_it, expected: str) -> None:  # type: ignore[no-untyped-def]
    nb = colab_cell.applied(_notebook("x = 1"))
    break_it(nb)
    assert any(expected in p for p in colab_cell.problems(nb)), colab_cell.problems(nb)


def test_the_check_command_fails_on_a_notebook_without_the_cell(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "page.ipynb"
    nbformat.write(_notebook("x = 1"), path)
    assert colab_cell.main(["check", str(path)]) == 1
    assert "no install cell" in capsys.readouterr().out
    assert colab_cell.main(["apply", str(path)]) == 0
    text = path.read_text()
    assert colab_cell.main(["apply", str(path)]) == 0 and path.read_text() == text  # idempotent
    assert colab_cell.main(["check", str(path)]) == 0


def test_the_install_cell_runs_silently_here_and_installs_where_the_package_is_missing() -> None:
    """In a real kernel: no output when ebm_utils imports; a pip install of the pinned spec when it does not."""
    from nbclient import NotebookClient

    fake_pip = (  # stands in for %pip (no network here): prints what it would install
        "from IPython.core.magic import register_line_magic\n"
        "@register_line_magic\n"
        "def pip(line):\n"
        "    print('PIP', line)\n"
        "del pip"
    )
    here = colab_cell.applied(_notebook())
    hide = "import sys\nsys.modules['ebm_utils'] = None  # import ebm_utils now raises ModuleNotFoundError"
    colab = colab_cell.applied(_notebook(fake_pip, hide))
    colab.cells = [colab.cells[0], colab.cells[2], colab.cells[3], colab.cells[1]]  # the install cell last
    for nb in (here, colab):
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    cell = next(c for c in here.cells if c.cell_type == "code")
    assert cell.outputs == []
    out = "".join(o.get("text", "") for o in colab.cells[-1].outputs)
    assert out.strip() == f'PIP install --quiet "{colab_cell.install_spec()}"'


# -- launch buttons and Binder ------------------------------------------------

def test_launch_buttons_are_configured() -> None:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    buttons = cfg["launch_buttons"]
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert buttons["binderhub_url"] == "https://mybinder.org"
    repo = build_info.repository()
    assert repo.github_path.count("/") == 1 and repo.branch
    with pytest.raises(ValueError, match="github.com"):
        build_info.Repository("https://example.org/a/b", "main").github_path


def requirement_pins(path: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line (names normalised, local labels kept)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def binder_problems(binder: Path, requirements: Path) -> list[str]:
    """How Binder's environment differs from requirements.txt; empty when it matches."""
    problems = []
    want, got = requirement_pins(requirements), requirement_pins(binder / "requirements.txt")
    for name, version in sorted(want.items()):
        if name not in got:
            problems.append(f"{name} is not pinned in binder/requirements.txt")
        elif got[name].split("+")[0] != version.split("+")[0]:
            problems.append(f"{name}: binder pins {got[name]}, requirements.txt {version}")
    problems += [f"{name} is pinned in binder only" for name in sorted(set(got) - set(want))]
    text = (binder / "requirements.txt").read_text()
    if not got.get("torch", "").endswith("+cpu") or "download.pytorch.org/whl/cpu" not in text:
        problems.append("torch is not the CPU build")
    runtime = (binder / "runtime.txt").read_text().strip() if (binder / "runtime.txt").exists() else ""
    if runtime != "python-3.11":
        problems.append(f"runtime.txt is {runtime!r}, not python-3.11")
    post = (binder / "postBuild").read_text() if (binder / "postBuild").exists() else ""
    if "pip install" not in post or "--no-deps" not in post:
        problems.append("postBuild does not install ebm_utils from the checkout")
    return problems


def test_binder_environment_matches_requirements() -> None:
    assert binder_problems(ROOT / "binder", ROOT / "requirements.txt") == [], "run `make binder`"


def test_the_binder_check_can_fail(tmp_path: Path) -> None:
    binder = tmp_path / "binder"
    binder.mkdir()
    (binder / "requirements.txt").write_text("sympy==1.13.0\ntorch==2.13.0\nextra==1.0\n")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("sympy==1.14.0\ntorch==2.13.0\nnumpy==2.4.6\n")
    problems = binder_problems(binder, reqs)
    assert "sympy: binder pins 1.13.0, requirements.txt 1.14.0" in problems
    assert "numpy is not pinned in binder/requirements.txt" in problems
    assert "extra is pinned in binder only" in problems
    assert "torch is not the CPU build" in problems
    assert any("runtime.txt" in p for p in problems) and any("postBuild" in p for p in problems)


# -- citation -----------------------------------------------------------------

def cff_errors(data: dict) -> list[str]:
    schema = json.loads(CFF_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return sorted(f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(data))


def citation() -> dict:
    # dates stay strings, as the CFF schema (and cffconvert) read them
    return yaml.load((ROOT / "CITATION.cff").read_text(), Loader=yaml.BaseLoader) | {
        "preferred-citation": _typed_preferred()}


def _typed_preferred() -> dict:
    # BaseLoader reads every scalar as a string; the schema wants `year` an integer
    data = yaml.load((ROOT / "CITATION.cff").read_text(), Loader=yaml.BaseLoader)["preferred-citation"]
    return {**data, "year": int(data["year"])}


def test_citation_cff_is_valid() -> None:
    assert cff_errors(citation()) == []


@pytest.mark.parametrize("break_it", [
    lambda d: d.pop("authors"),
    lambda d: d.update({"cff-version": "9.9"}),
    lambda d: d.update({"date-released": "29 November 2026"}),
    lambda d: d.update({"repository-code": "not a url"}),
    lambda d: d.update({"titel": "typo"}),
])
def test_the_citation_validator_can_fail(break_it) -> None:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(citation())
    break_it(data)
    assert cff_errors(data)


def test_how_to_cite_agrees_with_citation_cff() -> None:
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "## How to cite" in intro
    bib = re.search(r"```bibtex\n(.*?)```", intro, re.S)
    assert bib, "no BibTeX block in book/intro.md"
    fields = dict(re.findall(r"^\s*(\w+)\s*=\s*\{+(.*?)\}+,?\s*$", bib.group(1), re.M))
    cff = citation()
    assert fields["title"] == cff["title"]
    assert fields["version"] == cff["version"]
    assert fields["url"] == cff["repository-code"] == build_info.repository().url
    assert fields["year"] == cff["date-released"][:4]
    assert fields["author"] == cff["authors"][0]["name"]


# -- build line and the download of every page ----------------------------------

def test_the_footer_names_version_and_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EBM_BUILD_COMMIT", "0123456789abcdef0123")
    build_info.build_line.cache_clear()
    try:
        footer = build_info.footer_html()
    finally:
        build_info.build_line.cache_clear()
    assert f"Version {build_info.book_version()}" in footer
    assert "commit <a href=\"https://github.com/" in footer and ">0123456789ab</a>" in footer


def test_the_commit_comes_from_git_without_the_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EBM_BUILD_COMMIT", raising=False)
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    assert re.fullmatch(r"[0-9a-f]{12}(\+modified)?", build_info.build_commit())
    assert build_info.build_commit(tmp_path) == "unknown"  # not a repository


def test_notebooks_zip_holds_every_page_and_is_reproducible(tmp_path: Path) -> None:
    pages = NOTEBOOKS + [ROOT / "book" / "intro.md"]
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    names = notebooks_zip.write_zip(ROOT, pages, a)
    notebooks_zip.write_zip(ROOT, pages, b)
    assert a.read_bytes() == b.read_bytes()
    for p in pages:
        assert f"ebm-book/{p.relative_to(ROOT).as_posix()}" in names
    for f in ("README.md", "requirements.txt", "pyproject.toml", "CITATION.cff", "ebm_utils/__init__.py"):
        assert f"ebm-book/{f}" in names
    with zipfile.ZipFile(a) as zf:
        assert zf.testzip() is None
        readme = zf.read("ebm-book/README.md").decode()
        assert "pip install -r requirements.txt" in readme and build_info.book_version() in readme
        # what pyproject.toml names as packages is inside, so `pip install -e .` works unpacked
        assert all(f"ebm-book/{pkg}/__init__.py" in zf.namelist() for pkg in notebooks_zip.PACKAGE_DIRS)


# -- make pdf without a browser --------------------------------------------------

@pytest.mark.parametrize("command", ["preflight", "print"])
def test_make_pdf_without_chromium_says_what_to_install_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys,
                                                                    command: str) -> None:  # type: ignore[no-untyped-def]
    import pdf

    monkeypatch.setattr(pdf, "chromium_path", lambda: None)
    assert pdf.main([command]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "apt-get install chromium" in err and "Traceback" not in err


def test_make_pdf_checks_for_chromium_first() -> None:
    recipe = re.search(r"^pdf:[^\n]*\n((?:\t[^\n]*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe and recipe.group(1).lstrip().startswith("@$(BIN)/python tools/pdf.py preflight")


# -- accessibility fixes of the theme's HTML ------------------------------------

def test_sidebar_summaries_get_a_name_and_nothing_else_changes() -> None:
    from book_build.accessibility import fix_roles, name_sidebar_summaries

    page = ('<nav class="bd-links bd-docs-nav" aria-label="Main"><ul><li><a href="a.html">A</a></li>'
            '<li class="has-children"><a class="reference internal" href="b.html">1.2 <em>B</em> &amp; C</a>'
            '<details open="open"><summary><span class="toctree-toggle" role="presentation"></span></summary>'
            '<ul><li>x</li></ul></details></li></ul></nav>'
            '<main><a href="z.html">Z</a><details><summary>Solution</summary></details></main>')
    fixed = name_sidebar_summaries(page)
    assert '<summary aria-label="Show the sections of 1.2 B &amp; C">' in fixed
    assert fixed.count("<summary>") == 1 and "<summary>Solution</summary>" in fixed  # the page body is untouched
    assert name_sidebar_summaries(fixed) == fixed
    assert fix_roles('<div class="citation" role="doc-biblioentry">') == '<div class="citation" role="listitem">'


def test_contents_match_a_chapter_heading_despite_chromiums_bookmark_quirks() -> None:
    from pdf import same_heading

    title = "1.1(h) Inference with and without a latent variable"
    assert same_heading(title, title)
    # a wrapped heading's bookmark repeats its first line
    assert same_heading("1.1(h) Inference with and without a latent1.1(h) Inference with and without a latentvariable", title)
    assert same_heading("2(a) Langevin: sampling from exp(-bF)", "2(a) Langevin: sampling from exp(−βF)")
    assert not same_heading("1.1(g) A loss with negative examples", title)
    assert not same_heading("Exercises for chapter 1.2", "Exercises for chapter 1.1")
