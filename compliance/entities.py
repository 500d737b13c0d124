"""The PII entities KlikkFlow classifies and their sensitivity levels (ENTITIES.md: how each is found)."""

from __future__ import annotations

from typing import Literal

from compliance.identifiers import IDENTIFIERS

Sensitivity = Literal["public", "internal", "confidential", "restricted"]

SENSITIVITY_ORDER: tuple[Sensitivity, ...] = ("public", "internal", "confidential", "restricted")

ENTITY_SENSITIVITY: dict[str, Sensitivity] = {
    "PERSON": "confidential",
    "EMAIL_ADDRESS": "confidential",
    "PHONE_NUMBER": "confidential",
    "LOCATION": "confidential",
    "IP_ADDRESS": "confidential",
    "DATE_OF_BIRTH": "confidential",
    "US_SSN": "restricted",
    "CREDIT_CARD": "restricted",
    "IBAN_CODE": "restricted",
    **{r.entity: r.sensitivity for r in IDENTIFIERS},  # national identifiers: restricted
}

ENTITIES: tuple[str, ...] = tuple(ENTITY_SENSITIVITY)

# Entities found by regular expressions and validators (no NLP model needed).
PATTERN_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    *(r.entity for r in IDENTIFIERS),
)

# Entities found by named-entity recognition (needs a spaCy model).
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")


def max_sensitivity(levels: list[Sensitivity]) -> Sensitivity:
    """The most sensitive of ``levels`` (``internal`` when empty)."""
    if not levels:
        return "internal"
    return max(levels, key=SENSITIVITY_ORDER.index)
