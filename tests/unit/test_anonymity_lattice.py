"""Full-domain generalization on ARX's Adult slice with ARX's hierarchies.

Outputs are checked by a plain group-by and by pycanon; optimality by an exhaustive
search of the whole lattice written here from the hierarchy files alone.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from pycanon import anonymity as pycanon

from shopveil.anonymity import (
    Hierarchy,
    KAnonymity,
    LDiversity,
    Loss,
    TCloseness,
    anonymize_lattice,
    evaluate_node,
    load_hierarchies,
)
from shopveil.data._io import read_table
from shopveil.errors import ParameterError, PrivacyError, SchemaError, SourceError

DATA = Path(__file__).resolve().parents[1] / "data" / "adult"
QI = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
]
SENSITIVE = "salary-class"


@pytest.fixture(scope="module")
def adult() -> pa.Table:
    return read_table(DATA / "adult_slice.csv")


@pytest.fixture(scope="module")
def hierarchies() -> dict[str, Hierarchy]:
    return load_hierarchies(DATA, QI)


def _smallest_class(frame: pd.DataFrame, qi: list[str]) -> int:
    return int(frame.groupby(qi).size().min())


@pytest.mark.parametrize("k", [2, 5, 10, 50, 100])
@pytest.mark.parametrize("limit", [0.0, 0.02])
def test_output_is_k_anonymous_by_group_by_and_pycanon(
    adult: pa.Table, hierarchies: dict[str, Hierarchy], k: int, limit: float
) -> None:
    result = anonymize_lattice(adult, QI, hierarchies, [KAnonymity(k)], limit)
    frame = result.table.to_pandas()
    assert _smallest_class(frame, QI) >= k
    assert pycanon.k_anonymity(frame, QI) >= k
    assert len(frame) + result.utility.suppressed_rows == len(adult)
    assert result.utility.suppressed_rows <= limit * len(adult)
    assert result.utility.min_class_size == _smallest_class(frame, QI)
    # Each output value is a value of its hierarchy at the reported level.
    for name, level in (result.utility.levels or {}).items():
        allowed = {row[level] for row in hierarchies[name].rows}
        assert set(frame[name]) <= allowed


@pytest.mark.parametrize(
    ("requirements", "limit"),
    [
        ([KAnonymity(5), LDiversity(2)], 0.02),
        ([KAnonymity(3), TCloseness(0.15)], 0.0),
        ([KAnonymity(2), LDiversity(1.5, variant="entropy"), TCloseness(0.2)], 0.02),
    ],
)
def test_l_and_t_hold_by_pycanon(
    adult: pa.Table, hierarchies: dict[str, Hierarchy], requirements: list, limit: float
) -> None:
    result = anonymize_lattice(adult, QI, hierarchies, requirements, limit, sensitive=[SENSITIVE])
    frame = result.table.to_pandas()
    for req in requirements:
        if isinstance(req, KAnonymity):
            assert pycanon.k_anonymity(frame, QI) >= req.k
        elif isinstance(req, LDiversity) and req.variant == "distinct":
            assert pycanon.l_diversity(frame, QI, [SENSITIVE]) >= req.l
        elif isinstance(req, TCloseness):
            assert pycanon.t_closeness(frame, QI, [SENSITIVE]) <= req.t + 1e-9


# --- an exhaustive reference, built from the hierarchy files and pandas only ----------


def _read_hierarchy(name: str) -> dict[str, list[str]]:
    (path,) = DATA.glob(f"*_hierarchy_{name}.csv")
    with path.open(newline="") as handle:
        return {row[0]: row for row in csv.reader(handle, delimiter=";") if row}


class _Reference:
    """Every node of the lattice, evaluated by brute force."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.n = len(frame)
        self.codes: list[list[np.ndarray]] = []
        self.ncp: list[list[np.ndarray]] = []
        self.heights = []
        for name in QI:
            rows = _read_hierarchy(name)
            values = frame[name].astype(str)
            domain = values.nunique()
            per_level_codes, per_level_ncp = [], []
            for level in range(len(next(iter(rows.values())))):
                generalized = values.map(lambda v, lv=level, table=rows: table[v][lv])
                codes, uniques = pd.factorize(generalized)
                leaves = values.groupby(generalized).nunique()
                covered = leaves.reindex(uniques).to_numpy()
                per_level_codes.append(codes.astype(np.int64))
                per_level_ncp.append(((covered - 1) / (domain - 1))[codes])
            self.codes.append(per_level_codes)
            self.ncp.append(per_level_ncp)
            self.heights.append(len(per_level_codes))

    def losses(self, k: int, limits: list[float]) -> list[dict[tuple[int, ...], float]]:
        """Per limit, the NCP of every node that is k-anonymous within that limit."""
        allowed = [int(np.floor(limit * self.n + 1e-9)) for limit in limits]
        out: list[dict[tuple[int, ...], float]] = [{} for _ in limits]
        for node in itertools.product(*(range(h) for h in self.heights)):
            key = np.zeros(self.n, dtype=np.int64)
            for j, level in enumerate(node):
                codes = self.codes[j][level]
                key = key * (int(codes.max()) + 1) + codes
            _, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
            small = sizes[inverse] < k
            suppressed = int(small.sum())
            ncp = sum(self.ncp[j][level] for j, level in enumerate(node))
            loss = (ncp[~small].sum() + suppressed * len(QI)) / (self.n * len(QI))
            for found, cap in zip(out, allowed, strict=True):
                if suppressed <= cap:
                    found[node] = loss
        return out


@pytest.mark.slow
def test_lattice_search_finds_the_exhaustive_optimum(
    adult: pa.Table, hierarchies: dict[str, Hierarchy]
) -> None:
    limits = [0.0, 0.01]
    reference = _Reference(adult.to_pandas()).losses(5, limits)
    for limit, losses in zip(limits, reference, strict=True):
        result = anonymize_lattice(adult, QI, hierarchies, [KAnonymity(5)], limit, loss=Loss.NCP)
        levels = tuple((result.utility.levels or {})[name] for name in QI)
        assert levels in losses  # the answer is anonymous by the reference's own check
        assert result.utility.ncp == pytest.approx(min(losses.values()), abs=1e-12)
        assert losses[levels] == pytest.approx(result.utility.ncp, abs=1e-12)


@pytest.mark.parametrize(
    ("requirements", "loss"),
    [
        ([KAnonymity(5)], Loss.DISCERNIBILITY),
        ([KAnonymity(3), TCloseness(0.1)], Loss.NCP),  # not monotone with suppression
        ([KAnonymity(2), LDiversity(1.6, variant="entropy")], Loss.NCP),
    ],
)
def test_pruned_search_matches_evaluating_every_node(
    adult: pa.Table, hierarchies: dict[str, Hierarchy], requirements: list, loss: Loss
) -> None:
    qi = QI[1:4]
    result = anonymize_lattice(
        adult, qi, hierarchies, requirements, 0.02, sensitive=[SENSITIVE], loss=loss
    )
    heights = [hierarchies[name].height for name in qi]
    nodes = [
        evaluate_node(
            adult,
            qi,
            hierarchies,
            requirements,
            levels,
            suppression_limit=0.02,
            sensitive=[SENSITIVE],
            loss=loss,
        )
        for levels in itertools.product(*(range(h) for h in heights))
    ]
    best = min(node.loss for node in nodes if node.anonymous)
    found = result.utility.discernibility if loss is Loss.DISCERNIBILITY else result.utility.ncp
    assert found == pytest.approx(best)


def test_utility_report_is_complete(adult: pa.Table, hierarchies: dict[str, Hierarchy]) -> None:
    from shopveil._core import insecure_seeded_rng

    with pytest.warns(UserWarning):
        rng = insecure_seeded_rng(3)
    result = anonymize_lattice(
        adult, QI, hierarchies, [KAnonymity(5)], 0.01, sensitive=[SENSITIVE], rng=rng
    )
    utility = result.utility
    assert 0.0 <= utility.ncp <= 1.0
    assert set(utility.ncp_by_attribute) == set(QI)
    assert utility.classifier_target == SENSITIVE
    assert utility.classifier_accuracy is not None and 0.5 < utility.classifier_accuracy <= 1
    assert utility.baseline_accuracy is not None and 0.5 < utility.baseline_accuracy <= 1
    frame = result.table.to_pandas()
    sizes = frame.groupby(QI).size().to_numpy()
    assert utility.discernibility == float((sizes**2).sum() + utility.suppressed_rows * len(adult))
    assert utility.average_class_size == pytest.approx(len(frame) / len(sizes))
    assert set(utility.to_dict()) >= {"ncp", "discernibility", "levels", "suppressed_rows"}


def test_polars_in_polars_out_and_input_unchanged(
    adult: pa.Table, hierarchies: dict[str, Hierarchy]
) -> None:
    frame = pl.from_arrow(adult)
    assert isinstance(frame, pl.DataFrame)
    before = frame.clone()
    result = anonymize_lattice(frame, QI[:3], hierarchies, [KAnonymity(5)])
    assert isinstance(result.table, pl.DataFrame)
    assert frame.equals(before)
    assert result.table.columns == frame.columns


def test_numeric_columns_without_hierarchy_get_intervals() -> None:
    rng = np.random.default_rng(1)
    table = pa.table({"age": rng.integers(18, 90, 500), "zip": rng.integers(1000, 1100, 500)})
    result = anonymize_lattice(table, ["age", "zip"], None, [KAnonymity(10)])
    frame = result.table.to_pandas()
    assert _smallest_class(frame, ["age", "zip"]) >= 10
    assert all(v.startswith("[") or v == "*" for v in frame["age"].unique() if not v.isdigit())


def test_hierarchy_missing_a_value_is_refused(adult: pa.Table, tmp_path: Path) -> None:
    rows = list(_read_hierarchy("race").values())[1:]  # drop one value's row
    path = tmp_path / "race.csv"
    path.write_text("\n".join(";".join(r) for r in rows) + "\n")
    broken = Hierarchy.from_csv(path)
    with pytest.raises(SchemaError, match="no row for 1 of the column's"):
        anonymize_lattice(adult, ["race"], {"race": broken}, [KAnonymity(2)])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("a", "x", "*"), ("b", "x")], "same number of columns"),
        ([("a", "x", "*"), ("a", "y", "*")], "appears on two rows"),
        ([("a", "x", "p"), ("b", "x", "q")], "groups must nest"),
    ],
)
def test_malformed_hierarchies_are_refused(rows: list, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        Hierarchy.from_rows(rows)


def test_bad_input_is_refused(adult: pa.Table, hierarchies: dict[str, Hierarchy]) -> None:
    with pytest.raises(SchemaError, match="'zip' is not a column"):
        anonymize_lattice(adult, ["zip"], hierarchies, [KAnonymity(2)])
    with pytest.raises(ParameterError, match="larger than the table"):
        anonymize_lattice(adult, QI, hierarchies, [KAnonymity(len(adult) + 1)])
    with pytest.raises(ParameterError, match="empty"):
        anonymize_lattice(adult.slice(0, 0), QI, hierarchies, [KAnonymity(2)])
    with pytest.raises(ParameterError, match="suppression_limit"):
        anonymize_lattice(adult, QI, hierarchies, [KAnonymity(2)], 1.5)
    with pytest.raises(ParameterError, match="needs a sensitive attribute"):
        anonymize_lattice(adult, QI, hierarchies, [LDiversity(2)])
    with pytest.raises(ParameterError, match="only 2 distinct values"):
        anonymize_lattice(adult, QI, hierarchies, [LDiversity(3)], sensitive=[SENSITIVE])
    with pytest.raises(SourceError, match="no hierarchy for column 'zip'"):
        load_hierarchies(DATA, ["zip"])


def test_unreachable_requirements_raise_privacy_error(hierarchies: dict[str, Hierarchy]) -> None:
    # exp(entropy) of the whole table is 1.38, so no generalization reaches 1.9.
    table = pa.table({"race": ["White"] * 9 + ["Black"], SENSITIVE: ["a"] * 9 + ["b"]})
    with pytest.raises(PrivacyError, match="no generalization"):
        anonymize_lattice(
            table, ["race"], hierarchies, [LDiversity(1.9, variant="entropy")], 0.0,
            sensitive=[SENSITIVE],
        )  # fmt: skip
