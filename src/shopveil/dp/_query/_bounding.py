"""Contribution bounding: at most N rows of each person, a uniform sample keyed by the rng.

Bounding is part of every per-person sensitivity: a person moves a count by at most N
because at most N of their rows are read. Which N rows may depend on that person's rows
and on randomness only, never on other people's rows; and a run with a seeded rng must
repeat. DuckDB's ``random()`` fails the second (it cannot be seeded per query, and its
threads draw in no fixed order), so the sample is drawn this way instead:

1. each person's rows are ranked 1, 2, … in the order of the values the release reads
   (rows equal in all of them are interchangeable: which of them gets which rank
   changes nothing);
2. each rank gets the key ``md5(seed : person : rank)``, and the N ranks with the
   smallest keys are kept.

The 64-bit ``seed`` is drawn from the release's ``rng`` (a CSPRNG by default), fresh for
every release; on DuckDB it never leaves the process, on Spark it travels in the job's
plan to the executors (``._spark`` keys the same rows the same way). Modelling MD5 as a
random function, the kept ranks are a uniformly random N-subset of each person's ranks,
independent across people: a person with rows (a, a, b) keeps an ``a`` two times in
three.
"""

from __future__ import annotations

from collections.abc import Sequence

from shopveil.dp._bits import RandomBits

__all__ = ["bound_contributions", "bounding_seed"]


def bounding_seed(bits: RandomBits) -> int:
    """The seed of one release's bounding: 64 bits of its random source."""
    return int(bits.words(1)[0])


def bound_contributions(
    rows: str, person: str, values: Sequence[str], limit: int, seed: int,
    key_text: str | None = None,
) -> str:  # fmt: skip
    """SQL for at most ``limit`` rows of each ``person`` among the rows of query ``rows``.

    ``values`` are the other columns the release reads: they rank a person's rows. No
    values means a person's rows are all alike, and any ``limit`` of them will do.
    ``key_text`` (the person's text by default) is what each rank's key hashes with the
    seed: the id as written, so the local engine keys the rows Spark keys (``._spark``).
    """
    order = ", ".join(values) or person
    ranked = (
        f"SELECT *, row_number() OVER (PARTITION BY {person} ORDER BY {order}) AS _rank "
        f"FROM ({rows})"
    )
    text = key_text or f"CAST({person} AS VARCHAR)"
    key = f"md5_number(concat_ws(':', '{seed:d}', {text}, _rank))"
    return (
        f"SELECT * EXCLUDE (_rank) FROM ({ranked}) "
        f"QUALIFY row_number() OVER (PARTITION BY {person} ORDER BY {key}, _rank) <= {limit}"
    )
