"""The PII entities KlikkFlow classifies and their sensitivity levels."""

from __future__ import annotations

from typing import Literal

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
    "UK_NINO": "restricted",
    "UK_NHS": "restricted",
    "ES_NIF": "restricted",
    "ES_NIE": "restricted",
    "IT_FISCAL_CODE": "restricted",
    "PL_PESEL": "restricted",
    "FI_PERSONAL_IDENTITY_CODE": "restricted",
    "SE_PERSONNUMMER": "restricted",
    "DE_TAX_ID": "restricted",
    "US_PASSPORT": "restricted",
    "US_ITIN": "restricted",
    "US_DRIVER_LICENSE": "restricted",
    "IN_AADHAAR": "restricted",
    "IN_PAN": "restricted",
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
)

# Entities found by named-entity recognition (needs a spaCy model).
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")


def max_sensitivity(levels: list[Sensitivity]) -> Sensitivity:
    """The most sensitive of ``levels`` (``internal`` when empty)."""
    if not levels:
        return "internal"
    return max(levels, key=SENSITIVITY_ORDER.index)
