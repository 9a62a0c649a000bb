"""Where a piece of personal data sits in a string.

Detection reports the spans it finds (``detect.find_text_pii``); the synthetic generator
records the spans it embeds as ground truth (``data.SpanTruth``), so the two compare
directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopveil._core.classes import Kind
from shopveil.errors import ParameterError

__all__ = ["TextSpan", "check_span"]


def check_span(start: int, end: int, what: str) -> None:
    """Refuse an empty or negative span, naming ``what`` holds it."""
    if not 0 <= start < end:
        raise ParameterError(f"{what} needs 0 <= start < end, got start={start}, end={end}")


@dataclass(frozen=True, order=True)
class TextSpan:
    """One piece of PII in a string: ``text[start:end]`` (code points, end exclusive)."""

    start: int
    end: int
    kind: Kind

    def __post_init__(self) -> None:
        check_span(self.start, self.end, "TextSpan")
