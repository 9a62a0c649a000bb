"""Release gates: pass, or fail with a report counting the failing classes, no data values."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from shopveil.anonymity import (
    KAnonymity,
    LDiversity,
    MaxRisk,
    TCloseness,
    anonymize_mondrian,
    check_gate,
    gate,
)
from shopveil.data._io import read_table
from shopveil.errors import GateFailed, ParameterError

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult" / "adult_slice.csv"
QI = ["sex", "age", "race", "marital-status"]
SENSITIVE = ["salary-class"]


@pytest.fixture(scope="module")
def adult() -> pa.Table:
    return read_table(ADULT)


def _toy() -> pa.Table:
    # Class (F, 30) has 2 rows with one diagnosis; class (M, 40) has 4 rows, two values.
    return pa.table(
        {
            "sex": ["F", "F", "M", "M", "M", "M"],
            "age": ["30", "30", "40", "40", "40", "40"],
            "diagnosis": ["flu-secret", "flu-secret", "cold", "asthma", "cold", "asthma"],
        }
    )


def test_a_failing_gate_names_the_failing_classes(tmp_path: Path) -> None:
    report_path = tmp_path / "gate.json"
    with pytest.raises(GateFailed) as raised:
        gate(
            _toy(),
            ["sex", "age"],
            ["diagnosis"],
            [KAnonymity(3), LDiversity(2)],
            report_path=report_path,
        )
    message = str(raised.value)
    assert "k >= 3" in message and "distinct l >= 2" in message
    assert "1 classes, 2 rows fail" in message
    assert "flu-secret" not in message
    report = json.loads(report_path.read_text())
    assert report["passed"] is False
    assert report["failing_classes"] == [{"size": 2, "fails": ["k >= 3", "distinct l >= 2"]}]
    assert report["quasi_identifiers"] == ["sex", "age"]
    # No value from the data: neither the sensitive one nor the class's QI values.
    assert not {"flu-secret", "F", "30"} & set(json.dumps(report).replace('"', " ").split())


def test_a_passing_gate_returns_its_report(tmp_path: Path) -> None:
    report = gate(_toy(), ["sex"], ["diagnosis"], [KAnonymity(2), MaxRisk(0.5)])
    assert report.passed and bool(report)
    assert [c.passed for c in report.checks] == [True, True]
    assert report.classes == ()


def test_check_gate_reports_without_raising(adult: pa.Table) -> None:
    report = check_gate(
        adult, QI, SENSITIVE, [KAnonymity(5), TCloseness(0.2), MaxRisk(0.1, "marketer")]
    )
    assert not report.passed
    k_check = report.checks[0]
    sizes = adult.to_pandas().groupby(QI).size()
    assert k_check.actual == sizes.min()
    assert k_check.failing_classes == int((sizes < 5).sum())
    assert k_check.failing_rows == int(sizes[sizes < 5].sum())
    assert report.classes[0].size == max(c.size for c in report.classes)  # largest first
    assert report.quasi_identifiers == tuple(QI)


def test_anonymized_output_passes_the_gate(adult: pa.Table) -> None:
    requirements = [KAnonymity(5), LDiversity(2), TCloseness(0.2)]
    result = anonymize_mondrian(adult, QI, requirements, sensitive=SENSITIVE)
    report = gate(result.table, QI, SENSITIVE, requirements)
    assert report.passed
    with pytest.raises(GateFailed):
        gate(adult, QI, SENSITIVE, requirements)


def test_journalist_risk_gate_uses_the_population(adult: pa.Table) -> None:
    req = [MaxRisk(0.3, "journalist")]
    assert not check_gate(adult, QI, [], req).passed
    assert check_gate(adult, QI, [], req, population_size=100 * len(adult)).passed


def test_a_gate_without_requirements_is_refused(adult: pa.Table) -> None:
    with pytest.raises(ParameterError, match="at least one"):
        gate(adult, QI, SENSITIVE, [])
