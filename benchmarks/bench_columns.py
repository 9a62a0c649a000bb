"""Column classes on real public tables: precision and recall per class.

Six person-level tables, each column labelled by hand as a privacy engineer would (the
labels and their reasons are below, written before the classifier was run on them):

- ARX's Adult and MovieLens 100K users, from ``../shared/data`` (skipped when missing);
- three tables bundled in statsmodels (``fair``: a 1974 survey of marriage and affairs;
  ``anes96``: the 1996 American National Election Study; ``ccard``: credit-card spending)
  and scikit-learn's ``diabetes`` (age, sex, BMI, blood pressure, six blood serum
  measurements), read from the installed packages with no download.

Prints one JSON object: per table, each column's expected and found class; overall,
precision and recall per class and the share of columns classed right.

    .venv/bin/python benchmarks/bench_columns.py
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

import pyarrow as pa
import pyarrow.csv as pacsv

from _harness import load_average, machine, shared_data
from shopveil.detect import scan_table

DATA = shared_data()
D, Q, S, OTHER = "direct_identifier", "quasi_identifier", "sensitive", "other"

EXPECTED: dict[str, dict[str, str]] = {
    "adult": {
        "sex": Q, "age": Q, "race": S, "marital-status": Q, "education": Q,
        "native-country": Q, "workclass": Q, "occupation": Q, "salary-class": S,
    },
    "movielens_users": {
        "user_id": D, "age": Q, "gender": Q, "occupation": Q, "zip_code": Q,
    },
    "statsmodels_fair": {
        "rate_marriage": S,  # how happy the respondent's marriage is
        "age": Q, "yrs_married": Q, "children": Q,
        "religious": S,  # religiosity: GDPR Art. 9
        "educ": Q, "occupation": Q, "occupation_husb": Q,
        "affairs": S,  # sex life: GDPR Art. 9
    },
    "statsmodels_anes96": {
        "popul": Q,  # population of the respondent's place
        "TVnews": OTHER,  # days a week watching TV news
        "selfLR": S, "ClinLR": S, "DoleLR": S, "PID": S,  # political opinions
        "age": Q, "educ": Q,
        "income": Q,  # a 24-band income bracket
        "vote": S, "logpopul": Q,
    },
    "statsmodels_ccard": {
        "AVGEXP": S,  # what the person spends
        "AGE": Q, "INCOME": S, "INCOMESQ": S, "OWNRENT": Q,
    },
    "sklearn_diabetes": {
        "age": Q, "sex": Q, "bmi": S, "bp": S,
        "s1": S, "s2": S, "s3": S, "s4": S, "s5": S, "s6": S,  # blood serum measurements
        "target": S,  # disease progression a year later
    },
}  # fmt: skip


def tables() -> dict[str, pa.Table]:
    found: dict[str, pa.Table] = {}
    adult = DATA / "adult-arx" / "adult.csv"
    if adult.exists():
        found["adult"] = pacsv.read_csv(adult, parse_options=pacsv.ParseOptions(delimiter=";"))
    users = DATA / "movielens-100k" / "u.user"
    if users.exists():
        found["movielens_users"] = pacsv.read_csv(
            users,
            read_options=pacsv.ReadOptions(
                column_names=["user_id", "age", "gender", "occupation", "zip_code"]
            ),
            parse_options=pacsv.ParseOptions(delimiter="|"),
        )
    import statsmodels.api as sm
    from sklearn.datasets import load_diabetes

    for name in ("fair", "anes96", "ccard"):
        frame = getattr(sm.datasets, name).load_pandas().data
        found[f"statsmodels_{name}"] = pa.Table.from_pandas(frame, preserve_index=False)
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    found["sklearn_diabetes"] = pa.Table.from_pandas(diabetes, preserve_index=False)
    return found


def main() -> int:
    load_before = load_average()
    loaded = tables()
    if len(loaded) < len(EXPECTED):
        missing = sorted(set(EXPECTED) - set(loaded))
        print(f"note: {', '.join(missing)} not found under {DATA}", file=sys.stderr)
    result: dict[str, object] = {}
    pairs: list[tuple[str, str]] = []
    start = time.perf_counter()
    for name, table in loaded.items():
        report = scan_table(table, name=name)
        columns = {}
        for finding in report.columns:
            expected = EXPECTED[name][finding.column]
            found = finding.column_class.value
            pairs.append((expected, found))
            columns[finding.column] = {"expected": expected, "found": found,
                                       "kind": finding.kind.value}  # fmt: skip
        result[name] = columns
    scan_s = time.perf_counter() - start
    per_class = {}
    for cls in (D, Q, S, OTHER):
        tp = sum(1 for e, f in pairs if e == f == cls)
        predicted = sum(1 for _, f in pairs if f == cls)
        actual = sum(1 for e, _ in pairs if e == cls)
        per_class[cls] = {
            "expected": actual,
            "found": predicted,
            "precision": round(tp / predicted, 3) if predicted else None,
            "recall": round(tp / actual, 3) if actual else None,
        }
    personal = [(e != OTHER, f != OTHER) for e, f in pairs]
    result["overall"] = {
        "tables": len(loaded),
        "columns": len(pairs),
        "class_accuracy": round(sum(e == f for e, f in pairs) / len(pairs), 3),
        "per_class": per_class,
        "personal_recall": round(
            sum(1 for e, f in personal if e and f) / max(1, sum(e for e, _ in personal)), 3
        ),
        "confusions": dict(Counter(f"{e}->{f}" for e, f in pairs if e != f)),
        "scan_s": round(scan_s, 3),
    }
    checks = {
        "every_expected_column_scanned": all(
            set(result[name]) == set(EXPECTED[name])  # type: ignore[arg-type]
            for name in loaded
        ),
        "at_least_three_package_tables": sum(n.startswith(("stats", "sklearn")) for n in loaded)
        >= 3,
    }
    result["checks"] = checks
    result["machine"] = machine(load_before)
    print(json.dumps(result, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
