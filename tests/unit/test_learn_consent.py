"""Customer models obey the consent register: who objects to profiling is neither charged
nor learned from (segmentation with DP k-means, PATE teachers)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from _people import PEOPLE_KEY

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.units import PerCustomer
from shopveil.audit import AuditLog
from shopveil.dp import Ledger
from shopveil.governance import (
    ConsentFilter,
    ConsentPurpose,
    ConsentRecord,
    ConsentRegister,
    ConsentRow,
    ConsentStatus,
)
from shopveil.keys import Keyring
from shopveil.learn import DPKMeansConfig, GNMaxConfig, Window, dp_kmeans, release_labels
from shopveil.learn._features import FEATURE_NAMES, CustomerFeatures
from shopveil.store import Store

UNIT = PerCustomer("CustomerID")
CUSTOMERS = [f"c{i}" for i in range(60)]
OBJECTING = CUSTOMERS[::3]
JANUARY = Window(datetime(2024, 1, 1), datetime(2024, 2, 1))


@pytest.fixture
def subjects(tmp_path: Path) -> ConsentFilter:
    store = Store.open(f"sqlite:///{tmp_path / 'register.db'}")
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    register = ConsentRegister(store, keyring, AuditLog(store, keyring))
    at = datetime(2024, 1, 1, tzinfo=UTC)
    record = ConsentRecord(ConsentPurpose.PERSONALIZATION, ConsentStatus.REFUSED, at, None, "t")
    register.record([ConsentRow("line 2", c, record) for c in OBJECTING], actor="t")
    found = register.filter("personalization", "gdpr")
    store.close()
    return found


def _who_paid(ledger: Ledger, cost: PureDP | ZCDP) -> set[str]:
    """Those a second release at ``cost`` leaves out: everyone who paid the first."""
    people = ledger.people(CUSTOMERS, UNIT)
    probe = ledger.charge("probe", "other", UNIT, cost, people=people)
    return {c for c in CUSTOMERS if np.isin(ledger.hash_ids([c], UNIT), probe.left_out)[0]}


def test_dp_kmeans_leaves_out_who_objects_to_profiling(
    tmp_path: Path, subjects: ConsentFilter
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger = Ledger(store, people_key=PEOPLE_KEY, default_total=ZCDP(1.0))
    values = np.random.default_rng(0).uniform(0, 100, (len(CUSTOMERS), len(FEATURE_NAMES)))
    features = CustomerFeatures(tuple(CUSTOMERS), values)
    dp_kmeans(
        features, config=DPKMeansConfig(2, ZCDP(0.6), iterations=1), ledger=ledger,
        dataset="shop", request_id="seg", unit=UNIT, subjects=subjects,
    )  # fmt: skip
    assert _who_paid(ledger, ZCDP(0.6)) == set(CUSTOMERS) - set(OBJECTING)
    store.close()


def test_pate_teachers_learn_nothing_from_who_objects(
    tmp_path: Path, subjects: ConsentFilter
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger = Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(1.0, 1e-5))
    rng = np.random.default_rng(1)  # data only, never noise
    rows = np.repeat(np.arange(len(CUSTOMERS)), 3)
    release_labels(
        ledger, dataset="shop", unit=UNIT, name="churn", window=JANUARY,
        features=rng.normal(size=(len(rows), 4)), labels=rows % 2,
        customers=[CUSTOMERS[i] for i in rows], queries=rng.normal(size=(5, 4)), n_labels=2,
        config=GNMaxConfig(sigma=40.0), budget=ApproxDP(0.6, 1e-6), n_teachers=4,
        subjects=subjects,
    )  # fmt: skip
    assert _who_paid(ledger, PureDP(0.6)) == set(CUSTOMERS) - set(OBJECTING)
    store.close()
