"""Every public name has a docstring: each package's ``__all__`` and the public methods.

ruff's pydocstyle rules (D1) check public modules; most of ShopVeil's code lives in
private ``_modules`` whose names are exported by a package's ``__init__``, which ruff
does not follow. This test walks what users actually import.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import shopveil

PACKAGES = sorted(
    ["shopveil", "shopveil.dp.hazmat"]
    + [
        f"shopveil.{m.name}"
        for m in pkgutil.iter_modules(shopveil.__path__)
        if m.ispkg and not m.name.startswith("_")
    ]
)


def _function(member: Any) -> Any:
    if isinstance(member, property):
        return member.fget
    return getattr(member, "__func__", member)


def undocumented(package: str) -> list[str]:
    """The public names of ``package`` (and their public methods) without a docstring."""
    module = importlib.import_module(package)
    missing = [] if (module.__doc__ or "").strip() else [package]
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(f"{package}.{name}")
        if not inspect.isclass(obj):
            continue
        for attr, member in vars(obj).items():
            function = _function(member)
            if attr.startswith("_") or not inspect.isfunction(function):
                continue
            if not (function.__doc__ or "").strip():
                missing.append(f"{package}.{name}.{attr}")
    return missing


def test_every_public_name_has_a_docstring() -> None:
    missing = [name for package in PACKAGES for name in undocumented(package)]
    assert not missing, "public names without a docstring:\n  " + "\n  ".join(missing)


def test_the_check_finds_an_undocumented_name(monkeypatch: Any) -> None:
    from shopveil import dp

    def bare() -> None:
        pass

    monkeypatch.setattr(dp, "bare", bare, raising=False)
    monkeypatch.setattr(dp, "__all__", [*dp.__all__, "bare"])
    assert undocumented("shopveil.dp") == ["shopveil.dp.bare"]
