"""The demo's personalization step: a DP recommender on the bundled Online Retail slice.

Purchases from 2010-12-01 to 12-08 train the DP co-purchase model at ε = 1 per customer
on the bundled public product catalogue (its item list and descriptions),
charged (and audited) to the ledger of the demo's store; 12-09 to 12-12 measure it. The
model is paid for once: its file stays in the output folder, and a later run loads it
instead of charging again. When the account cannot pay (a dataset's default budget is
ε = 1), the step is skipped with a note saying how to go on.

The slice holds about 500 customers over 8 days, few for DP: the report says so and
points to the full-file figures.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from shopveil._core.budgets import ApproxDP
from shopveil.data import product_catalogue
from shopveil.demo._report import CustomerPicks, DemoPersonalization
from shopveil.demo._scorecards import model_scorecard_page
from shopveil.dp import Ledger
from shopveil.errors import BudgetExceeded, MissingExtraError, ShopVeilError

__all__ = ["DEMO_MODEL_BUDGET", "personalize"]

DEMO_MODEL_BUDGET = ApproxDP(1.0, 1e-6)
_SPLIT = datetime(2010, 12, 9)
_DATASET = "online_retail"
_SHOWN = 3  # customers shown
_ITEMS = 5  # items per list


def personalize(retail: pa.Table, output_dir: Path, ledger: Ledger) -> DemoPersonalization:
    """Fit (or load) the demo's DP recommender and measure it on the held-out days.

    A fit charges every customer in the training days on ``ledger`` (audited).
    """
    try:
        from shopveil.learn import (
            Catalogue,
            DPCoPurchase,
            FitContext,
            NoSignalWarning,
            Popularity,
            evaluate,
            load_recommender,
            purchases_only,
            save_recommender,
        )
        from shopveil.learn import from_table as interactions_from
        from shopveil.learn import temporal_split as split
    except MissingExtraError:
        return DemoPersonalization("skipped: install shopveil[ml] for the recommender step")
    data = interactions_from(
        purchases_only(retail), user="CustomerID", item="StockCode", time="InvoiceDate",
        catalogue=Catalogue.from_table(product_catalogue()),
    )  # fmt: skip
    train, test = split(data, _SPLIT)
    path = output_dir / "recommender.npz"
    config = DPCoPurchase(DEMO_MODEL_BUDGET)
    fitted, charged_now = None, False
    if path.exists():
        try:
            loaded, file = load_recommender(path)
            if file.privacy.dataset == _DATASET and list(file.arrays["item_ids"]) == list(
                train.item_ids
            ):
                fitted = loaded
        except ShopVeilError:
            fitted = None  # an unreadable or foreign file is replaced, and paid for anew
    if fitted is None:
        try:
            with warnings.catch_warnings():
                # Expected on 500 customers; the note below says so in words.
                warnings.simplefilter("ignore", NoSignalWarning)
                fitted = config.fit(train, FitContext(ledger=ledger, dataset=_DATASET))
        except BudgetExceeded as exc:
            # Resetting the account would not help: each customer's own budget is spent.
            return DemoPersonalization(
                f"skipped: {exc}. The model of an earlier run is gone, and this store's "
                "customers have spent their budget on it; run the demo on a new store, "
                "e.g. `SHOPVEIL_HOME=.shopveil-demo shopveil demo`"
            )
        save_recommender(fitted, path, train=train, config=config, dataset=_DATASET)
        charged_now = True
    ours = evaluate(fitted, train, test, k=20).as_dict()["recall@20_new"]
    baseline = evaluate(Popularity().fit(train, FitContext()), train, test, k=20)
    counts = train.counts()
    shown = [u for u in np.unique(test.users) if counts[u].nnz >= _ITEMS][:_SHOWN]
    scores = fitted.scores(np.asarray(shown), counts[shown])
    texts = train.item_text or tuple(str(i) for i in train.item_ids)
    picks = []
    for row, user in zip(scores, shown, strict=True):
        own = counts[user].indices
        row[own] = -np.inf  # recommend what the customer has not bought yet
        top = np.argsort(-row, kind="stable")[:_ITEMS]
        last = train.items[train.users == user][::-1]
        _, first = np.unique(last, return_index=True)
        recent = last[np.sort(first)][:3]
        picks.append(CustomerPicks(tuple(texts[i] for i in recent), tuple(texts[i] for i in top)))
    how = "fitted and charged now" if charged_now else "loaded: paid for by an earlier run"
    customers = len(train.active_users())
    copurchase = getattr(fitted, "copurchase", None)  # zeroed when it was all noise
    noise = ""
    if copurchase is not None and not np.any(copurchase):
        noise = (
            "; at this ε the co-purchase release is all noise, so it recommends from "
            "catalogue text and popularity"
        )
    return DemoPersonalization(
        note=f"DP co-purchase recommender at {DEMO_MODEL_BUDGET} per customer ({how}), "
        f"trained on {customers:,} customers; DP noise weighs more on so few (on the full "
        f"file's 3,600 customers the same ε keeps 94% of non-private ALS's recall){noise}",
        model_file=path,
        privacy=fitted.privacy,
        charged_now=charged_now,
        recall_new=ours,
        popularity_recall_new=baseline.as_dict()["recall@20_new"],
        customers=tuple(picks),
        scorecard=model_scorecard_page(path, train, output_dir, ledger.audit),
    )
