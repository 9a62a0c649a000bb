"""Which purposes may turn a protected value back into the original: one rule for all.

Vault detokenization and format-preserving decryption both re-identify, so both ask
:func:`require_reidentify` with the same set of allowed purposes (order fulfilment and
customer support unless configured otherwise).
"""

from __future__ import annotations

from collections.abc import Collection

from shopveil.errors import AccessDenied

__all__ = ["DEFAULT_REIDENTIFY_PURPOSES", "require_reidentify"]

DEFAULT_REIDENTIFY_PURPOSES: frozenset[str] = frozenset({"fulfilment", "support"})


def require_reidentify(purpose: str, allowed: Collection[str], what: str) -> None:
    """Raise :class:`AccessDenied` unless ``purpose`` is one of ``allowed``.

    ``what`` names what would be re-identified, e.g. ``"vault tokens"``.
    """
    if purpose not in allowed:
        names = ", ".join(sorted(allowed)) or "none"
        raise AccessDenied(
            f"purpose {purpose!r} may not re-identify {what} (allowed: {names}); "
            "use a purpose the policy allows to re-identify"
        )
