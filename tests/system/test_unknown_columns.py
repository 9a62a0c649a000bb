"""Columns no rule knows are never released as they are.

An ``ssn`` column, text with PII among other values, free text, and Parquet struct and
list columns holding names and emails were classed ``other`` and kept under every preset.
Now each is either protected by what it is, or refused until the policy names it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopveil._core.classes import ColumnClass, Kind
from shopveil.data import read_table, write_table
from shopveil.detect import scan_table
from shopveil.errors import SchemaError
from shopveil.pipeline import anonymize_file

PRESETS = ["gdpr", "ccpa", "lgpd", "pipl"]
ROWS = 60


def _ssns(rng: random.Random) -> list[str]:
    return [
        f"{rng.randint(100, 599)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
        for _ in range(ROWS)
    ]


def _write_csv(tmp_path: Path, columns: dict[str, list[str]]) -> Path:
    path = tmp_path / "orders.csv"
    write_table(pa.table({"quantity": [str(i) for i in range(ROWS)], **columns}), path)
    return path


def _policy(tmp_path: Path, columns: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(f"shopveil_policy: 1\nname: shop\nextends: gdpr\ncolumns:\n{columns}")
    return path


@pytest.mark.parametrize("preset", PRESETS)
def test_an_ssn_column_is_an_identifier_under_every_preset(tmp_path: Path, preset: str) -> None:
    ssns = _ssns(random.Random(1))
    source = _write_csv(tmp_path, {"ssn": ssns})
    output = tmp_path / "out.csv"
    result = anonymize_file(source, output, policy=preset)
    step = result.plan.step("ssn")
    assert (step.column_class, step.kind) == (ColumnClass.DIRECT_IDENTIFIER, Kind.NATIONAL_ID)
    text = output.read_text()
    assert not any(ssn in text for ssn in ssns)


def test_ssn_values_are_found_under_a_name_that_says_nothing() -> None:
    found = scan_table(pa.table({"field_1": _ssns(random.Random(2))})).finding("field_1")
    assert (found.column_class, found.kind) == (ColumnClass.DIRECT_IDENTIFIER, Kind.NATIONAL_ID)


def _suspect_columns() -> dict[str, list[str]]:
    rng = random.Random(3)
    mixed = [f"code-{i}" for i in range(ROWS)]
    mixed[7] = "jane.doe@example.com"  # one email among labels
    notes = [
        f"the parcel went to the {rng.choice(['back', 'side', 'front'])} door on day {i} "
        f"and the {rng.choice(['box', 'bag'])} was {rng.choice(['fine', 'wet', 'torn'])}"
        for i in range(ROWS)
    ]
    return {"misc": mixed, "field_9": notes}


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("column", ["misc", "field_9"])
def test_unknown_columns_that_look_personal_are_refused(
    tmp_path: Path, preset: str, column: str
) -> None:
    source = _write_csv(tmp_path, {column: _suspect_columns()[column]})
    with pytest.raises(SchemaError) as raised:
        anonymize_file(source, tmp_path / "out.csv", policy=preset)
    message = str(raised.value)
    assert f"column {column!r}" in message and "'columns'" in message
    assert "jane" not in message
    assert not (tmp_path / "out.csv").exists()


def test_naming_the_column_with_keep_releases_it(tmp_path: Path) -> None:
    columns = _suspect_columns()
    source = _write_csv(tmp_path, columns)
    policy = _policy(
        tmp_path,
        "  misc: {class: sensitive, technique: redact}\n"
        "  field_9: {class: other, technique: keep}\n",
    )
    anonymize_file(source, tmp_path / "out.csv", policy=policy)
    out = read_table(tmp_path / "out.csv")
    assert out.column("field_9").to_pylist() == columns["field_9"]
    assert "jane.doe@example.com" not in out.column("misc").to_pylist()


def _nested(tmp_path: Path) -> Path:
    names = ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    people = [
        {"name": names[i % 3], "email": f"{names[i % 3].split()[0].lower()}@example.com"}
        for i in range(ROWS)
    ]
    table = pa.table(
        {
            "quantity": list(range(ROWS)),
            "buyer": pa.array(people),
            "cc": pa.array([[p["email"]] for p in people]),
        }
    )
    path = tmp_path / "orders.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("preset", PRESETS)
def test_struct_and_list_columns_are_refused_under_every_preset(
    tmp_path: Path, preset: str
) -> None:
    with pytest.raises(SchemaError, match="column 'buyer'"):
        anonymize_file(_nested(tmp_path), tmp_path / "out.parquet", policy=preset)
    assert not (tmp_path / "out.parquet").exists()


def test_nested_columns_named_in_the_policy_are_dropped_or_refused(tmp_path: Path) -> None:
    source = _nested(tmp_path)
    policy = _policy(
        tmp_path,
        "  buyer: {class: direct_identifier, technique: drop}\n"
        '  cc: {class: direct_identifier, technique: "null"}\n',
    )
    anonymize_file(source, tmp_path / "out.parquet", policy=policy)
    out = read_table(tmp_path / "out.parquet")
    assert out.column_names == ["quantity", "cc"]
    assert out.column("cc").null_count == ROWS
    token = _policy(tmp_path, "  buyer: {class: direct_identifier, technique: token}\n")
    with pytest.raises(SchemaError, match=r"'buyer' holds nested values .* drop, keep or \"null\""):
        anonymize_file(source, tmp_path / "again.parquet", policy=token)
