"""No page seeds anything on its own: all randomness comes from ebm_utils.seeding.

Scans the code cells of every notebook for ``manual_seed(``, ``default_rng(``,
``random.seed(``, ``np.random.seed(`` and ``seed=`` and names the page and
line of each.  Library calls take ``stream=`` instead (``Derivation`` too).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
PATTERNS = re.compile(r"manual_seed\(|default_rng\(|\brandom\.seed\(|\bseed\s*=(?!=)")


def seed_findings(cells: list[str], page: str) -> list[str]:
    """``page, cell c, line l: text`` for every line of code that seeds on its own."""
    found = []
    for c, source in enumerate(cells):
        for number, line in enumerate(source.splitlines(), start=1):
            if not PATTERNS.search(line):
                continue
            found.append(f"{page}, code cell {c}, line {number}: {line.strip()}")
    return found


def code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_draws_randomness_only_from_the_book_seed(path):
    assert seed_findings(code_cells(path), str(path.relative_to(ROOT))) == []


def test_there_are_pages_to_scan():
    assert len(NOTEBOOKS) >= 20


def test_the_scan_names_page_and_line():
    cells = [
        "import torch\ng = torch.Generator().manual_seed(3)\n",
        "w = net.init(seed=1)\nrng = np.random.default_rng(0)\nrandom.seed(4)\nnp.random.seed(5)\n",
        "d = Derivation(expr, seed=2).step(e, because='x')\nok = seed == 3\n",
        "d = Derivation(\n    expr,\n    seed=2,\n)\npts = random_points(3, 2, seed=1)\n",
        "%matplotlib inline\nx = init_params(seed = 0)\n",
    ]
    assert seed_findings(cells, "book/fake.ipynb") == [
        "book/fake.ipynb, code cell 0, line 2: g = torch.Generator().manual_seed(3)",
        "book/fake.ipynb, code cell 1, line 1: w = net.init(seed=1)",
        "book/fake.ipynb, code cell 1, line 2: rng = np.random.default_rng(0)",
        "book/fake.ipynb, code cell 1, line 3: random.seed(4)",
        "book/fake.ipynb, code cell 1, line 4: np.random.seed(5)",
        "book/fake.ipynb, code cell 2, line 1: d = Derivation(expr, seed=2).step(e, because='x')",
        "book/fake.ipynb, code cell 3, line 3: seed=2,",
        "book/fake.ipynb, code cell 3, line 5: pts = random_points(3, 2, seed=1)",
        "book/fake.ipynb, code cell 4, line 2: x = init_params(seed = 0)",
    ]
