"""Column classes on real tables, as a privacy engineer would set them.

ARX's Adult slice ships in tests/data. MovieLens may not be copied, so its users table is
rebuilt here with the same columns and vocabularies (ages, genders, the 21 occupation
labels GroupLens lists, ZIP codes) from a seeded generator: what the classifier reads
(names and value shapes) is the same. benchmarks/bench_columns.py runs both real files.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from shopveil._core import ColumnClass, Kind
from shopveil.detect import scan_table

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult" / "adult_slice.csv"
D, Q, S = (
    ColumnClass.DIRECT_IDENTIFIER,
    ColumnClass.QUASI_IDENTIFIER,
    ColumnClass.SENSITIVE,
)


def _labels(table: pa.Table) -> dict[str, tuple[ColumnClass, Kind]]:
    return scan_table(table).labels()


def test_adult_every_column() -> None:
    table = pacsv.read_csv(ADULT, parse_options=pacsv.ParseOptions(delimiter=";"))
    assert _labels(table) == {
        "sex": (Q, Kind.GENDER),
        "age": (Q, Kind.AGE),
        "race": (S, Kind.ETHNICITY),
        "marital-status": (Q, Kind.MARITAL_STATUS),
        "education": (Q, Kind.EDUCATION),
        "native-country": (Q, Kind.COUNTRY),
        "workclass": (Q, Kind.OCCUPATION),
        "occupation": (Q, Kind.OCCUPATION),
        "salary-class": (S, Kind.INCOME),
    }


MOVIELENS_OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment",
    "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none",
    "other", "programmer", "retired", "salesman", "scientist", "student", "technician",
    "writer",
)  # fmt: skip


def _movielens_like_users(rows: int = 943) -> pa.Table:
    rng = random.Random(100)
    return pa.table(
        {
            "user_id": [str(i) for i in range(1, rows + 1)],
            "age": [str(rng.randint(7, 73)) for _ in range(rows)],
            "gender": [rng.choice("MF") for _ in range(rows)],
            "occupation": [rng.choice(MOVIELENS_OCCUPATIONS) for _ in range(rows)],
            "zip_code": [f"{rng.randint(1000, 99999):05d}" for _ in range(rows)],
        }
    )


def test_movielens_users_every_column() -> None:
    assert _labels(_movielens_like_users()) == {
        "user_id": (D, Kind.CUSTOMER_ID),
        "age": (Q, Kind.AGE),
        "gender": (Q, Kind.GENDER),
        "occupation": (Q, Kind.OCCUPATION),
        "zip_code": (Q, Kind.POSTCODE),
    }


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("estado_civil", ["casado", "solteiro", "divorciado"], (Q, Kind.MARITAL_STATUS)),
        ("Familienstand", ["verheiratet", "ledig", "geschieden"], (Q, Kind.MARITAL_STATUS)),
        ("escolaridade", ["ensino médio", "ensino superior"], (Q, Kind.EDUCATION)),
        ("profissao", ["engineer", "teacher", "nurse"], (Q, Kind.OCCUPATION)),
        ("income_band", ["£20k-£30k", "£30k-£40k"], (Q, Kind.INCOME_BAND)),
        ("salario", ["<=50K", ">50K"], (S, Kind.INCOME)),
        ("raca", ["branco", "pardo", "preto"], (S, Kind.ETHNICITY)),
        ("religião", ["catholic", "muslim", "no religion"], (S, Kind.RELIGION)),
        # by values alone
        ("attr_3", ["Married-civ-spouse", "Never-married", "Divorced"], (Q, Kind.MARITAL_STATUS)),
        ("attr_4", ["Bachelors", "HS-grad", "Masters", "Some-college"], (Q, Kind.EDUCATION)),
    ],
)  # fmt: skip
def test_names_in_several_languages_and_values(
    name: str, values: list[str], expected: tuple[ColumnClass, Kind]
) -> None:
    table = pa.table({name: values * 40})
    assert _labels(table)[name] == expected
