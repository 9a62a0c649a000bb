"""The demo's recommender is paid for once: fitted and charged, then loaded, else refused."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from shopveil._workspace import workspace_on
from shopveil.data import bundled_online_retail
from shopveil.demo._personalize import DEMO_MODEL_BUDGET, personalize
from shopveil.dp import Ledger
from shopveil.learn._charging import CUSTOMER
from shopveil.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::shopveil.learn.NoSignalWarning")


def test_the_demo_recommender_is_charged_once_and_refused_when_its_model_is_gone(
    store: Store, tmp_path: Path
) -> None:
    workspace = workspace_on(store, master_key=secrets.token_bytes(32))
    audit, ledger = workspace.audit, workspace.ledger
    retail = bundled_online_retail()
    first = personalize(retail, tmp_path, ledger)
    assert first.charged_now and first.privacy == DEMO_MODEL_BUDGET
    assert first.recall_new is not None and 0 < first.recall_new <= 1
    assert len(first.customers) == 3
    for picks in first.customers:
        assert picks.recommended and not set(picks.recommended) & set(picks.bought)
    spent = Ledger(store).show("online_retail", CUSTOMER).spent
    assert spent == DEMO_MODEL_BUDGET

    again = personalize(retail, tmp_path, ledger)  # the model file is still there
    assert not again.charged_now and again.recall_new == first.recall_new
    assert Ledger(store).show("online_retail", CUSTOMER).spent == spent

    assert first.model_file is not None
    first.model_file.unlink()
    refused = personalize(retail, tmp_path, ledger)
    assert (
        refused.recall_new is None and "SHOPVEIL_HOME=.shopveil-demo shopveil demo" in refused.note
    )
    assert Ledger(store).show("online_retail", CUSTOMER).spent == spent
    assert [e.action for e in audit.events()].count("dp.charge") == 1
