"""The ShopVeil service: a thin FastAPI adapter over the library, for a shop's systems.

``shopveil serve`` runs :func:`app_from_env` under uvicorn. Every endpoint translates
JSON into one library call: records protected by the policy for the caller's role, the
vault, DP queries through the ledger, the consent register, subject access and erasure,
the customer's own events and recommendations, and the audit log. Callers authenticate
with API keys from ``shopveil access grant`` (:class:`shopveil.governance.AccessRegister`).

Without the ``service`` extra, importing this package raises
:class:`~shopveil.errors.MissingExtraError` naming ``pip install 'shopveil[service]'``.
"""

from shopveil._core.extras import from_extra

with from_extra("service"):
    import fastapi  # noqa: F401  (every module here builds on it: checked first)

from shopveil.service._app import app_from_env, create_app
from shopveil.service._config import ServiceConfig

__all__ = ["ServiceConfig", "app_from_env", "create_app"]
