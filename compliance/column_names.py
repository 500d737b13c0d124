"""Column-name signals in several languages (English, German, French, Spanish, Norwegian, ...).

A name signal never labels a column on its own, except DATE_OF_BIRTH, which
by definition is a date column whose name says birth. It lowers the share of
matching values a column needs and is passed to Presidio as context words.
"""

from __future__ import annotations

import re
import unicodedata

# Whole tokens: short words that would match too much as substrings.
_TOKENS: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("mail", "email", "courriel", "epost", "correo", "mel"),
    "PHONE_NUMBER": ("tel", "tlf", "phone", "mobile", "mobil", "cell", "handy", "fax", "portable", "movil"),
    "PERSON": (
        "name", "nom", "navn", "nombre", "kunde", "customer", "client", "contact", "person", "vorname",
        "nachname", "prenom", "surname", "fornavn", "etternavn", "apellido", "apellidos", "owner", "holder",
        "patient", "employee", "mitarbeiter", "insured", "claimant",
    ),
    "US_SSN": ("ssn", "ssnr"),
    "CREDIT_CARD": ("card", "pan", "cc", "kort", "carte", "tarjeta", "kreditkarte"),
    "IBAN_CODE": ("iban", "rib", "konto", "kontonummer", "bban"),
    "IP_ADDRESS": ("ip", "ipv4", "ipv6", "ipaddr"),
    "LOCATION": (
        "address", "addr", "adresse", "adresa", "street", "strasse", "rue", "calle", "direccion", "city",
        "ville", "stadt", "ort", "location", "wohnort", "anschrift", "poststed", "sted", "ciudad",
    ),
    "DATE_OF_BIRTH": ("dob", "birth", "birthday", "born", "geburtsdatum", "naissance", "nacimiento"),
}  # fmt: skip

# Substrings: long, specific words that also occur inside compounds (telefonnummer, e_mail_adresse).
_SUBSTRINGS: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("email", "e_mail", "courriel", "epost", "e_post"),
    "PHONE_NUMBER": ("phone", "telefon", "telephone", "telefono", "mobil", "handynummer"),
    "PERSON": ("fullname", "firstname", "lastname", "vorname", "nachname", "prenom", "fornavn", "etternavn"),
    "US_SSN": ("social_security", "socialsecurity"),
    "CREDIT_CARD": ("credit_card", "creditcard", "card_number", "cardnumber", "kreditkart"),
    "IBAN_CODE": ("iban", "kontonummer", "bank_account"),
    "IP_ADDRESS": ("ip_addr", "ipaddress", "remote_addr", "client_ip"),
    "LOCATION": ("address", "adresse", "street", "strasse", "straße", "anschrift"),
    "DATE_OF_BIRTH": (
        "birth", "geburt", "naissance", "nacimiento", "fodselsdato", "fødselsdato", "foedselsdato",
    ),
}  # fmt: skip

# Names that contain a signal word but describe something else.
_NOT_PERSON = ("username", "filename", "file_name", "hostname", "host_name", "product", "company", "table")

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^0-9a-zæøåäöüß]+")


def name_tokens(column: str) -> list[str]:
    """Lower-case word tokens of a column name (snake, kebab, camel case and spaces)."""
    text = _CAMEL.sub("_", column).lower()
    return [t for t in _SPLIT.split(text) if t]


def _squashed(column: str) -> str:
    text = _CAMEL.sub("_", column).lower()
    text = unicodedata.normalize("NFC", text)
    return "_".join(t for t in _SPLIT.split(text) if t)


def name_signals(column: str) -> set[str]:
    """Entities that the column's name points to."""
    tokens = set(name_tokens(column))
    squashed = _squashed(column)
    flat = squashed.replace("_", "")
    found = {entity for entity, words in _TOKENS.items() if tokens.intersection(words)}
    for entity, words in _SUBSTRINGS.items():
        if any(w in squashed or w.replace("_", "") in flat for w in words):
            found.add(entity)
    if "PERSON" in found and any(w in squashed for w in _NOT_PERSON):
        found.discard("PERSON")
    if found.intersection({"EMAIL_ADDRESS", "IP_ADDRESS"}):
        found.discard("LOCATION")  # "email_address", "ip_address"
    # "birth_place" or "place_of_birth" is a location, not a date.
    if "DATE_OF_BIRTH" in found and tokens.intersection({"place", "city", "country", "lieu", "ort", "sted"}):
        found.discard("DATE_OF_BIRTH")
        found.add("LOCATION")
    return found


def context_words(column: str) -> list[str]:
    """Column-name tokens handed to Presidio as context."""
    return name_tokens(column)
