"""DP synthetic data: a shareable copy of a table whose release is charged to the ledger.

:func:`synthesize` fits a marginal-based model with differential privacy and draws rows
from it: MST (noisy 1-way marginals and the 2-way marginals of a spanning tree of the
columns picked with the exponential mechanism) or AIM (rounds that pick and measure the
workload marginals, up to 3-way, the model gets most wrong, with annealed noise), all
in zCDP. The release is charged
once to the people ledger; the policy's direct identifiers (and those a scan finds)
never enter the model; numeric columns are binned over public bounds, and categorical
values without a public domain are kept only when their noisy counts clear a threshold.
:func:`identifier_columns` says which columns are left out and why.
:func:`synthesize_linked` does the same for a chain of linked tables (customers → orders
→ order lines) under one budget: foreign keys that join, rows per parent drawn from a
released histogram. :func:`compare_tables` measures a synthetic table against the real
one (marginal errors, distance to the closest record) for the data owner; it is not private.
"""

from shopveil.synth._api import STEPS, identifier_columns, synthesize
from shopveil.synth._linked import Child, LinkedSynthetic, synthesize_linked
from shopveil.synth._options import Synthetic, SynthMethod, SynthOptions
from shopveil.synth._report import SynthReport, compare_tables

__all__ = [
    "STEPS",
    "Child",
    "LinkedSynthetic",
    "SynthMethod",
    "SynthOptions",
    "SynthReport",
    "Synthetic",
    "compare_tables",
    "identifier_columns",
    "synthesize",
    "synthesize_linked",
]
