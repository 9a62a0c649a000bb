"""Re-exports that import their module on first use (PEP 562).

A package whose public names live in heavy modules (pyarrow, polars, SQLAlchemy …) lists
them here instead of importing them, so ``import shopveil`` costs milliseconds and a
command pays only for what it uses::

    if TYPE_CHECKING:  # what type checkers and IDEs read
        from shopveil.pipeline import anonymize_file

    __getattr__, __dir__ = lazy_exports(__name__, {"shopveil.pipeline": ("anonymize_file",)})

The ``TYPE_CHECKING`` imports and the table name the same things; a unit test checks
that they agree with each other and with ``__all__``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    package
        The re-exporting package's ``__name__``.
    exports
        Module name to the names it gives the package, e.g.
        ``{"shopveil.pipeline": ("anonymize_file", "apply_plan")}``.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)``: assign both at the package's top level. A name is
        imported on first access and then kept in the package's namespace.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        # Kept, so later look-ups are plain attribute reads and never reach here.
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
