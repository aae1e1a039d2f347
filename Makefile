# The two commands of the README: `make book` and `make test`.
# Both create .venv on first use and reinstall only when requirements change.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book
NOEXEC := _build/_config.noexec.yml
# one thread per process: nbval runs two kernels side by side on two cores
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: help venv book book-student test notebook-tests test-seeds mutation book-strict book-strict-then-site-tests pdf links-external colab-cells binder site-tests bench lab notebooks clean
.DEFAULT_GOAL := help

help:
	@echo "make book       build the HTML book in _build/html (executes notebooks via the cache)"
	@echo "make test       unit tests, nbval on every notebook, strict book build, HTML and browser tests"
	@echo "make test-seeds execute every notebook under other seeds (SEEDS=\"1 2 3 4 5\"): every assert must hold"
	@echo "make mutation   mutation testing (mutmut) of the checkers: do the tests catch a wrong answer?"
	@echo "make book-student  the book with exercise solutions hidden, in _build/student"
	@echo "make pdf        the PDF edition, _build/pdf/book.pdf (needs Chromium)"
	@echo "make colab-cells  insert or update the Colab install cell of every notebook"
	@echo "make links-external  check the book's external links (needs the network; weekly in CI)"
	@echo "make bench      time cold, warm and incremental builds on this machine (prints, never fails)"
	@echo "make lab        JupyterLab on the book, with ebm_utils importable"
	@echo "make notebooks  re-execute every notebook in place (before committing)"
	@echo "make clean      remove _build and caches (keeps .venv)"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# 1. execute the notebooks whose code, imported ebm_utils modules or requirements
#    changed, one kernel per core, into the cache that Jupyter Book reads;
# 2. render (Jupyter Book finds every notebook in the cache).
# A failed build forgets Sphinx's saved state, so the next build reads every page
# again and repeats the warnings (an incremental one would pass in silence).
book: $(STAMP)
	$(BIN)/python tools/book_cache.py execute
	$(JB) build . -W -n --keep-going || { rm -f _build/.doctrees/environment.pickle; exit 1; }

# unit tests and nbval run side by side with the built book's chain: the strict build
# (it renders the committed outputs, so it needs nothing from nbval), the PDF, then the
# tests of the built HTML and PDF; the two lines share the two cores
test: $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target notebook-tests book-strict-then-site-tests

book-strict-then-site-tests: book-strict
	$(MAKE) --no-print-directory pdf
	$(MAKE) --no-print-directory site-tests

# unit tests of ebm_utils and tools/, and nbval on every notebook (strict: the
# outputs must match the committed ones); two kernels at a time, one thread each
notebook-tests: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg --ignore=tests/site tests book

# every notebook under other book seeds (EBM_SEED), two kernels at a time; outputs not compared
SEEDS ?= 1 2 3 4 5
test-seeds: $(STAMP)
	$(TEST_ENV) $(BIN)/python tools/run_seeds.py --seeds "$(SEEDS)" --jobs 2

# mutation testing of the modules that check the book (see tools/mutation.py)
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-mutation.txt
	$(BIN)/python tools/mutation.py

# the PDF edition: the single-page HTML (from the committed outputs, like book-strict)
# printed by Chromium, with a title page, numbered contents and page numbers;
# without Chromium it stops with one line saying what to install
pdf: $(STAMP)
	@$(BIN)/python tools/pdf.py preflight
	mkdir -p _build
	sed 's/^\(  *execute_notebooks:\).*/\1 "off"/' _config.yml > $(NOEXEC)
	grep -q 'execute_notebooks: "off"' $(NOEXEC)
	$(JB) build . -W -n --keep-going --builder singlehtml --config $(NOEXEC)
	$(BIN)/python tools/pdf.py print

# the Colab/Binder install cell, first code cell of every notebook (idempotent)
colab-cells: $(STAMP)
	$(BIN)/python tools/colab_cell.py apply

# Binder's pins from requirements.txt (torch as the CPU build); tests/test_reach.py checks them
binder:
	{ sed -n '1,4p' binder/requirements.txt; grep -E '^[A-Za-z0-9_.-]+==' requirements.txt \
	    | sed 's/^torch==\(.*\)$$/torch==\1+cpu/'; } > binder/requirements.txt.new
	mv binder/requirements.txt.new binder/requirements.txt

# external links of the built book (network; the weekly workflow job runs this)
links-external: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-links.txt
	$(BIN)/linkchecker --check-extern --no-status --ignore-url '^file://.*/_static/' \
	    --ignore-url '^https?://127\.0\.0\.1' _build/html/index.html

# the built HTML and PDF: no remote assets; every internal link and anchor resolves;
# every page in headless Chromium with axe-core (skips without it); the PDF
site-tests: $(STAMP)
	$(BIN)/python -m pytest -rs tests/site

# strict build from the committed outputs (nbval checks that they are what the code
# prints), from scratch (--all): an incremental build would not repeat the warnings
# of pages it does not re-read
book-strict: $(STAMP)
	mkdir -p _build
	sed 's/^\(  *execute_notebooks:\).*/\1 "off"/' _config.yml > $(NOEXEC)
	grep -q 'execute_notebooks: "off"' $(NOEXEC)
	$(JB) build . -W -n --keep-going --all --config $(NOEXEC)

# students' edition: exercise solutions hidden (sphinx-exercise's hide_solutions)
book-student: $(STAMP)
	mkdir -p _build
	sed 's/^\(  *execute_notebooks:\).*/\1 "off"/; s/^\(    html_show_sourcelink:.*\)/\1\n    hide_solutions: true/' _config.yml > _build/_config.student.yml
	grep -q 'hide_solutions: true' _build/_config.student.yml
	$(JB) build . -W -n --keep-going --config _build/_config.student.yml --path-output _build/student

# cold, warm and incremental builds against their lower bounds, in a copy of the tree
bench: $(STAMP)
	$(BIN)/python tools/bench.py

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lab.txt
	$(BIN)/jupyter lab book

notebooks: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py $$(find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)

clean:
	rm -rf _build .pytest_cache .hypothesis .jupyter_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
