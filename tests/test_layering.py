"""ebm_utils is layered: a module imports only modules of lower layers (read from the code's own imports).

Every module declares its layer below.  The check parses each module with
``ast`` and collects every import of a sibling module, wherever it stands (top
level, inside a function, under ``if TYPE_CHECKING``).  It fails when a module
imports a module of its own or a higher layer, when two modules import each
other, when a module has no declared layer, or when a declared module is gone.
The package's ``__init__`` is the lazy facade: nothing may import it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "ebm_utils"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: The declared layer of every module, foundations first.
LAYERS: dict[str, int] = {
    # 0: argument checks
    "_validation": 0,
    # 1: randomness, sympy vocabulary, figure style
    "seeding": 1,
    "symbolic": 1,
    "plotting": 1,
    # 2: losses, derivations, checks, data, the energy interface
    "losses": 2,
    "equality": 2,
    "checks": 2,
    "data": 2,
    "energies": 2,
    # 3: training, inference, the models, the chain rule, costs
    "training": 3,
    "inference": 3,
    "continuous_energies": 3,
    "label_energies": 3,
    "chain_rule": 3,
    "derivation": 3,
    "costs": 3,
    # 4: what builds on those
    "landscape": 4,
    "sampling": 4,
    "verification": 4,
    "langevin": 4,
    # 5: estimators built on the samplers (part 2)
    "ml_gradient": 5,
    # the lazy package facade imports nothing statically and is imported by nothing
    "__init__": 99,
}


def internal_imports(source: str, package: str = PACKAGE) -> set[str]:
    """The sibling modules a module's source imports (``"__init__"`` for the package itself)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or (node.level == 0 and node.module and node.module.split(".")[0] == package):
                parts = (node.module or "").split(".") if node.level == 1 else node.module.split(".")[1:]
                parts = [p for p in parts if p]
                if parts:
                    found.add(parts[0])
                else:  # `from . import a, b`: submodules (or names of the facade)
                    found.update(alias.name for alias in node.names)
            elif node.level > 1:
                found.add("__init__")  # beyond the package: not allowed either
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package:
                    found.add(parts[1] if len(parts) > 1 else "__init__")
    return found


def layering_violations(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """Everything wrong with an import graph ``{module: modules it imports}`` under ``layers``."""
    problems = []
    for module in sorted(graph):
        if module not in layers:
            problems.append(f"{module} has no declared layer")
    for module in sorted(set(layers) - set(graph)):
        problems.append(f"{module} has a declared layer but no module")
    for module, imported in sorted(graph.items()):
        for other in sorted(imported):
            if other not in graph:
                problems.append(f"{module} imports {other}, which is not a module of the package")
            elif module in graph.get(other, set()):
                if module < other:
                    problems.append(f"{module} and {other} import each other")
            elif module in layers and other in layers and layers[other] >= layers[module]:
                problems.append(
                    f"{module} (layer {layers[module]}) imports {other} (layer {layers[other]}): "
                    "a module may only import lower layers"
                )
    return problems


def package_graph(root: Path = ROOT) -> dict[str, set[str]]:
    return {p.stem: internal_imports(p.read_text(encoding="utf-8")) for p in sorted(root.glob("*.py"))}


def test_the_package_is_layered():
    graph = package_graph()
    assert layering_violations(graph, LAYERS) == []
    assert graph["__init__"] == set(), "the facade must load its submodules lazily"
    assert graph["_validation"] == set()


def test_import_forms_are_all_seen():
    source = (
        "from . import seeding\n"
        "from .losses import nll_loss\n"
        "import ebm_utils.checks\n"
        "from ebm_utils.data import ring\n"
        "from ebm_utils import plotting\n"
        "import torch\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .energies import Energy\n"
        "def f():\n"
        "    from .sampling import sample_labels\n"
    )
    assert internal_imports(source) == {"seeding", "losses", "checks", "data", "plotting", "energies", "sampling"}


def test_a_bad_import_fails_the_check():
    """Feed the check a low module that imports a high one, from real source text."""
    graph = package_graph()
    source = (ROOT / "losses.py").read_text(encoding="utf-8")
    graph["losses"] = internal_imports(source + "\n\ndef _late():\n    from .landscape import separation\n")
    problems = layering_violations(graph, LAYERS)
    assert problems == ["losses (layer 2) imports landscape (layer 4): a module may only import lower layers"]
    # sampling imports losses, so the same import from sampling closes a cycle
    graph["losses"] = internal_imports(source + "\nfrom .sampling import sample_labels\n")
    assert layering_violations(graph, LAYERS) == ["losses and sampling import each other"]


def test_an_import_of_the_same_layer_fails():
    graph = package_graph()
    graph["training"] = graph["training"] | {"inference"}
    assert layering_violations(graph, LAYERS) == [
        "training (layer 3) imports inference (layer 3): a module may only import lower layers"
    ]


def test_modules_that_import_each_other_fail():
    graph = {"a": {"b"}, "b": {"a"}}
    assert "a and b import each other" in layering_violations(graph, {"a": 0, "b": 1})
    # also when neither has a layer, and however the layers are declared
    assert "a and b import each other" in layering_violations(graph, {"a": 1, "b": 0})


def test_a_module_without_a_layer_fails():
    graph = package_graph()
    graph["newcomer"] = {"losses"}
    assert layering_violations(graph, LAYERS) == ["newcomer has no declared layer"]
    layers = dict(LAYERS)
    del layers["costs"]
    assert layering_violations(package_graph(), layers) == ["costs has no declared layer"]


def test_a_stale_layer_and_the_facade_fail():
    layers = {**LAYERS, "comparison": 3}
    assert layering_violations(package_graph(), layers) == ["comparison has a declared layer but no module"]
    graph = package_graph()
    graph["sampling"] = graph["sampling"] | internal_imports("from . import nll_loss\n")
    assert any("sampling" in p and "nll_loss" in p for p in layering_violations(graph, LAYERS))
    graph = package_graph()
    graph["costs"] = graph["costs"] | internal_imports("import ebm_utils\n")
    assert layering_violations(graph, LAYERS) == [
        "costs (layer 3) imports __init__ (layer 99): a module may only import lower layers"
    ]


@pytest.mark.parametrize("gone", ["comparison", "pairwise", "toy_energies"])
def test_chapter_shaped_modules_are_gone(gone):
    assert not (ROOT / f"{gone}.py").exists()
