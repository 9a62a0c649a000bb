"""``anonymize_auto``: both methods run, the one that loses less information is released."""

from __future__ import annotations

import pyarrow as pa
import pytest

from shopveil.anonymity import (
    Hierarchy,
    KAnonymity,
    LDiversity,
    anonymize_auto,
    anonymize_lattice,
    anonymize_mondrian,
)
from shopveil.errors import ParameterError, PrivacyError

# Mondrian cuts at the median of the most frequent values first: {A} and {D, B, C}, so
# 18 rows cover three of four values. The hierarchy's level 1, {A, B} and {C, D}, meets
# k = 10 with every row covering two.
CODES = pa.table({"code": ["A"] * 12 + ["B"] * 4 + ["C"] * 4 + ["D"] * 10})
PAIRS = {
    "code": Hierarchy.from_rows(
        [("A", "AB", "*"), ("B", "AB", "*"), ("C", "CD", "*"), ("D", "CD", "*")]
    )
}


def test_the_lattice_wins_when_a_level_of_its_hierarchy_loses_less() -> None:
    lattice = anonymize_lattice(CODES, ["code"], PAIRS, [KAnonymity(10)])
    mondrian = anonymize_mondrian(CODES, ["code"], [KAnonymity(10)])
    assert lattice.utility.ncp == pytest.approx(1 / 3)
    assert mondrian.utility.ncp == pytest.approx(18 * (2 / 3) / 30)
    result, choice = anonymize_auto(CODES, ["code"], PAIRS, [KAnonymity(10)])
    assert choice.measure == "ncp" and choice.chosen == "lattice"
    assert result.method == "lattice"
    assert result.utility.levels == {"code": 1}
    trials = {t.method: t for t in choice.trials}
    assert trials["mondrian"].ncp == pytest.approx(mondrian.utility.ncp)
    assert (trials["lattice"].outcome, trials["mondrian"].outcome) == ("released", "not chosen")
    assert choice.summary() == (
        "auto chose lattice: NCP 0.3333 (lower loses less) against mondrian NCP 0.4000"
    )


def test_a_lattice_search_past_its_time_limit_leaves_mondrian() -> None:
    result, choice = anonymize_auto(CODES, ["code"], PAIRS, [KAnonymity(10)], time_limit=1e-9)
    assert choice.chosen == "mondrian" and result.method == "mondrian"
    assert "stopped after its time limit" in choice.summary()
    with pytest.raises(ParameterError, match="time_limit"):
        anonymize_auto(CODES, ["code"], PAIRS, [KAnonymity(10)], time_limit=0)


def test_when_neither_method_can_meet_the_requirements_the_error_says_both() -> None:
    # 29 of 30 rows share one plan: even the whole table is not entropy-2-diverse.
    table = CODES.append_column("plan", pa.array(["a"] * 29 + ["b"]))
    skewed = [LDiversity(2, variant="entropy")]
    with pytest.raises(PrivacyError, match=r"neither method .*mondrian: .*; lattice: "):
        anonymize_auto(table, ["code"], PAIRS, skewed, sensitive=["plan"])
