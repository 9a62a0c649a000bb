"""PII detection in table columns and in free text.

Columns are classified from their names and a sample of their values into direct
identifiers, quasi-identifiers, sensitive columns and the rest
(:func:`scan_table`, :func:`scan_source`); free text is searched for contact details, card
numbers, IBANs, national ids, dates of birth, ages, postcodes, order and loyalty numbers,
street addresses, person names, places and organisations (:func:`find_text_pii`, with
a named-entity model when asked) and redacted array-wide (:func:`redact_text`). Reports
and errors never quote a sampled value.
"""

from shopveil._core.spans import TextSpan
from shopveil.detect._report import ColumnFinding, ScanReport
from shopveil.detect._scan import scan_source, scan_table
from shopveil.detect._text import TEXT_KINDS, TextEngine, find_text_pii, redact_text

__all__ = [
    "TEXT_KINDS",
    "ColumnFinding",
    "ScanReport",
    "TextEngine",
    "TextSpan",
    "find_text_pii",
    "redact_text",
    "scan_source",
    "scan_table",
]
