"""`import ebm_utils` is light, and every name it promises resolves (PEP 562 lazy loading)."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "sympy", "numpy", "matplotlib")

PROBE = """
import json, sys
import ebm_utils
light = sorted(m for m in {heavy!r} if m in sys.modules)
missing = []
for name in ebm_utils.__all__:
    try:
        getattr(ebm_utils, name)
    except Exception as exc:  # report every failure, not only the first
        missing.append(f"{{name}}: {{exc!r}}")
print(json.dumps({{"loaded_on_import": light, "missing": missing, "dir": sorted(dir(ebm_utils))}}))
"""


def _probe() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_import_is_light_and_every_name_resolves():
    result = _probe()
    assert result["loaded_on_import"] == [], "import ebm_utils must not load torch, sympy, numpy or matplotlib"
    assert result["missing"] == []
    import ebm_utils

    assert set(ebm_utils.__all__) <= set(result["dir"])


def test_lazy_names_are_the_real_objects():
    import ebm_utils
    from ebm_utils import losses
    from ebm_utils.energies import Energy

    assert ebm_utils.nll_loss is losses.nll_loss and ebm_utils.Energy is Energy
    assert ebm_utils.losses is losses
    for gone in ("comparison", "pairwise", "toy_energies", "init_params"):
        assert not hasattr(ebm_utils, gone)


def test_the_probe_can_fail():
    """A package that imports torch eagerly is caught: the probe sees torch in sys.modules."""
    out = subprocess.run(
        [sys.executable, "-c", "import torch, sys; print(sorted(m for m in %r if m in sys.modules))" % (HEAVY,)],
        capture_output=True, text=True, check=True,
    )
    assert "torch" in out.stdout


def test_no_control_characters_in_the_sources():
    # "\\beta" written through a non-raw string becomes a backspace and "eta" in a docstring
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bad = [f"{p.relative_to(root)}: {text[:text.index(ch)].count(chr(10)) + 1}"
           for d in ("ebm_utils", "tools", "tests") for p in sorted((root / d).rglob("*.py"))
           for text in [p.read_text(encoding="utf-8")]
           for ch in sorted({c for c in text if ord(c) < 32 and c not in "\t\n\r"})[:1]]
    assert not bad, f"control characters in {bad}"
