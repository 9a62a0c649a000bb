"""Detection against the synthetic shop's ground truth: columns, then text spans."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shopveil._core import Kind
from shopveil.data import RetailDataset, generate_retail, open_source, write_table
from shopveil.detect import ScanReport, find_text_pii, redact_text, scan_source, scan_table

SEEDS = (1, 2)


@pytest.fixture(scope="module", params=SEEDS)
def dataset(request: pytest.FixtureRequest) -> RetailDataset:
    return generate_retail(300, seed=request.param)


@pytest.fixture(scope="module")
def reports(dataset: RetailDataset) -> dict[str, ScanReport]:
    return {name: scan_table(table, name=name) for name, table in dataset.tables.items()}


def _personal_scores(
    dataset: RetailDataset, table: str, report: ScanReport
) -> tuple[float, float, float, list[str]]:
    """Precision and recall of "is personal", class accuracy, and the misclassified."""
    truth = dataset.truth_for(table)
    tp = fp = fn = right = 0
    wrong: list[str] = []
    for found in report.columns:
        expected = truth[found.column]
        personal, should = found.is_personal, expected.column_class.is_personal
        tp += personal and should
        fp += personal and not should
        fn += should and not personal
        if found.column_class is expected.column_class:
            right += 1
        else:
            wrong.append(f"{table}.{found.column}: {found.column_class} != {expected.column_class}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, right / len(report.columns), wrong


def test_every_table_is_personal_precision_and_recall(
    dataset: RetailDataset, reports: dict[str, ScanReport]
) -> None:
    assert set(reports) == {"customers", "orders", "order_lines", "sessions", "chats", "reviews"}
    accuracy: dict[str, float] = {}
    for table, report in reports.items():
        precision, recall, accuracy[table], wrong = _personal_scores(dataset, table, report)
        assert precision >= 0.95, (table, wrong)
        assert recall >= 0.95, (table, wrong)
    print("class accuracy per table:", accuracy)
    assert sum(accuracy.values()) / len(accuracy) >= 0.9


def test_kinds_match_the_ground_truth(
    dataset: RetailDataset, reports: dict[str, ScanReport]
) -> None:
    total = right = 0
    for truth in dataset.columns:
        found = reports[truth.table].finding(truth.column)
        total += 1
        right += found.kind is truth.kind
    print(f"kind accuracy: {right}/{total}")
    assert right / total >= 0.9


def test_csv_export_scans_the_same(dataset: RetailDataset, tmp_path: Path) -> None:
    """Written as CSV and read back, every column is a string; the classes hold."""
    customers = dataset.tables["customers"]
    path = tmp_path / "customers.csv"
    write_table(customers, path)
    report = scan_source(open_source(path))
    truth = dataset.truth_for("customers")
    for found in report.columns:
        assert found.column_class is truth[found.column].column_class, found


_TEXT_KINDS = {Kind.EMAIL, Kind.PHONE, Kind.CARD_NUMBER, Kind.PERSON_NAME}


def test_text_spans_against_the_ground_truth(dataset: RetailDataset) -> None:
    """Span recall per kind we detect, and the precision of what we report."""
    found_right: Counter[Kind] = Counter()
    gold: Counter[Kind] = Counter()
    predicted = correct = 0
    for table in ("chats", "reviews"):
        texts = dataset.tables[table].column("text").to_pylist()
        truth_spans: dict[int, set[tuple[int, int, Kind]]] = {}
        for span in dataset.spans_for(table, "text"):
            truth_spans.setdefault(span.row, set()).add((span.start, span.end, span.kind))
        for row, text in enumerate(texts):
            if text is None:
                continue
            truth = truth_spans.get(row, set())
            found = {(s.start, s.end, s.kind) for s in find_text_pii(text)}
            for start, end, kind in truth:
                if kind in _TEXT_KINDS:
                    gold[kind] += 1
                    found_right[kind] += any(
                        s < end and start < e and k is kind for s, e, k in found
                    )
            predicted += len(found)
            correct += sum(any(s < e2 and s2 < e for s2, e2, _ in truth) for s, e, _ in found)
    recall = {kind.value: found_right[kind] / gold[kind] for kind in gold}
    print("span recall:", recall, "precision:", correct / max(predicted, 1))
    for kind in (Kind.EMAIL, Kind.CARD_NUMBER, Kind.PHONE):
        assert recall[kind.value] >= 0.95
    assert recall[Kind.PERSON_NAME.value] >= 0.6
    assert correct / max(predicted, 1) >= 0.9


def test_redacted_chats_keep_no_email_or_card(dataset: RetailDataset) -> None:
    chats = dataset.tables["chats"].column("text").combine_chunks()
    redacted = redact_text(chats).to_pylist()
    texts = chats.to_pylist()
    assert len(redacted) == len(texts)
    assert pc.sum(pc.is_null(chats).cast(pa.int64())).as_py() == sum(r is None for r in redacted)
    for span in dataset.spans_for("chats", "text"):
        if span.kind in (Kind.EMAIL, Kind.CARD_NUMBER):
            original = texts[span.row]
            assert original is not None
            assert original[span.start : span.end] not in (redacted[span.row] or "")
