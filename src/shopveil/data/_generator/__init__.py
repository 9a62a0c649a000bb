"""The synthetic retail generator (private; the public names live in ``shopveil.data``)."""

from shopveil.data._generator._generate import COLUMN_TRUTH, RetailOptions, generate_retail

__all__ = ["COLUMN_TRUTH", "RetailOptions", "generate_retail"]
