"""ShopVeil: personalize on customer data while every use passes a declared privacy policy.

Recipes live at the top level; the building blocks live in their subpackages
(``shopveil.mask``, ``shopveil.pseudo``, ``shopveil.policy``, ``shopveil.anonymity``,
``shopveil.dp``, ``shopveil.keys`` …).

>>> import shopveil
>>> shopveil.anonymize_file("orders.csv", "out.parquet", policy="gdpr")  # doctest: +SKIP

Importing the package is cheap: the recipes import pyarrow, polars and the store only
when first used.
"""

from typing import TYPE_CHECKING

from shopveil._core import ZCDP, ApproxDP, ColumnClass, Kind, PerCustomer, PerRow, PureDP
from shopveil._core.lazy import lazy_exports
from shopveil.errors import ShopVeilError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from shopveil._workspace import Workspace, open_workspace
    from shopveil.anonymity import anonymize_lattice, anonymize_mondrian, assess
    from shopveil.data import generate_retail, load_online_retail, read_table, write_table
    from shopveil.detect import scan_table
    from shopveil.pipeline import AnonymizeResult, RunSummary, anonymize_file, apply_plan
    from shopveil.policy import Plan, Policy, compile_plan, load_policy

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "shopveil._workspace": ("Workspace", "open_workspace"),
        "shopveil.anonymity": ("anonymize_lattice", "anonymize_mondrian", "assess"),
        "shopveil.data": ("generate_retail", "load_online_retail", "read_table", "write_table"),
        "shopveil.detect": ("scan_table",),
        "shopveil.pipeline": ("AnonymizeResult", "RunSummary", "anonymize_file", "apply_plan"),
        "shopveil.policy": ("Plan", "Policy", "compile_plan", "load_policy"),
    },
)

__all__ = [
    "ZCDP",
    "AnonymizeResult",
    "ApproxDP",
    "ColumnClass",
    "Kind",
    "PerCustomer",
    "PerRow",
    "Plan",
    "Policy",
    "PureDP",
    "RunSummary",
    "ShopVeilError",
    "Workspace",
    "__version__",
    "anonymize_file",
    "anonymize_lattice",
    "anonymize_mondrian",
    "apply_plan",
    "assess",
    "compile_plan",
    "generate_retail",
    "load_online_retail",
    "load_policy",
    "open_workspace",
    "read_table",
    "scan_table",
    "write_table",
]
