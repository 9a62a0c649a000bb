"""Every error ShopVeil raises, in one tree.

::

    ShopVeilError
    ├── InputError (ValueError)        the caller gave something we cannot use; nothing changed
    │   ├── ParameterError             a parameter has a bad value (names it, the value, the fix)
    │   ├── SourceError                a file is missing, unreadable or malformed (broken CSV row)
    │   ├── SinkError                  an output cannot be written (disk full, no permission)
    │   ├── SchemaError                a column is missing or has the wrong type
    │   ├── PolicyError                a policy file is invalid (names the file, the line, the fix)
    │   └── QueryError                 a DP query is unsupported or unsafe (raw rows, id joins)
    ├── KeyringError                   key material cannot be used
    │   ├── WrongMasterKey             the master key is not the one this store was made with
    │   ├── UnknownKeyVersion          a token names a key version the keyring does not have
    │   └── SubjectErased              the subject's key was shredded; their data is unrecoverable
    ├── AccessDenied                   a purpose or role may not do this (detokenize, see a column)
    ├── PrivacyError                   a release would break a privacy promise
    │   ├── BudgetExceeded             the ledger refuses a charge; nothing was released
    │   └── GateFailed                 a release gate (k, l, t, risk, PII re-scan) did not pass
    ├── StoreError                     the database failed or holds a newer schema than this code
    ├── IntegrityError                 the audit chain or a stored record was altered
    ├── MissingExtraError              a package of an optional extra is not installed (names the
    │                                  extra and the pip command); also a ModuleNotFoundError
    └── TimeLimitExceeded (TimeoutError) a search ran past the time it was given; nothing released

Argument errors subclass :class:`ValueError` too, so ``except ValueError`` keeps working.
Messages never contain raw personal data, key material or the inputs of a token.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "BudgetExceeded",
    "GateFailed",
    "InputError",
    "IntegrityError",
    "KeyringError",
    "MissingExtraError",
    "ParameterError",
    "PolicyError",
    "PrivacyError",
    "QueryError",
    "SchemaError",
    "ShopVeilError",
    "SinkError",
    "SourceError",
    "StoreError",
    "SubjectErased",
    "TimeLimitExceeded",
    "UnknownKeyVersion",
    "WrongMasterKey",
]


class ShopVeilError(Exception):
    """Root of every error ShopVeil raises."""


class InputError(ShopVeilError, ValueError):
    """The caller gave input we cannot use. Nothing was written or charged."""


class ParameterError(InputError):
    """A parameter has a value outside its domain."""


class SourceError(InputError):
    """A data source is missing, unreadable or malformed."""


class SinkError(InputError):
    """An output cannot be written; nothing was published and any earlier output is intact."""


class SchemaError(InputError):
    """A column named by a policy, a query or an option is missing or mistyped."""


class PolicyError(InputError):
    """A policy is invalid. The message names the file, the line and the fix."""


class QueryError(InputError):
    """A DP query is unsupported or would release raw records."""


class KeyringError(ShopVeilError):
    """Key material cannot be loaded, derived or used."""


class WrongMasterKey(KeyringError):
    """The master key does not match the key check value kept in the store."""


class UnknownKeyVersion(KeyringError):
    """A token or ciphertext names a key version the keyring does not hold."""


class SubjectErased(KeyringError):
    """The subject's key material was destroyed; their protected values are gone."""


class AccessDenied(ShopVeilError):
    """The purpose or role in use is not allowed to do this."""


class PrivacyError(ShopVeilError):
    """A release would break a privacy promise; nothing was released."""


class BudgetExceeded(PrivacyError):
    """The privacy-budget ledger refused a charge."""


class GateFailed(PrivacyError):
    """A release gate failed; the report says which check and which records."""


class StoreError(ShopVeilError):
    """The database failed, or holds a schema newer than this version of ShopVeil."""


class IntegrityError(ShopVeilError):
    """A hash chain or an authenticated record does not verify."""


class MissingExtraError(ShopVeilError, ModuleNotFoundError):
    """A package that one of ShopVeil's extras installs is missing.

    The message names the package, the extra and the command that installs it. It is a
    :class:`ModuleNotFoundError` too (``name`` is the missing package), so code that
    falls back when an import fails keeps working.
    """

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module} is not installed; it comes with the {extra} extra: "
            f"pip install 'shopveil[{extra}]'",
            name=module,
        )
        self.extra = extra


class TimeLimitExceeded(ShopVeilError, TimeoutError):
    """A search ran past the time limit it was given; nothing was released."""
