"""Which local Python files a notebook runs: its imports, found from the code.

    .venv/bin/python tools/import_graph.py book/ch1_3/a_simple_loss.ipynb [...]

prints, for each notebook, the files of the repository it loads when executed
(``ebm_utils/__init__.py``, ``ebm_utils/losses.py``, ...).  ``tools/book_cache.py``
puts their contents into each notebook's cache key, so that a change to a
module re-executes exactly the notebooks that import it.

Everything is read with :mod:`ast`; nothing is imported or executed.  A module
is *local* when it is found under one of the search roots (the notebook's own
folder, then the repository root), else it is a third-party module whose
version ``requirements.txt`` pins.  The rules follow Python's import system,
and where the code cannot tell, they over-approximate (a needless re-execution
costs seconds; a missed one shows a reader outputs of old code):

* ``import a.b.c`` and ``from a.b.c import x`` load ``a``, ``a.b`` and ``a.b.c``
  (every package's ``__init__`` runs first); ``from a import b`` loads ``a.b``
  when ``b`` is a submodule of ``a``.
* A bare ``import ebm_utils`` loads only the package's ``__init__`` and what it
  imports.  The name it binds is then followed: ``ebm_utils.losses.f`` adds
  ``ebm_utils.losses``.
* A *lazy* package (one whose ``__init__`` defines a module-level
  ``__getattr__``, PEP 562) can load more on attribute access.  Any access that
  may reach its ``__getattr__`` (``pkg.name`` or ``from pkg import name`` for a
  name its ``__init__`` does not bind, ``from pkg import *``, or the module
  object passed around) adds what that ``__getattr__`` imports, and *every*
  module of the package when it imports by a computed name.
* Imports anywhere in a file count (inside functions too).  A computed import
  (``importlib.import_module(name)``, ``__import__(name)``) or ``%run`` in a
  notebook counts as importing every local module.  A cell that is not valid
  Python imports nothing: the kernel cannot compile it either.
* Data files inside a package folder (anything but ``*.py``) count as part of
  the package's ``__init__``.
"""
from __future__ import annotations

import ast
import json
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "_build", ".venv", "venv", ".git", "node_modules"}
DYNAMIC_IMPORTERS = {"import_module", "__import__"}
DYNAMIC_MAGICS = {"run", "load", "aimport", "autoreload"}
ALL = "*"  # stands for "every local module" in a set of module names


def _is_source(path: Path) -> bool:
    return path.suffix == ".py" and not any(part in SKIP_DIRS for part in path.parts)


class Unresolved(Exception):
    """A computed module name that cannot be worked out from the code."""


@dataclass
class ModuleInfo:
    """What the import system does when a module runs, and on attribute access."""

    name: str
    file: Path
    is_package: bool
    eager: set[str] = field(default_factory=set)  # loaded when this module runs
    bound: set[str] = field(default_factory=set)  # names bound at module level
    lazy: bool = False  # has a module-level __getattr__ (PEP 562)
    getattr_static: set[str] = field(default_factory=set)  # imported by name in __getattr__
    getattr_calls: list[ast.Call] = field(default_factory=list)  # computed imports in it
    getattr_param: str = "name"
    constants: dict[str, object] = field(default_factory=dict)  # module-level str / dict literals

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def attribute_loads(self, attr: str | None) -> set[str]:
        """Modules that ``__getattr__(attr)`` may import (``attr=None``: any attribute)."""
        out = set(self.getattr_static)
        for call in self.getattr_calls:
            try:
                if attr is None:
                    raise Unresolved
                out.add(self._target(call, attr))
            except Unresolved:
                return {ALL}
        return out

    def _target(self, call: ast.Call, attr: str) -> str:
        """The module a computed import in ``__getattr__`` loads when asked for ``attr``."""
        args = list(call.args) + [k.value for k in call.keywords if k.arg in ("name", "package")]
        name = self._eval(args[0], attr) if args else ""
        if not name.startswith("."):
            return name
        package = self._eval(args[1], attr) if len(args) > 1 else ""
        level = len(name) - len(name.lstrip("."))
        parts = package.split(".")
        if not package or level - 1 >= len(parts):
            raise Unresolved
        return ".".join(parts[: len(parts) - (level - 1)] + [name.lstrip(".")]).rstrip(".")

    def _eval(self, expr: ast.expr, attr: str) -> str:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if isinstance(expr, ast.Name):
            if expr.id == self.getattr_param:
                return attr
            if expr.id == "__name__":
                return self.name
            if isinstance(self.constants.get(expr.id), str):
                return str(self.constants[expr.id])
        if isinstance(expr, ast.JoinedStr):
            out = ""
            for v in expr.values:
                if isinstance(v, ast.FormattedValue):
                    if v.conversion not in (-1, 115) or v.format_spec is not None:
                        raise Unresolved
                    out += self._eval(v.value, attr)
                else:
                    out += self._eval(v, attr)
            return out
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return self._eval(expr.left, attr) + self._eval(expr.right, attr)
        if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
            table = self.constants.get(expr.value.id)
            if isinstance(table, dict):
                key = self._eval(expr.slice, attr)
                if key not in table:
                    return ""  # KeyError before any import: loads nothing
                return str(table[key])
        raise Unresolved


class LocalModules:
    """The Python modules that live in this repository, looked up by dotted name.

    ``roots`` are searched in order, like ``sys.path``; a name not found under
    any root is a third-party module and is ignored.
    """

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [Path(r).resolve() for r in roots]
        self._info: dict[str, ModuleInfo] = {}
        self._in_progress: set[str] = set()
        self._found: dict[str, tuple[Path, bool] | None] = {}

    # -- finding modules -------------------------------------------------------
    def find(self, name: str) -> tuple[Path, bool] | None:
        """(file, is_package) of a local module, or None."""
        if name not in self._found:
            self._found[name] = self._find(name)
        return self._found[name]

    def _find(self, name: str) -> tuple[Path, bool] | None:
        parts = name.split(".")
        if not name or not all(p.isidentifier() for p in parts):
            return None
        for root in self.roots:
            if not all((root.joinpath(*parts[:i]) / "__init__.py").is_file() for i in range(1, len(parts))):
                continue
            base = root.joinpath(*parts)
            if (base / "__init__.py").is_file():
                return base / "__init__.py", True
            if base.with_suffix(".py").is_file():
                return base.with_suffix(".py"), False
        return None

    def is_local(self, name: str) -> bool:
        return self.find(name) is not None

    def submodules(self, package: str) -> set[str]:
        """A local package and every module below it (recursively)."""
        found = self.find(package)
        if found is None:
            return set()
        file, is_package = found
        names = {package}
        if is_package:
            for py in sorted(file.parent.rglob("*.py")):
                rel = py.relative_to(file.parent)
                if not _is_source(rel):
                    continue
                parts = list(rel.with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                name = ".".join([package, *parts])
                if self.find(name) is not None:
                    names.add(name)
        return names

    @cached_property
    def everything(self) -> set[str]:
        """Every local module under every root: the answer to a computed import."""
        names: set[str] = set()
        for root in self.roots:
            for entry in sorted(root.iterdir()):
                if entry.name in SKIP_DIRS or entry.name.startswith("."):
                    continue
                if entry.is_dir() and (entry / "__init__.py").is_file():
                    names |= self.submodules(entry.name)
                elif entry.suffix == ".py" and entry.stem.isidentifier():
                    names.add(entry.stem)
        return names

    def data_files(self, package: str) -> list[Path]:
        """Files in a package's own folder that are not Python source (styles, tables, ...)."""
        found = self.find(package)
        if found is None or not found[1]:
            return []
        folder = found[0].parent
        return sorted(
            p for p in folder.iterdir()
            if p.is_file() and p.suffix not in (".py", ".pyc") and not p.name.startswith(".")
        ) + sorted(
            p for d in folder.iterdir() if d.is_dir() and d.name not in SKIP_DIRS
            and not (d / "__init__.py").exists() for p in d.rglob("*")
            if p.is_file() and not any(part in SKIP_DIRS for part in p.relative_to(d).parts)
        )

    # -- what a module does ----------------------------------------------------
    def info(self, name: str) -> ModuleInfo:
        if name in self._info:
            return self._info[name]
        found = self.find(name)
        if found is None:
            raise KeyError(name)
        info = ModuleInfo(name, *found)
        self._info[name] = info
        self._in_progress.add(name)
        try:
            self._read(info)
        finally:
            self._in_progress.discard(name)
        return info

    def _read(self, info: ModuleInfo) -> None:
        try:
            source = info.file.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(info.file))
            if "TYPE_CHECKING" in source:
                tree = _without_type_checking(tree)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            info.eager = {ALL}  # cannot read it: assume the worst
            return
        getattr_defs = [
            node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "__getattr__"
        ]
        info.bound = _module_level_names(tree)
        info.lazy = bool(getattr_defs) or "__getattr__" in info.bound
        if getattr_defs:
            info.constants = _module_level_constants(tree)
        body = [n for n in tree.body if n not in getattr_defs]
        info.eager = self.scan(ast.Module(body=body, type_ignores=[]), info.package)
        if info.lazy and not getattr_defs:
            info.getattr_static = {ALL}  # __getattr__ made elsewhere (a lazy-loading library)
        for node in getattr_defs:
            if node.args.args:
                info.getattr_param = node.args.args[0].arg
            scanner = _Scanner(self, info.package, computed=info.getattr_calls)
            info.getattr_static |= scanner.run(ast.Module(body=node.body, type_ignores=[]))

    def closure(self, names: set[str]) -> set[str]:
        """Every local module that runs when ``names`` are imported."""
        todo = set(names)
        done: set[str] = set()
        while todo:
            name = todo.pop()
            if name == ALL:
                todo |= self.everything - done
                continue
            if name in done or not self.is_local(name):
                continue
            done.add(name)
            parts = name.split(".")
            todo |= {".".join(parts[:i]) for i in range(1, len(parts))} - done
            todo |= self.info(name).eager - done
        return done

    def files(self, names: set[str]) -> list[Path]:
        """The files that make up ``closure(names)``, package data included."""
        out: set[Path] = set()
        for name in self.closure(names):
            info = self.info(name)
            out.add(info.file)
            if info.is_package:
                out.update(self.data_files(name))
        return sorted(out)

    # -- reading code ----------------------------------------------------------
    def scan(self, tree: ast.AST, package: str | None) -> set[str]:
        """Local modules that running ``tree`` may load (module names, or ALL)."""
        return _Scanner(self, package).run(tree)


def _without_type_checking(tree: ast.Module) -> ast.Module:
    """Drop ``if TYPE_CHECKING:`` bodies: they never run, so they neither import nor bind."""
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            stmts = getattr(node, name, None)
            if not isinstance(stmts, list):
                continue
            kept: list[ast.stmt] = []
            for s in stmts:
                test = s.test if isinstance(s, ast.If) else None
                if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                    isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
                ):
                    kept.extend(s.orelse)
                else:
                    kept.append(s)
            setattr(node, name, kept)
    return tree


def _module_level_names(tree: ast.Module) -> set[str]:
    """Names bound at module level (not inside functions or classes)."""
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))

    def visit(stmts: list[ast.stmt]) -> None:
        for s in stmts:
            if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(s.name)
            elif isinstance(s, ast.Assign):
                for t in s.targets:
                    targets(t)
            elif isinstance(s, (ast.AnnAssign, ast.AugAssign)):
                if s.value is not None or isinstance(s, ast.AugAssign):
                    targets(s.target)
            elif isinstance(s, (ast.Import, ast.ImportFrom)):
                names.update(a.asname or a.name.split(".")[0] for a in s.names if a.name != "*")
            elif isinstance(s, (ast.For, ast.AsyncFor)):
                targets(s.target)
                visit(s.body)
                visit(s.orelse)
            elif isinstance(s, (ast.With, ast.AsyncWith)):
                for item in s.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
                visit(s.body)
            elif isinstance(s, (ast.If, ast.While)):
                visit(s.body)
                visit(s.orelse)
            elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
                visit(s.body)
                for h in s.handlers:
                    if h.name:
                        names.add(h.name)
                    visit(h.body)
                visit(s.orelse)
                visit(s.finalbody)
            elif isinstance(s, ast.Expr):
                targets(s)  # walrus
    visit(tree.body)
    return names


def _module_level_constants(tree: ast.Module) -> dict[str, object]:
    """``NAME = "text"`` and ``NAME = {"key": "text", ...}`` at module level, assigned once."""
    seen: dict[str, int] = {}
    values: dict[str, object] = {}
    for s in ast.walk(tree):
        if isinstance(s, ast.Name) and isinstance(s.ctx, ast.Store):
            seen[s.id] = seen.get(s.id, 0) + 1
    for s in tree.body:
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
            try:
                value = ast.literal_eval(s.value)
            except ValueError:
                continue
            if isinstance(value, str) or (
                isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
            ):
                values[s.targets[0].id] = value
    return {k: v for k, v in values.items() if seen.get(k) == 1}


class _Scanner:
    """One pass over one block of code (a module, or a notebook's cells).

    ``computed``: where to put calls that import a computed name (the body of a
    module's ``__getattr__``, resolved per attribute); elsewhere such a call
    counts as importing everything.
    """

    def __init__(self, modules: LocalModules, package: str | None,
                 computed: list[ast.Call] | None = None) -> None:
        self.m = modules
        self.package = package
        self.computed = computed
        self.found: set[str] = set()
        self.bindings: dict[str, str] = {}  # local name -> local module it is bound to
        self.explicit: set[str] = set()  # modules imported by their dotted name

    def run(self, tree: ast.AST) -> set[str]:
        parents: dict[ast.AST, ast.AST] = {}
        names: list[ast.Name] = []
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
            if isinstance(node, ast.Import):
                self._import(node)
            elif isinstance(node, ast.ImportFrom):
                self._import_from(node)
            elif isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                names.append(node)
        for node in names:  # after all imports: a name may be used above the line binding it
            if node.id in self.bindings:
                self._use(node, parents)
        return self.found

    def _load(self, name: str) -> None:
        """A module is imported: it and its parent packages run."""
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if self.m.is_local(prefix):
                self.found.add(prefix)

    def _touch(self, name: str, attr: str | None) -> None:
        """Attribute ``attr`` of module ``name`` is looked up (None: any attribute)."""
        if not self.m.is_local(name):
            return
        if attr is not None and self.m.is_local(f"{name}.{attr}"):
            self._load(f"{name}.{attr}")  # the import system may load the submodule
        if name in self.m._in_progress:
            return  # a package importing from itself while it initialises
        info = self.m.info(name)
        if info.lazy and (attr is None or attr not in info.bound):
            for target in info.attribute_loads(attr):
                if target == ALL:
                    self.found.add(ALL)
                elif target:
                    self._load(target)

    def _import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._load(alias.name)
            parts = alias.name.split(".")
            self.explicit |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
            if alias.asname:
                self.bindings[alias.asname] = alias.name
            else:
                self.bindings[parts[0]] = parts[0]

    def _resolve(self, node: ast.ImportFrom) -> str | None:
        if not node.level:
            return node.module
        if self.package is None:
            return None  # relative import outside a package: ImportError at run time
        parts = self.package.split(".")
        if node.level - 1 >= len(parts):
            return None
        base = parts[: len(parts) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def _import_from(self, node: ast.ImportFrom) -> None:
        base = self._resolve(node)
        if base is None:
            return
        self._load(base)
        parts = base.split(".")
        self.explicit |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        for alias in node.names:
            if alias.name == "*":
                self._touch(base, None)
                continue
            sub = f"{base}.{alias.name}"
            if self.m.is_local(sub):
                self.bindings[alias.asname or alias.name] = sub
            self._touch(base, alias.name)

    def _call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in DYNAMIC_IMPORTERS:
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("."):
                self._load(arg.value)
                parts = arg.value.split(".")
                self.explicit |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
            elif self.computed is not None:
                self.computed.append(node)
            else:
                self.found.add(ALL)
        elif name in ("run_line_magic", "run_cell_magic") and node.args:
            magic = node.args[0]
            if not (isinstance(magic, ast.Constant) and magic.value not in DYNAMIC_MAGICS):
                self.found.add(ALL)

    def _use(self, node: ast.Name, parents: dict[ast.AST, ast.AST]) -> None:
        """Follow ``name.attr.attr...`` from a name bound to a local module."""
        current = self.bindings[node.id]
        parent = parents.get(node)
        while isinstance(parent, ast.Attribute):
            sub = f"{current}.{parent.attr}"
            if sub not in self.explicit:  # not imported by name: the lookup may reach __getattr__
                self._touch(current, parent.attr)
            if not self.m.is_local(sub):
                return  # an attribute that is not a module ends the chain
            current, parent = sub, parents.get(parent)
        self._touch(current, None)  # the module object itself is used (passed, stored, ...)


def notebook_code(cells: list[str]) -> list[ast.Module]:
    """The notebook's code cells as Python syntax trees (IPython syntax translated)."""
    manager = None
    trees = []
    for source in cells:
        try:  # plain Python (most cells) is left as it is by IPython
            trees.append(_without_type_checking(compile(
                source, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)))
            continue
        except (SyntaxError, ValueError):
            pass
        if manager is None:
            from IPython.core.inputtransformer2 import TransformerManager

            manager = TransformerManager()
        try:
            python = manager.transform_cell(source)
        except Exception:  # IPython cannot read it: neither can the kernel
            continue
        try:
            trees.append(_without_type_checking(compile(
                python, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)))
        except (SyntaxError, ValueError):
            continue  # the kernel cannot compile this cell: it imports nothing
    return trees


def notebook_files(code_cells: list[str], notebook_dir: Path, repo_root: Path,
                   graphs: dict[tuple[Path, ...], LocalModules] | None = None) -> list[Path]:
    """The local files a notebook with these code cells loads when it runs.

    ``graphs`` may carry the modules already read for other notebooks (the
    files must not change in between).
    """
    roots: tuple[Path, ...] = (notebook_dir.resolve(), repo_root.resolve())
    if not roots[0].is_dir() or not any(p.suffix == ".py" or (p / "__init__.py").is_file()
                                        for p in roots[0].iterdir()):
        roots = roots[1:]  # nothing importable next to the notebook: share the repository's modules
    graphs = {} if graphs is None else graphs
    modules = graphs.setdefault(roots, LocalModules(list(roots)))
    names: set[str] = set()
    for tree in notebook_code(code_cells):
        names |= modules.scan(tree, None)
    return modules.files(names)


def main(argv: list[str]) -> int:
    import nbformat

    root = Path(__file__).resolve().parents[1]
    if not argv:
        print(__doc__)
        return 2
    for arg in argv:
        path = Path(arg).resolve()
        nb = nbformat.read(path, as_version=4)
        cells = [c.source for c in nb.cells if c.cell_type == "code"]
        files = notebook_files(cells, path.parent, root)
        print(json.dumps({arg: [str(f.relative_to(root)) if f.is_relative_to(root) else str(f)
                                for f in files]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
