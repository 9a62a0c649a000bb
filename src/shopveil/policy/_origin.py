"""Where a policy declared something, and the laws it may name: values every module of
the policy package uses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Jurisdiction", "Origin"]


class Jurisdiction(StrEnum):
    """The laws whose presets ShopVeil ships."""

    GDPR = "gdpr"
    CCPA = "ccpa"
    LGPD = "lgpd"
    PIPL = "pipl"


@dataclass(frozen=True)
class Origin:
    """Where a policy declared something: a file and a line in it.

    Attributes
    ----------
    file
        The policy file as it was given, or ``<name>.yaml`` for a preset shipped in the
        package (``shopveil/policy/presets/<name>.yaml``).
    line
        The line, counted from 1.
    preset
        The preset's name when ``file`` is a preset shipped with ShopVeil, else None.
    """

    file: str
    line: int
    preset: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"
