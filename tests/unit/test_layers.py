"""The package layers: imports go downward only, never into another package's private
modules, and neither packages nor modules import each other in a cycle.

Read from the syntax tree of every module under ``src/shopveil``; nothing is imported, so
this runs in well under a second. Run this file as a script to print every import edge
between packages and every finding::

    PYTHONPATH=src python tests/unit/test_layers.py

What counts as an import: ``import`` and ``from ... import`` statements anywhere in a
module (at the top, inside functions, under ``if TYPE_CHECKING:``), and
``importlib.import_module("shopveil...")`` with a literal name.

Every rule counts every import, ``TYPE_CHECKING`` ones included. An annotation naming
another module's class is a dependency on that module (it must exist and keep its name
and shape), only one the interpreter does not execute: two packages or two modules that
name each other's types are a cycle even when one side imports only for type checking.
An edge that is only for type checking is marked ``(TYPE_CHECKING)`` in the messages.

Layers, bottom first, as in the design's Layout. A package may import only packages on a
lower floor; packages on one floor are peers and never import each other:

- ``errors`` (the exception tree) is the floor everyone may import;
- ``_workspace`` (opens the keyring, audit log, catalog and ledger on one store) is a
  composition root over ``dp``, ``audit``, ``keys`` and ``store``: it sits just below
  ``pipeline``, its first user;
- ``shopveil`` (the package's ``__init__``) re-exports the recipes: above ``pipeline``,
  below the command line, which reads its ``__version__``.

A module is private when its name starts with ``_``. ``from shopveil.<pkg>._mod import``
from outside ``<pkg>`` reaches past the package's public face (its ``__init__`` and
``__all__``); the package's own name may start with ``_`` (``_core``, ``_commands``):
those are internal to ``shopveil``, and their modules without ``_`` are their face.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "shopveil"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("_core",),
    ("store",),
    ("keys",),
    ("audit",),
    ("data",),
    ("detect",),
    ("mask", "pseudo", "anonymity"),
    ("policy",),
    ("dp",),
    ("synth",),
    ("learn",),
    ("federated",),
    ("attacks",),
    ("scorecard",),
    ("tune",),
    ("vision",),
    ("governance",),
    ("_workspace",),
    ("pipeline",),
    ("demo",),
    (ROOT,),
    ("_commands",),
    ("cli",),
    ("__main__",),
    ("service",),
)
FLOOR = {package: floor for floor, packages in enumerate(LAYERS) for package in packages}

# Known violations. Work under way removes them, and the test fails on an entry that no
# longer occurs, so these lists only shrink: delete an entry with the change that ends it.
# (importing package, imported private module)
KNOWN_PRIVATE: frozenset[tuple[str, str]] = frozenset()
# Module cycles, each closed by a TYPE_CHECKING import of the caller's types.
KNOWN_MODULE_CYCLES: frozenset[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Edge:
    """One import: ``source`` module imports ``target`` module at ``file:line``."""

    source: str
    target: str
    file: str
    line: int
    typing_only: bool

    def __str__(self) -> str:
        how = "  (TYPE_CHECKING)" if self.typing_only else ""
        return f"{self.file}:{self.line}: {self.source} -> {self.target}{how}"


def package_of(module: str) -> str:
    """``shopveil.dp._query._plan`` -> ``dp``; ``shopveil.errors`` -> ``errors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def is_private_reach(edge: Edge) -> bool:
    """Whether the edge names a private module of a package other than its own."""
    target = edge.target.split(".")
    return package_of(edge.source) != package_of(edge.target) and any(
        part.startswith("_") for part in target[2:]
    )


def module_names(src: Path) -> dict[str, Path]:
    """Every module under ``src/shopveil`` by dotted name (a package by its own name)."""
    names = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, typing_only: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below ``node``, with whether it sits under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield child, typing_only
            for part in child.body:
                yield part, True
                yield from _walk(part, True)
            for part in child.orelse:
                yield part, typing_only
                yield from _walk(part, typing_only)
            continue
        yield child, typing_only
        yield from _walk(child, typing_only)


def _targets(node: ast.AST, module: str, is_package: bool, known: Mapping[str, Path]) -> list[str]:
    """The modules one import node loads (only those inside ``shopveil``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = module.split(".")[: None if is_package else -1]
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([base] if base else [])])
        # ``from pkg import sub`` loads the submodule ``pkg.sub``; a plain name is ``pkg``.
        out = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        return list(dict.fromkeys(out))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
        == "import_module"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return []


def import_edges(src: Path) -> list[Edge]:
    """Every import of a ``shopveil`` module by a ``shopveil`` module, in file order."""
    known = module_names(src)
    edges = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, typing_only in _walk(tree):
            for target in _targets(node, module, is_package, known):
                if target == ROOT or target.startswith(ROOT + "."):
                    file = path.relative_to(src.parent).as_posix()
                    line = getattr(node, "lineno", 0)
                    edges.append(Edge(module, target, file, line, typing_only))
    return edges


def cross_package(edges: Iterable[Edge]) -> list[Edge]:
    return [e for e in edges if package_of(e.source) != package_of(e.target)]


def layer_violations(edges: Iterable[Edge]) -> list[str]:
    """Imports of a package on the same floor or above, or of a package not in LAYERS."""
    found = []
    for edge in cross_package(edges):
        source, target = package_of(edge.source), package_of(edge.target)
        for package in (source, target):
            if package not in FLOOR:
                found.append(f"{edge}  [{package!r} is not in LAYERS: give it a floor]")
        if source in FLOOR and target in FLOOR and FLOOR[target] >= FLOOR[source]:
            where = "a peer of" if FLOOR[target] == FLOOR[source] else "above"
            found.append(f"{edge}  [{target} is {where} {source}]")
    return found


def private_reaches(edges: Iterable[Edge]) -> list[Edge]:
    return [e for e in edges if is_private_reach(e)]


def known_key(edge: Edge) -> tuple[str, str]:
    return (package_of(edge.source), edge.target)


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):  # a few hundred modules: recursion is deep enough
        if node not in index:
            visit(node)
    return sorted(found)


def describe_cycles(edges: Iterable[Edge], key: str) -> dict[frozenset[str], str]:
    """Each cycle, with the edges that close it (``key``: ``package`` or ``module``)."""
    name = package_of if key == "package" else (lambda module: module)
    graph: dict[str, set[str]] = defaultdict(set)
    by_pair: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for edge in edges:
        a, b = name(edge.source), name(edge.target)
        if a != b:
            graph[a].add(b)
            by_pair[(a, b)].append(edge)
    out = {}
    for component in cycles(graph):
        members = set(component)
        inside = [
            str(e)
            for (a, b), pair in sorted(by_pair.items())
            if a in members and b in members
            for e in pair
        ]
        text = f"{key} cycle {' <-> '.join(component)}:\n      " + "\n      ".join(inside)
        out[frozenset(component)] = text
    return out


def findings(edges: list[Edge]) -> dict[str, list[str]]:
    """Every finding by kind; the ``known`` kinds are tolerated, ``stale known`` is not."""
    reaches = private_reaches(edges)
    module_cycles = describe_cycles(edges, "module")
    seen = {known_key(e) for e in reaches}
    return {
        "layer": layer_violations(edges),
        "private": [str(e) for e in reaches if known_key(e) not in KNOWN_PRIVATE],
        "package cycle": list(describe_cycles(edges, "package").values()),
        "module cycle": [t for c, t in module_cycles.items() if c not in KNOWN_MODULE_CYCLES],
        "stale known": sorted(str(k) for k in KNOWN_PRIVATE - seen)
        + sorted(str(sorted(c)) for c in KNOWN_MODULE_CYCLES - set(module_cycles)),
        "private (known)": [str(e) for e in reaches if known_key(e) in KNOWN_PRIVATE],
        "module cycle (known)": [t for c, t in module_cycles.items() if c in KNOWN_MODULE_CYCLES],
    }


@pytest.fixture(scope="module")
def found() -> dict[str, list[str]]:
    return findings(import_edges(SRC))


def _fail(title: str, lines: list[str]) -> None:
    if lines:
        pytest.fail(f"{len(lines)} {title}:\n  " + "\n  ".join(lines), pytrace=False)


def test_every_package_imports_only_packages_below_it(found: dict[str, list[str]]) -> None:
    _fail("imports of a peer or a higher layer (DESIGN.md Layout)", found["layer"])


def test_no_package_imports_another_packages_private_modules(
    found: dict[str, list[str]],
) -> None:
    _fail(
        "imports of another package's private module: import its public name "
        "(export it from the package's __init__) or move the shared piece to _core",
        found["private"],
    )


def test_packages_import_each_other_in_no_cycle(found: dict[str, list[str]]) -> None:
    _fail("package cycles", found["package cycle"])


def test_modules_import_each_other_in_no_cycle(found: dict[str, list[str]]) -> None:
    _fail("module cycles", found["module cycle"])


def test_known_violations_still_occur(found: dict[str, list[str]]) -> None:
    _fail("KNOWN_* entries that no longer occur: delete them", found["stale known"])


def test_every_package_has_a_floor() -> None:
    packages = {package_of(module) for module in module_names(SRC)}
    _fail("packages missing from LAYERS", sorted(packages - set(FLOOR)))


def _tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    src = tmp_path / "src"
    for name, text in {"shopveil/__init__.py": "", **files}.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return src


def test_the_checks_see_every_kind_of_import(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "shopveil/keys/__init__.py": "",
            "shopveil/keys/_vault.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from shopveil.audit import AuditLog\n"
            ),
            "shopveil/audit/__init__.py": "from shopveil.audit import _log\n",
            "shopveil/audit/_log.py": "def f():\n    from shopveil.keys._vault import x\n",
            "shopveil/mask/__init__.py": "import importlib\n"
            "importlib.import_module('shopveil.pseudo._kernel')\n",
            "shopveil/pseudo/__init__.py": "",
            "shopveil/pseudo/_kernel.py": "",
            "shopveil/vision.py": "from shopveil import errors\n",
        },
    )
    edges = import_edges(src)
    assert [str(e) for e in edges] == [
        "src/shopveil/audit/__init__.py:1: shopveil.audit -> shopveil.audit._log",
        "src/shopveil/audit/_log.py:2: shopveil.audit._log -> shopveil.keys._vault",
        "src/shopveil/keys/_vault.py:3: shopveil.keys._vault -> shopveil.audit  (TYPE_CHECKING)",
        "src/shopveil/mask/__init__.py:2: shopveil.mask -> shopveil.pseudo._kernel",
        "src/shopveil/vision.py:1: shopveil.vision -> shopveil",
    ]
    layers = layer_violations(edges)
    assert len(layers) == 3
    assert layers[0].endswith("[audit is above keys]")
    assert layers[1].endswith("[pseudo is a peer of mask]")
    assert layers[2].endswith("[shopveil is above vision]")
    assert [e.target for e in private_reaches(edges)] == [
        "shopveil.keys._vault",
        "shopveil.pseudo._kernel",
    ]
    (cycle,) = describe_cycles(edges, "package").values()
    assert cycle.startswith("package cycle audit <-> keys:")
    assert "(TYPE_CHECKING)" in cycle
    assert "shopveil.audit._log -> shopveil.keys._vault" in cycle


def test_a_module_cycle_is_found_with_its_edges(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "shopveil/dp/__init__.py": "from shopveil.dp._a import a\n",
            "shopveil/dp/_a.py": "from shopveil.dp import _b\na = 1\n",
            "shopveil/dp/_b.py": "import shopveil.dp._a\n",
            "shopveil/dp/_c.py": "from shopveil.dp import a\n",
        },
    )
    cycles_found = describe_cycles(import_edges(src), "module")
    assert list(cycles_found) == [frozenset({"shopveil.dp._a", "shopveil.dp._b"})]
    (text,) = cycles_found.values()
    assert text.startswith("module cycle shopveil.dp._a <-> shopveil.dp._b:")
    assert "src/shopveil/dp/_b.py:1: shopveil.dp._b -> shopveil.dp._a" in text


def main() -> None:
    edges = import_edges(SRC)
    for edge in cross_package(edges):
        print(f"{package_of(edge.source):>10} -> {package_of(edge.target):<10} {edge}")
    for kind, lines in findings(edges).items():
        print(f"\n{kind}: {len(lines)}")
        for line in lines:
            print(f"  {line}")


if __name__ == "__main__":
    main()
