"""RFM features, churn labels, CLV targets and the non-private customer models."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from _customer_data import AS_OF, HORIZON, START, synthetic_transactions
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.errors import ParameterError, SchemaError
from shopveil.learn._customers import CustomerModel, CustomerModelConfig, train_customer_model
from shopveil.learn._features import (
    FEATURE_NAMES,
    CustomerFeatures,
    churn_labels,
    clv_targets,
    customer_features,
    unit_scaled,
)

torch.set_num_threads(1)

T0 = datetime(2011, 3, 1)


def _handmade() -> pl.DataFrame:
    rows = [
        # invoice, item, quantity, time, price, customer
        ("1", "X", 2, datetime(2011, 1, 1, 10), 5.0, "A"),
        ("1", "Y", 1, datetime(2011, 1, 1, 10), 20.0, "A"),
        ("2", "X", 4, datetime(2011, 2, 20), 5.0, "A"),
        ("C3", "X", -2, datetime(2011, 2, 21), 5.0, "A"),
        ("4", "Z", 1, datetime(2010, 12, 15), 100.0, "B"),
        ("5", "Z", 100, datetime(2011, 2, 1), 1.0, None),  # no customer: dropped
        ("C6", "Z", -1, datetime(2011, 2, 2), 100.0, "D"),  # only a return: not active
        ("7", "X", 3, datetime(2011, 4, 1), 10.0, "A"),  # after as_of
        ("8", "Y", 1, datetime(2011, 3, 10), 7.0, "C"),  # first seen after as_of
    ]
    names = ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")
    return pl.DataFrame([dict(zip(names, r, strict=True)) for r in rows])


def _seeded(seed: int) -> np.random.Generator:
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


def test_rfm_features_of_a_handmade_table() -> None:
    f = customer_features(_handmade(), as_of=T0)
    assert f.customers == ("A", "B")
    assert f.names == FEATURE_NAMES
    a = dict(zip(f.names, f.values[0], strict=True))
    b = dict(zip(f.names, f.values[1], strict=True))
    assert a["recency_days"] == pytest.approx(9.0)
    assert a["frequency"] == 2
    assert a["monetary"] == pytest.approx(50.0)
    assert a["tenure_days"] == pytest.approx(58 + 14 / 24)
    assert a["mean_basket"] == pytest.approx(25.0)
    assert a["distinct_items"] == 2
    assert (a["purchases_30d"], a["purchases_90d"]) == (1, 2)
    assert a["return_rate"] == pytest.approx(0.2)
    assert b["recency_days"] == pytest.approx(76.0) == b["tenure_days"]
    assert (b["frequency"], b["monetary"], b["return_rate"]) == (1, 100.0, 0.0)
    assert (b["purchases_30d"], b["purchases_90d"]) == (0, 1)
    assert f.window_end == T0 and f.window_start == datetime(2010, 12, 15)


def test_since_limits_the_window_and_is_recorded() -> None:
    f = customer_features(_handmade(), as_of=T0, since=datetime(2011, 1, 1))
    assert f.customers == ("A",)
    assert f.window_start == datetime(2011, 1, 1)


def test_labels_and_targets_line_up_with_features() -> None:
    data = _handmade()
    f = customer_features(data, as_of=T0)
    horizon = timedelta(days=90)
    churn = churn_labels(data, as_of=T0, horizon=horizon, customers=f.customers)
    assert churn.tolist() == [0, 1]
    assert churn_labels(data, as_of=T0, horizon=horizon).tolist() == [0, 1]
    assert clv_targets(data, as_of=T0, horizon=horizon).tolist() == [30.0, 0.0]
    short = churn_labels(data, as_of=T0, horizon=timedelta(days=20), customers=["A", "C", "E"])
    assert short.tolist() == [1, 0, 1]


def test_without_invoice_lines_at_one_time_form_one_invoice() -> None:
    f = customer_features(_handmade().drop("InvoiceNo"), as_of=T0, invoice=None)
    assert f.customers == ("A", "B")  # D's return is only a negative quantity now
    assert f.column("frequency").tolist() == [2.0, 1.0]
    assert f.column("return_rate")[0] == pytest.approx(0.2)


def test_float_ids_read_from_csv_become_integers() -> None:
    data = _handmade().filter(pl.col("CustomerID") == "B").with_columns(CustomerID=pl.lit(17850.0))
    assert customer_features(data, as_of=T0).customers == ("17850",)


def test_bad_input_is_refused() -> None:
    with pytest.raises(SchemaError, match="Quantity"):
        customer_features(_handmade().drop("Quantity"), as_of=T0)
    text_times = _handmade().with_columns(pl.col("InvoiceDate").cast(pl.Utf8))
    with pytest.raises(SchemaError, match="timestamps"):
        customer_features(text_times, as_of=T0)
    with pytest.raises(ParameterError, match="horizon"):
        churn_labels(_handmade(), as_of=T0, horizon=timedelta(0))
    with pytest.raises(ParameterError, match="since"):
        customer_features(_handmade(), as_of=T0, since=T0)


@given(arrays(np.float64, (5, len(FEATURE_NAMES)), elements=st.floats(-1e9, 1e12)))
def test_unit_scaled_rows_stay_in_the_unit_box(values: np.ndarray) -> None:
    scaled = unit_scaled(CustomerFeatures(tuple("abcde"), values))
    assert np.all((scaled >= 0) & (scaled <= 1))
    assert np.all(np.linalg.norm(scaled, axis=1) <= math.sqrt(len(FEATURE_NAMES)) + 1e-12)


def _split(
    data: pl.DataFrame,
) -> tuple[CustomerFeatures, np.ndarray, np.ndarray, np.ndarray]:
    f = customer_features(data, as_of=AS_OF, since=START)
    churn = churn_labels(data, as_of=AS_OF, horizon=HORIZON, customers=f.customers)
    revenue = clv_targets(data, as_of=AS_OF, horizon=HORIZON, customers=f.customers)
    order = np.random.default_rng(0).permutation(len(f))
    return f, churn, revenue, order


def _rows(f: CustomerFeatures, index: np.ndarray) -> CustomerFeatures:
    return CustomerFeatures(tuple(f.customers[i] for i in index), f.values[index])


def test_non_private_churn_model_ranks_churners(tmp_path: Path) -> None:
    from sklearn.metrics import roc_auc_score

    f, churn, _, order = _split(synthetic_transactions(1200, seed=1))
    train, test = order[: len(f) * 7 // 10], order[len(f) * 7 // 10 :]
    assert 0.2 < churn.mean() < 0.8
    config = CustomerModelConfig(task="churn", epochs=10, batch_size=64)
    model = train_customer_model(_rows(f, train), churn[train], config=config, rng=_seeded(2))
    scores = model.predict(_rows(f, test))
    assert roc_auc_score(churn[test], scores) > 0.7
    assert model.privacy.mechanism == "none" and math.isinf(model.privacy.epsilon)
    model.save(tmp_path / "churn.npz")
    again = CustomerModel.load(tmp_path / "churn.npz")
    np.testing.assert_allclose(again.predict(_rows(f, test)), scores, rtol=1e-6)
    assert again.privacy == model.privacy and again.config == model.config


def test_non_private_clv_model_orders_spenders() -> None:
    from scipy.stats import spearmanr

    f, _, revenue, order = _split(synthetic_transactions(1200, seed=3))
    train, test = order[: len(f) * 7 // 10], order[len(f) * 7 // 10 :]
    config = CustomerModelConfig(task="clv", hidden=8, epochs=10, batch_size=64)
    model = train_customer_model(_rows(f, train), revenue[train], config=config, rng=_seeded(4))
    predicted = model.predict(_rows(f, test))
    assert np.all(predicted >= 0)
    assert spearmanr(predicted, revenue[test]).statistic > 0.3


def test_model_config_and_targets_are_checked() -> None:
    with pytest.raises(ParameterError, match="task"):
        CustomerModelConfig(task="ltv")
    with pytest.raises(ParameterError, match="epochs"):
        CustomerModelConfig(epochs=0)
    f = customer_features(_handmade(), as_of=T0)
    with pytest.raises(ParameterError, match="0 or 1"):
        train_customer_model(f, np.array([0.0, 2.0]), config=CustomerModelConfig(), rng=_seeded(0))
    with pytest.raises(ParameterError, match="shape"):
        train_customer_model(f, np.array([0.0]), config=CustomerModelConfig(), rng=_seeded(0))
    lone = customer_features(_handmade(), as_of=T0, since=datetime(2011, 1, 1))
    with pytest.raises(ParameterError, match="at least 2 customers"):
        train_customer_model(lone, np.array([1.0]), config=CustomerModelConfig(), rng=_seeded(0))
