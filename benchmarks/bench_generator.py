"""Benchmark the synthetic retail generator against Faker, in the same process.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_generator.py [--customers 1000000] [--faker-rows 5000]

It times ``generate_retail(customers)`` end to end through the public API, then each stage
separately (customers, orders + lines, sessions, chats + reviews, span objects) through the
same private functions with the same random streams, and reports table sizes. The peer is
Faker (``en_GB``) producing the same customer fields one row at a time for ``--faker-rows``
rows, extrapolated to rows per second. Prints one JSON object. Needs only the package (the
product catalogue ships inside it); it does not read ``../shared/data``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from shopveil.data import RetailOptions, generate_retail, product_catalogue
from shopveil.data._generator._generate import _spans
from shopveil.data._generator._orders import make_orders, products
from shopveil.data._generator._people import make_customers
from shopveil.data._generator._sessions import make_sessions
from shopveil.data._generator._text import make_chats, make_reviews

T = TypeVar("T")


CPU_SECONDS: dict[str, float] = {}


def timed(fn: Callable[[], T], label: str = "") -> tuple[T, float]:
    """Wall seconds of ``fn()``; its CPU seconds (all threads) go to ``CPU_SECONDS[label]``.

    The machine is shared, so wall time depends on the neighbours; CPU time much less.
    """
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    if label:
        CPU_SECONDS[label] = time.process_time() - cpu
    return result, time.perf_counter() - start


def stages(customers: int, seed: int, options: RetailOptions) -> dict[str, float]:
    """The generator's stages, timed one by one (mirrors ``generate_retail``)."""
    streams = [
        np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(5)
    ]
    goods, t_catalogue = timed(
        lambda: products(product_catalogue(), options.popularity_exponent), "catalogue"
    )
    people, t_customers = timed(lambda: make_customers(streams[0], customers), "customers")
    orders, t_orders = timed(
        lambda: make_orders(
            streams[1],
            people,
            goods,
            orders_per_customer=options.orders_per_customer,
            lines_per_order=options.lines_per_order,
            repeat_rate=options.repeat_rate,
        ),
        "orders_and_lines",
    )
    _, t_sessions = timed(
        lambda: make_sessions(
            streams[2],
            people,
            goods,
            sessions_per_customer=options.sessions_per_customer,
            anonymous_share=options.anonymous_sessions,
        ),
        "sessions",
    )
    n_chats = round(customers * options.chats_per_customer)
    n_reviews = round(customers * options.reviews_per_customer)
    (chats, reviews), t_text = timed(
        lambda: (
            make_chats(streams[3], people, orders, goods, n_chats),
            make_reviews(streams[4], people, orders, goods, n_reviews),
        ),
        "chats_and_reviews",
    )
    _, t_spans = timed(
        lambda: _spans("chats", chats[1]) + _spans("reviews", reviews[1]), "span_truth_objects"
    )
    return {
        "catalogue": t_catalogue,
        "customers": t_customers,
        "orders_and_lines": t_orders,
        "sessions": t_sessions,
        "chats_and_reviews": t_text,
        "span_truth_objects": t_spans,
    }


def faker_customers(n: int, seed: int) -> float:
    """Seconds for Faker to make ``n`` customers with the same fields, row by row."""
    fake = Faker("en_GB")
    Faker.seed(seed)
    start = time.perf_counter()
    rows = []
    for i in range(n):
        first, last = fake.first_name(), fake.last_name()
        rows.append(
            {
                "customer_id": str(10_000_001 + i),
                "name": f"{first} {last}",
                "email": f"{first}.{last}@{fake.free_email_domain()}".lower(),
                "phone": fake.phone_number(),
                "street_address": fake.street_address(),
                "postcode": fake.postcode(),
                "city": fake.city(),
                "country": "United Kingdom",
                "birth_date": fake.date_of_birth(minimum_age=18, maximum_age=85),
                "gender": fake.random_element(("F", "M", "X")),
                "loyalty_id": fake.bothify("LC##########"),
                "card_number": fake.credit_card_number(card_type="visa16"),
                "ip_address": fake.ipv4_public(),
                "signup_date": fake.date_between("-6y", "today"),
                "opted_out_of_sale": fake.pybool(10),
            }
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--faker-rows", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    options = RetailOptions()

    load_before = os.getloadavg()[0]
    data, t_total = timed(
        lambda: generate_retail(args.customers, seed=args.seed, options=options), "total"
    )
    rows = {name: table.num_rows for name, table in data.tables.items()}
    spans = len(data.spans)
    checks = linked(data.tables, args.customers)
    del data
    stage_seconds = stages(args.customers, args.seed, options)
    t_faker, _ = timed(lambda: faker_customers(args.faker_rows, args.seed), "faker")

    faker_rate = args.faker_rows / t_faker
    customers_rate = args.customers / stage_seconds["customers"]
    all_rows = sum(rows.values())
    print(
        json.dumps(
            {
                "benchmark": "generator",
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_avg_1m_at_start": round(load_before, 2),
                    "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                },
                "customers": args.customers,
                "seed": args.seed,
                "options": options.__dict__,
                "generate_retail_seconds": round(t_total, 2),
                "generate_retail_cpu_seconds": round(CPU_SECONDS["total"], 2),
                "rows": rows,
                "rows_total": all_rows,
                "spans": spans,
                "stage_seconds": {k: round(v, 2) for k, v in stage_seconds.items()},
                "stage_cpu_seconds": {
                    k: round(v, 2) for k, v in CPU_SECONDS.items() if k in stage_seconds
                },
                "customers_rows_per_second": round(customers_rate),
                "all_tables_rows_per_second": round(all_rows / t_total),
                "faker": {
                    "rows": args.faker_rows,
                    "seconds": round(t_faker, 2),
                    "cpu_seconds": round(CPU_SECONDS["faker"], 2),
                    "customers_rows_per_second": round(faker_rate),
                    "extrapolated_seconds_for_customers": round(args.customers / faker_rate, 1),
                },
                "ratio_customers_vs_faker": round(customers_rate / faker_rate, 1),
                "ratio_customers_vs_faker_cpu": round(
                    (args.customers / CPU_SECONDS["customers"])
                    / (args.faker_rows / CPU_SECONDS["faker"]),
                    1,
                ),
                "ratio_end_to_end_customers_vs_faker_customers_only": round(
                    (args.customers / t_total) / faker_rate, 1
                ),
                "checks": checks,
            },
            indent=2,
        )
    )
    if not all(checks.values()):
        sys.exit(1)


def linked(tables: dict[str, pa.Table], customers: int) -> dict[str, bool]:
    """The tables hold what was asked, and every reference points at a row that exists."""
    ids = tables["customers"].column("customer_id")
    orders = tables["orders"]
    return {
        "customers_as_asked": tables["customers"].num_rows == customers,
        "customer_ids_unique": pc.count_distinct(ids).as_py() == len(ids),
        "orders_name_known_customers": bool(
            pc.all(pc.is_in(orders.column("customer_id"), value_set=ids)).as_py()
        ),
        "order_lines_name_known_orders": bool(
            pc.all(
                pc.is_in(
                    tables["order_lines"].column("order_id"), value_set=orders.column("order_id")
                )
            ).as_py()
        ),
    }


if __name__ == "__main__":
    main()
