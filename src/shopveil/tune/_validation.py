"""The validation window a search scores on, and the fits it runs there (each charged)."""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Callable

import numpy as np

from shopveil.errors import ParameterError, PrivacyError
from shopveil.learn import FitContext, Interactions, Recommender, evaluate

__all__ = ["Fits", "last_share_per_user"]

Progress = Callable[[int, int], None]


def last_share_per_user(data: Interactions, share: float) -> tuple[Interactions, Interactions]:
    """Each customer's last ``share`` of events (by time) apart from the rest: (rest, last).

    A customer with one event keeps it in the rest.
    """
    if not 0 < share < 1:
        raise ParameterError(f"share: expected a share in (0, 1), got {share!r}")
    order = np.lexsort((data.times, data.users))
    users = data.users[order]
    first = np.searchsorted(users, users, side="left")
    count = np.bincount(users, minlength=data.n_users)[users]
    last = np.zeros(len(data), dtype=bool)
    last[order] = np.arange(len(users)) - first >= np.ceil((1 - share) * count)

    def part(keep: np.ndarray) -> Interactions:
        return Interactions(
            data.users[keep],
            data.items[keep],
            data.times[keep],
            data.user_ids,
            data.item_ids,
            data.catalogue,
        )

    return part(~last), part(last)


class Fits:
    """Fits configurations on the training part and scores them on the validation window."""

    def __init__(
        self,
        fit_part: Interactions,
        validation: Interactions,
        k: int,
        measure: str,
        context: FitContext,
        private: bool,
        total: int,
        progress: Progress | None,
    ) -> None:
        self.fit_part, self.validation = fit_part, validation
        self.k, self.measure = k, measure
        self.context, self.private, self.total, self.progress = context, private, total, progress
        self.run_id = secrets.token_hex(6)
        self.done = 0

    def run(
        self, config: Recommender, repeats: int
    ) -> tuple[tuple[float, ...], tuple[str, ...], float]:
        """``repeats`` fits of ``config``: their scores, charges' request ids and ε charged."""
        scores: list[float] = []
        ids: list[str] = []
        charged = 0.0
        for _ in range(repeats):
            request_id = f"tune-{self.run_id}-{self.done}"
            fitted = config.fit(
                self.fit_part, dataclasses.replace(self.context, request_id=request_id)
            )
            if self.private:
                ledger = self.context.ledger
                assert ledger is not None
                charge = ledger.find(request_id, self.context.dataset, self.context.unit)
                if charge is None:
                    raise PrivacyError(f"the fit under {request_id!r} left no charge")
                charged += float(getattr(charge.cost, "epsilon", math.nan))
                ids.append(request_id)
            result = evaluate(fitted, self.fit_part, self.validation, k=self.k)
            scores.append(float(getattr(result.all, self.measure)))
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
        return tuple(scores), tuple(ids), charged
