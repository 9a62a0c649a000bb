"""The end-to-end demo (``shopveil demo``, ``make demo``): an application of the library.

It scans the bundled Online Retail slice and generated customers, protects them under
the GDPR preset, audits every release, trains a DP recommender charged to the ledger and
writes an HTML summary. It sits above :mod:`shopveil.pipeline` and below the command
line: nothing in the library imports it.
"""

from shopveil.demo._report import CustomerPicks, DemoPersonalization, DemoReport, DemoTable
from shopveil.demo._run import run_demo
from shopveil.demo._terminal import show_demo

__all__ = [
    "CustomerPicks",
    "DemoPersonalization",
    "DemoReport",
    "DemoTable",
    "run_demo",
    "show_demo",
]
