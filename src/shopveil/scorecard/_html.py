"""The scorecard as one self-contained HTML page: inline SVG plots, no script, no CDN."""

from __future__ import annotations

import html
import json
import math

from shopveil._core.svg import bar_chart, line_chart
from shopveil.scorecard._model import ModelScorecard
from shopveil.scorecard._release import ReleaseScorecard

__all__ = ["render_scorecard"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1d2330; }
p.verdict { font-size: 1.1rem; padding: 0.6rem 0.8rem; border-radius: 6px; }
p.pass { background: #e6f4ea; } p.fail { background: #fdecea; }
.columns { display: flex; gap: 2rem; flex-wrap: wrap; }
table { border-collapse: collapse; margin: 0.6rem 0 1.4rem; font-size: 0.9rem; }
th, td { border: 1px solid #d7dbe3; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f2f4f8; } figure.plot { margin: 0.5rem 0 1.5rem; }
"""


def render_scorecard(card: ReleaseScorecard | ModelScorecard) -> str:
    """The page for a release's or a model's scorecard; every value is escaped."""
    e = html.escape
    if isinstance(card, ReleaseScorecard):
        title, body = f"Privacy-utility scorecard: {card.release}", _release(card)
    else:
        title, body = f"Privacy-utility scorecard: {card.model}", _model(card)
    verdict_class = "pass" if card.passed else "fail"
    return "\n".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{e(title)}</h1>",
            f"<p class='verdict {verdict_class}' id='verdict'>{e(card.verdict)}</p>",
            body,
            "</body></html>",
        ]
    )


def _rows(pairs: list[tuple[str, str]]) -> str:
    e = html.escape
    cells = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in pairs)
    return f"<table>{cells}</table>"


def _num(value: float | None, fmt: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, fmt)


def _events(seqs: tuple[int, ...] | list[int]) -> str:
    if not seqs:
        return "<p>No audit events referenced (no manifest, or no audit log opened).</p>"
    items = "".join(f"<li id='audit-{seq}'>audit event <b>#{seq}</b></li>" for seq in seqs)
    return (
        f"<ul class='audit'>{items}</ul>"
        "<p>Read them with <code>shopveil audit show --json</code> (their <code>seq</code>); "
        "<code>shopveil audit verify</code> checks the chain.</p>"
    )


def _release(card: ReleaseScorecard) -> str:
    a = card.assessment
    privacy = [
        ("quasi-identifiers", ", ".join(card.qi)),
        ("k", str(a.k)),
        ("l", "–" if a.l is None else str(a.l)),
        ("t", _num(a.t)),
        ("highest prosecutor risk", _num(a.prosecutor_risk, ".1%")),
        ("average prosecutor risk", _num(a.prosecutor.average, ".1%")),
        ("records above the ceiling", _num(a.prosecutor.records_at_risk, ".1%")),
        ("journalist risk", _num(a.journalist_risk, ".1%")),
        ("marketer risk", _num(a.marketer_risk, ".1%")),
        (
            "linkage attack",
            "not run (give --original and --aux)"
            if card.linkage is None
            else f"{card.linkage.reidentified:.1%} of {card.linkage.targets} re-identified",
        ),
        ("ε spent (ledger)", _num(card.ledger.epsilon_spent, ".3g")),
    ]
    utility = [("information loss (NCP)", _num(card.ncp))] + [
        (f"NCP {name}", _num(value)) for name, value in card.ncp_by_attribute.items()
    ]
    risks = [
        ("highest", a.prosecutor_risk),
        ("average", a.prosecutor.average),
        ("at risk", a.prosecutor.records_at_risk),
        ("journalist", a.journalist_risk),
        ("marketer", a.marketer_risk),
    ]
    if card.linkage is not None:
        risks.append(("linkage", card.linkage.reidentified))
    plots = [bar_chart("Re-identification risks", risks, y_label="share of records")]
    if card.ncp_by_attribute:
        plots.append(
            bar_chart(
                "Information loss per quasi-identifier",
                list(card.ncp_by_attribute.items()),
                y_label="NCP",
            )
        )
    record = (card.manifest or {}).get("records_of_processing") or {}
    processing = [
        (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in sorted(record.items())
    ]
    return "\n".join(
        [
            "<div class='columns'><section><h2>Privacy</h2>",
            _rows(privacy),
            "</section><section><h2>Utility</h2>",
            _rows(utility),
            "</section></div>",
            *plots,
            "<h2>Audit events</h2>",
            _events(card.audit_seqs),
            *(["<h2>Record of processing</h2>", _rows(processing)] if processing else []),
        ]
    )


def _model(card: ModelScorecard) -> str:
    m = card.membership.best
    k = card.utility.k
    privacy = [
        ("recommender", card.kind),
        ("mechanism", card.mechanism),
        ("ε (model file)", "∞ (not private)" if not card.private else f"{card.epsilon:g}"),
        ("δ", _num(card.delta, ".2g")),
        ("privacy unit", card.unit),
        ("membership AUC (LiRA offline)", _num(m.auc)),
        ("highest AUC ε allows", _num(card.auc_bound)),
        ("TPR at 1% FPR", _num(m.tpr_at_1pct_fpr, ".2%")),
        ("attacked customers", f"{card.membership.members} in, {card.membership.nonmembers} out"),
        ("ε spent (ledger)", _num(card.ledger.epsilon_spent, ".3g")),
    ]
    base_name = card.baseline_model.value
    head = (
        f"<tr><th>metric</th><th>{html.escape(card.kind)}</th>"
        f"<th>{base_name} (not private)</th></tr>"
    )
    rows = []
    for label, ours, base in (
        (f"Recall@{k}", card.utility.all.recall, card.baseline.all.recall),
        (f"NDCG@{k}", card.utility.all.ndcg, card.baseline.all.ndcg),
        ("coverage", card.utility.all.coverage, card.baseline.all.coverage),
        ("diversity", card.utility.all.diversity, card.baseline.all.diversity),
    ):
        rows.append(f"<tr><td>{label}</td><td>{_num(ours)}</td><td>{_num(base)}</td></tr>")
    curve = {
        f"{card.kind} Recall@{k}": [(p.epsilon, p.recall) for p in card.curve],
        f"{base_name} Recall@{k}": [(p.epsilon, card.baseline.all.recall) for p in card.curve],
    }
    plots = [
        line_chart(
            "Privacy-utility curve over ε",
            curve if card.curve else {},
            y_label=f"Recall@{k}",
            x_label="ε per customer",
        ),
        bar_chart(
            "Membership attacks (AUC; 0.5 is a coin flip)",
            [(name, s.auc) for name, s in card.membership.attacks.items()],
            y_label="AUC",
        ),
    ]
    return "\n".join(
        [
            "<div class='columns'><section><h2>Privacy</h2>",
            _rows(privacy),
            "</section><section><h2>Utility</h2>",
            f"<table>{head}{''.join(rows)}</table>",
            "</section></div>",
            *plots,
            "<h2>Audit events</h2>",
            _events(card.ledger.charge_seqs),
        ]
    )
