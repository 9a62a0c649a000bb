"""What ``train`` and ``evaluate`` share: the file a name stands for, and a fit's context."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopveil._core.subjects import SubjectFilter
    from shopveil._workspace import Workspace
    from shopveil.learn import FitContext, Interactions

__all__ = ["dataset_name", "fit_context", "source_file"]


def dataset_name(path: Path) -> str:
    """The account of unregistered data: the table name a query on the file uses."""
    from shopveil.dp import table_name

    return table_name(path)


def source_file(workspace: Workspace, data: Path) -> Path:
    """``data``, or the file of the registered dataset it names."""
    if data.exists():
        return data
    entry = workspace.catalog.find(str(data))
    return Path(entry.path) if entry is not None else data


def fit_context(
    workspace: Workspace,
    private: bool,
    path: Path,
    data: Interactions,
    request_id: str | None,
    subjects: SubjectFilter | None = None,
) -> FitContext:
    """The fit context: the registered dataset the data is (else the file's name).

    A private fit charges every customer in ``data`` on the workspace's ledger, whatever
    the file is called; a copy of a registered dataset is charged to its account.
    ``subjects`` (the consent register's answer) keeps out the customers who object.
    """
    from shopveil._core.units import PerCustomer
    from shopveil.learn import CUSTOMER, FitContext

    if not private:
        return FitContext(dataset=dataset_name(path), request_id=request_id, subjects=subjects)
    ledger = workspace.ledger
    entry = workspace.catalog.resolve(path, lambda unit: ledger.people(data.user_ids, unit))
    unit = entry.unit if entry is not None and isinstance(entry.unit, PerCustomer) else CUSTOMER
    dataset = entry.name if entry is not None else dataset_name(path)
    return FitContext(
        ledger=ledger, dataset=dataset, request_id=request_id, unit=unit, subjects=subjects
    )
