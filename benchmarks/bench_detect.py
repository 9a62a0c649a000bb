"""PII detection: span quality on Presidio-research text, column quality and speed.

Reads ``../shared/data`` (the shared benchmark data beside the repository) and exits
with status 2 when it is missing. Prints one JSON object.

    .venv/bin/python benchmarks/bench_detect.py [--peer]

``--peer`` also times Presidio's pattern recognizers (``presidio-analyzer``, benchmark-only
dependency) on the same texts, in the same process, with a blank spaCy pipeline (no
NER model is available offline, so Presidio's PERSON recognizer is not measured).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from _harness import load_average, machine, shared_data
from shopveil.data import open_source, read_table
from shopveil.detect import find_text_pii, redact_text, scan_source, scan_table

DATA = shared_data()
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
PII_TEXT = DATA / "pii-text" / "presidio_synth_v2_dev.jsonl"
RETAIL = DATA / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
LABELS = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "card_number",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "PERSON": "person_name",
}
PEER_LABELS = {k: v for k, v in LABELS.items() if k != "PERSON"}


def load_records() -> list[dict[str, object]]:
    return [json.loads(line) for line in PII_TEXT.read_text(encoding="utf-8").splitlines()]


def gold_spans(records: list[dict[str, object]]) -> list[set[tuple[int, int, str]]]:
    gold = []
    for record in records:
        spans = record["spans"]
        assert isinstance(spans, list)
        gold.append(
            {
                (s["start_position"], s["end_position"], LABELS[s["entity_type"]])
                for s in spans
                if s["entity_type"] in LABELS
            }
        )
    return gold


def score(
    gold: list[set[tuple[int, int, str]]], predicted: list[set[tuple[int, int, str]]]
) -> dict[str, dict[str, float | int]]:
    """Per kind: exact-offset and overlap precision/recall."""
    counts: dict[str, Counter[str]] = {}
    for truth, found in zip(gold, predicted, strict=True):
        for kind in {k for *_, k in truth | found}:
            c = counts.setdefault(kind, Counter())
            t = {s for s in truth if s[2] == kind}
            f = {s for s in found if s[2] == kind}
            c["gold"] += len(t)
            c["predicted"] += len(f)
            c["exact"] += len(t & f)
            c["pred_overlap"] += sum(any(_overlap(p, g) for g in t) for p in f)
            c["gold_overlap"] += sum(any(_overlap(p, g) for p in f) for g in t)
    result: dict[str, dict[str, float | int]] = {}
    for kind, c in sorted(counts.items()):
        result[kind] = {
            "gold": c["gold"],
            "predicted": c["predicted"],
            "precision_exact": _ratio(c["exact"], c["predicted"]),
            "recall_exact": _ratio(c["exact"], c["gold"]),
            "precision_overlap": _ratio(c["pred_overlap"], c["predicted"]),
            "recall_overlap": _ratio(c["gold_overlap"], c["gold"]),
        }
    return result


def _overlap(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _ratio(a: int, b: int) -> float:
    return round(a / b, 3) if b else float("nan")


def ours(texts: list[str]) -> list[set[tuple[int, int, str]]]:
    return [{(s.start, s.end, s.kind.value) for s in find_text_pii(t)} for t in texts]


def peer(texts: list[str]) -> tuple[list[set[tuple[int, int, str]]], float]:
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankEngine(SpacyNlpEngine):  # no trained model offline: tokenizer only
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = AnalyzerEngine(nlp_engine=BlankEngine(), supported_languages=["en"])
    entities = list(PEER_LABELS)
    engine.analyze(texts[0], language="en", entities=entities)
    start = time.perf_counter()
    found = [
        {
            (r.start, r.end, PEER_LABELS[r.entity_type])
            for r in engine.analyze(t, language="en", entities=entities)
        }
        for t in texts
    ]
    return found, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peer", action="store_true", help="also run presidio-analyzer")
    args = parser.parse_args()
    load_before = load_average()
    if not PII_TEXT.exists() or not RETAIL.exists():
        print(f"benchmark data not found under {DATA} (expected ../shared/data)", file=sys.stderr)
        return 2
    records = load_records()
    texts = [str(r["full_text"]) for r in records]
    gold = gold_spans(records)
    find_text_pii(texts[0])  # build the word lists before timing
    start = time.perf_counter()
    predicted = ours(texts)
    ours_s = time.perf_counter() - start
    result: dict[str, object] = {
        "pii_text": {"records": len(texts), "shopveil": score(gold, predicted)},
    }
    timing: dict[str, object] = {"find_text_pii_s": round(ours_s, 4)}
    if args.peer:
        peer_found, peer_s = peer(texts)
        gold_peer = [{s for s in g if s[2] != "person_name"} for g in gold]
        ours_peer = [{s for s in p if s[2] != "person_name"} for p in predicted]
        result["pii_text"]["presidio_patterns"] = score(gold_peer, peer_found)  # type: ignore[index]
        result["pii_text"]["shopveil_same_kinds"] = score(gold_peer, ours_peer)  # type: ignore[index]
        timing["presidio_analyze_s"] = round(peer_s, 4)
        timing["presidio_over_shopveil"] = round(peer_s / ours_s, 1)
    result["text_timing"] = timing

    # redact_text throughput: the PII texts repeated, and real product descriptions.
    repeated = pa.array(texts * 200)
    start = time.perf_counter()
    redacted_texts = redact_text(repeated)
    redact_s = time.perf_counter() - start
    retail = read_table(RETAIL)
    descriptions = pc.cast(retail.column("Description"), pa.string()).combine_chunks()
    start = time.perf_counter()
    redacted = redact_text(descriptions)
    desc_s = time.perf_counter() - start
    changed = int(pc.sum(pc.not_equal(redacted, descriptions).cast(pa.int64())).as_py() or 0)
    result["redact_text"] = {
        "pii_texts_rows": len(repeated),
        "pii_texts_rows_per_s": round(len(repeated) / redact_s),
        "descriptions_rows": len(descriptions),
        "descriptions_rows_per_s": round(len(descriptions) / desc_s),
        "descriptions_changed": changed,
    }

    # Column scan of the whole Online Retail file, and of its default 20,000-row sample.
    start = time.perf_counter()
    report = scan_source(open_source(RETAIL))
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    full = scan_table(retail, name=RETAIL.name, sample_rows=retail.num_rows)
    full_s = time.perf_counter() - start
    result["online_retail_scan"] = {
        "sample_rows": report.rows_scanned,
        "sample_scan_s": round(sample_s, 3),
        "full_rows": full.rows_scanned,
        "full_scan_s": round(full_s, 3),
        "columns": {
            f.column: [f.column_class.value, f.kind.value, f.confidence] for f in full.columns
        },
    }
    checks = {
        "spans_inside_their_text": all(
            0 <= begin < end <= len(text)
            for text, spans in zip(texts, predicted, strict=True)
            for begin, end, _ in spans
        ),
        "no_email_left_after_redaction": not pc.any(
            pc.match_substring_regex(redacted_texts, EMAIL)
        ).as_py(),
        "redaction_keeps_every_row": len(redacted) == len(descriptions)
        and redacted.null_count == descriptions.null_count,
        "customer_id_is_a_direct_identifier": any(
            f.column == "CustomerID" and f.column_class.value == "direct_identifier"
            for f in full.columns
        ),
    }
    result["checks"] = checks
    result["machine"] = machine(load_before)
    print(json.dumps(result, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
