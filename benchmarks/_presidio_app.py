"""Presidio served the way ShopVeil's ``/v1/redact`` is: FastAPI under uvicorn.

``POST /v1/redact`` with ``{"texts": [...]}`` answers ``{"texts": [...]}``: each text
through Presidio's ``AnalyzerEngine`` then its ``AnonymizerEngine`` (every entity replaced
by ``<ENTITY_TYPE>``, Presidio's default). A sync endpoint, as ShopVeil's, so both run
in uvicorn's worker threads. Run by ``bench_service.py``::

    python -m uvicorn _presidio_app:app --workers N --port P

No trained spaCy pipeline installs from PyPI (``en_core_web_sm`` is not published
there), so the NLP engine is a blank English spaCy pipeline: Presidio's pattern
recognizers (email, phone, card, IBAN, IP, ...) all run; its NER-based PERSON,
LOCATION and similar find nothing. The public-suffix check of Presidio's email
recognizer uses tldextract's bundled snapshot: nothing is fetched at run time.
"""

from __future__ import annotations

import spacy
import tldextract
from fastapi import FastAPI
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine
from pydantic import BaseModel, Field

tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls = ()  # the bundled list, no download


class _BlankEngine(SpacyNlpEngine):
    """Tokenizer only: no trained model is installable offline."""

    def load(self) -> None:
        self.nlp = {"en": spacy.blank("en")}


class Texts(BaseModel):
    """Texts in, or redacted texts out."""

    texts: list[str] = Field(min_length=1, max_length=1000)


_engine = _BlankEngine()
_engine.load()
analyzer = AnalyzerEngine(nlp_engine=_engine, supported_languages=["en"])
anonymizer = AnonymizerEngine()
app = FastAPI(title="Presidio, served for comparison")


@app.post("/v1/redact")
def redact(body: Texts) -> Texts:
    """Each text with what Presidio's analyzer finds replaced by its entity type."""
    out = []
    for text in body.texts:
        found = analyzer.analyze(text=text, language="en")
        out.append(anonymizer.anonymize(text=text, analyzer_results=found).text)
    return Texts(texts=out)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Whether the app answers."""
    return {"status": "ok"}
