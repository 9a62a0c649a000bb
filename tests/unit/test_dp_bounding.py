"""Contribution bounding: a uniform sample of each person's rows, drawn from the query's rng.

At ε = 50 a count's discrete Laplace noise (scale N/ε) is 0 but with probability about
e⁻⁵⁰, so these answers are the bounded counts themselves: what they test is which rows
were kept.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from _noise import seeded

from shopveil._core.budgets import PureDP
from shopveil._core.units import PerCustomer
from shopveil.dp import Answer, Ledger, QueryOptions, run_query, top_k

GROUPS, PEOPLE = 4, 1000  # people per group
OPTIONS = QueryOptions(
    epsilon=PureDP(50.0), unit=PerCustomer("cid", 1), keys={"g": tuple(range(GROUPS))}
)
SQL = "SELECT g, HISTOGRAM(x, 0, 2, 2) AS h FROM t GROUP BY g"


def _people(count: int = GROUPS * PEOPLE, first: int = 0) -> pa.Table:
    """Each person has three rows, x = 0, 0, 1: a uniform pick keeps 0 two times in three."""
    people = np.arange(first, first + count)
    return pa.table(
        {
            "cid": np.repeat(people, 3),
            "g": np.repeat(people % GROUPS, 3),
            "x": np.tile([0.5, 0.5, 1.5], len(people)),
        }
    )


def _counts(answer: Answer) -> dict[tuple[int, float], int]:
    return {(row["g"], row["h_low"]): int(row["h"].value) for row in answer.rows}


def _run(ledger: Ledger, data: pa.Table, seed: int) -> dict[tuple[int, float], int]:
    answer = run_query(SQL, data, table="t", options=OPTIONS, ledger=ledger, rng=seeded(seed))
    return _counts(answer)


def test_a_seeded_run_keeps_the_same_rows_and_another_seed_others(
    scratch_ledger: Ledger,
) -> None:
    data = _people()
    first = _run(scratch_ledger, data, 1)
    assert _run(scratch_ledger, data, 1) == first
    other = _run(scratch_ledger, data, 2)
    assert other != first
    for counts in (first, other):  # every person keeps exactly one row
        assert sum(counts.values()) == GROUPS * PEOPLE


def test_each_person_keeps_a_uniform_sample_of_their_rows(scratch_ledger: Ledger) -> None:
    # Kept zeros ~ Binomial(4000, 2/3): 2667 ± 30. Picking by value, or keeping the two
    # equal rows or neither together (a hash of the values alone), gives 4000, 0 or 2000.
    counts = _run(scratch_ledger, _people(), 3)
    zeros = sum(n for (_, low), n in counts.items() if low == 0.0)
    assert abs(zeros - GROUPS * PEOPLE * 2 / 3) < 150


def test_whose_rows_are_kept_does_not_depend_on_other_people(scratch_ledger: Ledger) -> None:
    # One more person, in group 0: under the same seed nobody else's rows change.
    data = _people()
    added = pa.concat_tables([data, _people(1, first=GROUPS * PEOPLE)])
    before, after = _run(scratch_ledger, data, 4), _run(scratch_ledger, added, 4)
    changed = {key for key in before if before[key] != after[key]}
    assert {g for g, _ in changed} <= {0}
    assert sum(after.values()) - sum(before.values()) == 1


def test_top_k_bounds_each_persons_items_from_the_rng(scratch_ledger: Ledger) -> None:
    # Everyone has items A and B, and may count for one: the counts are who kept which.
    people = np.arange(2000)
    data = pa.table({"cid": np.repeat(people, 2), "item": np.tile(["A", "B"], len(people))})

    def counts(seed: int) -> dict[str, int]:
        answer = top_k(
            data, "item", 2, epsilon=PureDP(300.0), ledger=scratch_ledger, table="t",
            unit=PerCustomer("cid", 1), candidates=["A", "B"], rng=seeded(seed),
        )  # fmt: skip
        return {row["item"]: int(row["count"].value) for row in answer.rows}

    first = counts(5)
    assert counts(5) == first
    assert counts(6) != first
    assert sum(first.values()) == pytest.approx(2000, abs=2)
