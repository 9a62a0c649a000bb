"""The end-to-end demo: bundled Online Retail plus generated customers, protected under GDPR.

It scans each table, compiles the GDPR preset for the ``analytics`` purpose, protects the
rows, writes the protected tables (each with its release manifest) and an HTML summary,
and audits every release. Then it personalizes: a DP recommender trained on the bundled
purchases, charged to the ledger (:mod:`shopveil.demo._personalize`). The generated
customers' release and the recommender get a privacy-utility scorecard each
(:mod:`shopveil.demo._scorecards`).
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pyarrow as pa

from shopveil._workspace import workspace_on
from shopveil.data import bundled_online_retail, generate_retail, write_table, write_text
from shopveil.demo._html import render_demo_html
from shopveil.demo._personalize import personalize
from shopveil.demo._report import DemoReport, DemoTable
from shopveil.demo._scorecards import release_scorecard_page
from shopveil.detect import scan_table
from shopveil.pipeline import apply_plan, audit_release, records_of_processing, write_manifest
from shopveil.policy import compile_plan, load_policy
from shopveil.store import Store

__all__ = ["run_demo"]

DEMO_POLICY = "gdpr"
DEMO_PURPOSE = "analytics"
_SAMPLE_ROWS = 3
# Synthetic customers are fabricated, so a fixed seed is right: the demo is reproducible.
_DEMO_SEED = 20101201


def run_demo(
    output_dir: str | os.PathLike[str] = "demo-output",
    *,
    customers: int = 2_000,
    store: Store | None = None,
) -> DemoReport:
    """Run the demo and write its outputs to ``output_dir``."""
    started = time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    generated = generate_retail(customers, seed=_DEMO_SEED)
    inputs = {
        "online_retail": (bundled_online_retail(), False),
        "customers": (generated.tables["customers"], True),
        "chats": (generated.tables["chats"], True),
    }
    policy = load_policy(DEMO_POLICY)
    owns_store = store is None
    store = store or Store.open()
    try:
        workspace = workspace_on(store, actor="demo")
        keyring, audit = workspace.keyring, workspace.audit
        results = []
        for name, (table, synthetic) in inputs.items():
            scan = scan_table(table, name=name)
            plan = compile_plan(policy, table.schema, purpose=DEMO_PURPOSE, labels=scan.labels())
            protected = pa.Table.from_batches(
                [apply_plan(plan, table, keys=keyring, as_of=date.today())]
            )
            record = records_of_processing(plan, None)
            seq = audit_release(
                audit,
                actor="demo",
                plan=plan,
                rows_in=table.num_rows,
                rows_out=protected.num_rows,
                processing=record,
                table=name,
            )
            path = output_dir / f"{name}.parquet"
            write_table(protected, path)
            write_manifest(path, plan=plan, audit_seq=seq, record=record)
            results.append(
                DemoTable(
                    name=name,
                    scan=scan,
                    plan=plan,
                    rows_in=table.num_rows,
                    rows_out=protected.num_rows,
                    before=table.slice(0, _SAMPLE_ROWS),
                    after=protected.slice(0, _SAMPLE_ROWS),
                    output=path,
                    show_before=synthetic,
                )
            )
        scorecards = [
            card
            for table in results
            if table.show_before  # the generated customers; real rows stay out of pages
            and (
                card := release_scorecard_page(
                    table.name, inputs[table.name][0], table, audit, output_dir
                )
            )
            is not None
        ]
        personalization = personalize(inputs["online_retail"][0], output_dir, workspace.ledger)
        if personalization.scorecard is not None:
            scorecards.append(personalization.scorecard)
        audit_events = audit.verify()
    finally:
        if owns_store:
            store.close()
    html = output_dir / "summary.html"
    report = DemoReport(
        tables=tuple(results),
        output_dir=output_dir,
        html=html,
        audit_events=audit_events,
        seconds=time.perf_counter() - started,
        personalization=personalization,
        scorecards=tuple(scorecards),
    )
    write_text(html, render_demo_html(report))
    return report
