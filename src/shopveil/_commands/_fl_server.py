"""The ServerApp ``shopveil fl serve`` runs: :func:`shopveil.federated.deploy.deployment_server`
with the workspace's consent register and people ledger as its ``admit`` hook (the
federated package sits below the workspace, so the hook is made here). Imports Flower:
only the SuperLink's ServerApp process imports this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopveil.federated.deploy import deployment_server, run_from_config

__all__ = ["admit", "server"]


def admit(config: dict[str, Any], ids: list[str], train: np.ndarray) -> tuple[np.ndarray, dict]:
    """Whom a deployed run may use: the consent register's answer, then (DP) one charge.

    Runs in the ServerApp's process, before round 1; the run config names the store
    (``db``), the purpose, law and people table, and for a DP run the request id.
    """
    from shopveil._core.units import PerCustomer
    from shopveil._workspace import open_workspace
    from shopveil.learn import CUSTOMER, charge_customers, consenting

    run = run_from_config(config)
    workspace = open_workspace(str(config.get("db", "")) or None)
    try:
        people = str(config.get("people", "")) or None
        subjects = workspace.allowed_subjects(
            str(config.get("purpose", "personalization")),
            str(config.get("jurisdiction", "")) or None,
            people,
        )
        keep = consenting(subjects, ids)
        fields: dict[str, Any] = {"left_out_by_consent": int((~keep).sum())}
        if run.dp is None:
            return keep, fields
        ledger = workspace.ledger
        training = np.flatnonzero(keep & train)
        who = [ids[i] for i in training]
        entry = workspace.catalog.resolve(None, lambda unit: ledger.people(who, unit))
        unit = entry.unit if entry is not None and isinstance(entry.unit, PerCustomer) else CUSTOMER
        dataset = entry.name if entry is not None else str(config["dataset"])
        request_id = str(config["request-id"])
        _, kept = charge_customers(
            ledger, request_id, dataset, unit, run.dp.budget, who,
            what="churn model, federated DP-FedAvg (deployed)", subjects=subjects,
        )  # fmt: skip
        keep[training[~kept]] = False
        return keep, fields | {
            "request_id": request_id, "dataset": dataset,
            "charged_customers": int(kept.sum()), "left_out_by_budget": int((~kept).sum()),
        }  # fmt: skip
    finally:
        workspace.close()


server = deployment_server(admit)
