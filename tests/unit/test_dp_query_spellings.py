"""One customer whose id the file spells several ways is one person to a DP query, as to
the ledger: contribution bounding keeps at most N of their rows in all, and partition
selection counts them once, so a group only they hold is not released."""

from __future__ import annotations

import secrets
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger, QueryOptions, run_query
from shopveil.dp._people import PeopleKey
from shopveil.store import Store

UNIT = PerCustomer("customer", 1)
# The same customer "c1": spaces around and inside, no-break and ideographic spaces, a
# tab, full-width letters and digits; all canonical "c1".
SPELLINGS = ["c1", " c1", "c1 ", "\uff431", "c1\u00a0", "c1\t", "\u3000c1", "c1\u2003"]


def _ledger(tmp_path: Path, total: ApproxDP) -> Ledger:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    return Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)), default_total=total)


def test_bounding_keeps_n_rows_of_a_person_however_their_id_is_spelled(tmp_path: Path) -> None:
    others = [f"c{i}" for i in range(2, 202)]  # 200 people, one row each
    ids = others + SPELLINGS * 25  # c1: 200 rows in 8 spellings
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"customer": ids, "v": [1] * len(ids)}), path)
    ledger = _ledger(tmp_path, ApproxDP(1e6, 1e-3))
    assert len(set(ledger.hash_ids(pa.array(ids), UNIT).tolist())) == 201
    options = QueryOptions(epsilon=PureDP(1000.0), unit=UNIT)  # noise scale 0.001
    answer = run_query("SELECT COUNT(*) AS n FROM orders", str(path), options=options,
                       ledger=ledger)  # fmt: skip
    # One row per person: 201; counted per spelling it was 208.
    assert abs(answer.rows[0]["n"].value - 201) < 1


def test_a_group_only_one_person_holds_is_not_released_by_spelling_them_apart(
    tmp_path: Path,
) -> None:
    ids = [f"c{i}" for i in range(300)]
    groups = ["common"] * 300
    victim = [" " * a + "v1" + " " * b for a in range(8) for b in range(8)]  # 64 spellings
    ids, groups = ids + victim, groups + ["diagnosis-X"] * len(victim)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"customer": ids, "s": groups}), path)
    ledger = _ledger(tmp_path, ApproxDP(100, 1e-3))
    options = QueryOptions(epsilon=PureDP(1.0), delta=1e-6, unit=UNIT)
    released = 0
    for _ in range(5):  # counted per spelling (64 "people"), it was released every time
        answer = run_query("SELECT s, COUNT(*) AS n FROM t GROUP BY s", str(path),
                           options=options, ledger=ledger)  # fmt: skip
        released += any(row["s"] == "diagnosis-X" for row in answer.rows)
    assert released == 0
