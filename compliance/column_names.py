"""Column-name signals in English, German, French, Spanish, Italian, Dutch, Polish, Portuguese, Swedish,
Finnish, Norwegian and Danish.

A name signal never labels a column on its own, except DATE_OF_BIRTH, which
by definition is a date column whose name says birth. It lowers the share of
matching values a column needs and is passed to Presidio as context words.
A *counter-signal* is a name that says the column holds something else
(``order_id``, ``tracking_no``, ``software_version``, ``product``): values
that only look like PII there are not labelled (see :func:`counter_signal`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from compliance.name_languages import word_languages
from compliance.recognizers import Recognizer

# Whole tokens: short words that would match too much as substrings.
_TOKENS: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("mail", "email", "courriel", "epost", "correo", "mel", "sahkoposti", "eposti"),
    "PHONE_NUMBER": (
        "tel", "tlf", "phone", "mobile", "mobil", "cell", "handy", "fax", "portable", "movil", "celular",
        "telemovel", "cellulare", "puhelin", "gsm", "telefon", "telefoon", "telefone", "telefono", "nr_tel",
        "komorka", "matkapuhelin", "puh", "msisdn",
    ),
    "PERSON": (
        "name", "nom", "navn", "nombre", "kunde", "customer", "client", "contact", "person", "vorname",
        "nachname", "prenom", "surname", "fornavn", "etternavn", "apellido", "apellidos", "owner", "holder",
        "patient", "employee", "mitarbeiter", "insured", "claimant", "nome", "cognome", "naam", "voornaam",
        "achternaam", "imie", "nazwisko", "sobrenome", "apelido", "namn", "fornamn", "efternamn", "nimi",
        "etunimi", "sukunimi", "paziente", "cliente", "klant", "klient", "asiakas", "pasient", "patient",
        "potilas", "pacjent", "paciente", "dipendente", "medewerker", "pracownik", "funcionario", "anstalld",
        "tyontekija", "ansatt", "fullname", "firstname", "lastname", "givenname", "familyname",
        "familienname", "zuname", "efternavn", "roepnaam", "tussenvoegsel", "fname", "lname", "nm",
    ),
    "US_SSN": ("ssn", "ssnr"),
    "CREDIT_CARD": ("card", "cc", "kort", "carte", "tarjeta", "kreditkarte", "carta", "kaart", "karta",
                    "cartao", "kortti", "ccnum"),
    "IBAN_CODE": ("iban", "rib", "konto", "kontonummer", "bban", "rekeningnummer", "tilinumero", "kontonr"),
    "IP_ADDRESS": ("ip", "ipv4", "ipv6", "ipaddr"),
    "LOCATION": (
        "address", "addr", "adresse", "adresa", "street", "strasse", "rue", "calle", "direccion", "city",
        "ville", "stadt", "ort", "location", "wohnort", "anschrift", "poststed", "sted", "ciudad",
        "indirizzo", "citta", "comune", "localita", "adres", "straat", "woonplaats", "plaats", "ulica",
        "miasto", "miejscowosc", "morada", "endereco", "cidade", "localidade", "rua", "adress",
        "gatuadress", "postort",
        "stad", "osoite", "katuosoite", "kaupunki", "paikkakunta", "postitoimipaikka", "gateadresse",
        "residence", "domicile", "domicilio", "bosted", "hometown",
    ),
    "DATE_OF_BIRTH": (
        "dob", "birth", "birthday", "born", "geburtsdatum", "naissance", "nacimiento", "nascita",
        "geboortedatum", "geboorte", "urodzenia", "urodzin", "nascimento", "fodelsedatum", "fodelse",
        "syntymaaika", "syntymapaiva", "fodselsdato", "fodt", "foedselsdato", "fdato", "gebdat", "geb",
        "brth", "bdate", "birthdt", "nasc", "nac", "fnac", "fodselsdag", "fodelsedag", "bursdag",
    ),
}  # fmt: skip

# Substrings: long, specific words that also occur inside compounds (telefonnummer, e_mail_adresse).
_SUBSTRINGS: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("email", "e_mail", "courriel", "epost", "e_post", "sahkoposti", "emailadres"),
    "PHONE_NUMBER": ("phone", "telefon", "telephone", "telefono", "mobil", "handynummer", "telefoon",
                     "puhelin", "telefone", "cellulare"),
    "PERSON": ("fullname", "firstname", "lastname", "vorname", "nachname", "prenom", "fornavn", "etternavn",
               "voornaam", "achternaam", "nazwisko", "cognome", "etunimi", "sukunimi", "fornamn", "efternamn",
               "sobrenome", "apellido"),
    "US_SSN": ("social_security", "socialsecurity"),
    "CREDIT_CARD": ("credit_card", "creditcard", "card_number", "cardnumber", "kreditkart", "creditcard",
                    "kartenummer", "cartadicredito", "carta_di_credito", "tarjeta_credito", "karta_kredyt"),
    "IBAN_CODE": ("iban", "kontonummer", "bank_account", "rekeningnummer", "numer_konta", "tilinumero"),
    "IP_ADDRESS": ("ip_addr", "ipaddress", "remote_addr", "client_ip"),
    "LOCATION": ("address", "adresse", "street", "strasse", "straße", "anschrift", "indirizzo", "direccion",
                 "endereco", "osoite", "woonplaats", "gatuadress", "gateadresse"),
    "DATE_OF_BIRTH": (
        "birth", "geburt", "naissance", "nacimiento", "fodselsdato", "fødselsdato", "foedselsdato", "nascita",
        "geboorte", "urodzenia", "nascimento", "fodelse", "födelse", "syntyma", "syntymä",
    ),
}  # fmt: skip

# Names that contain a signal word but describe something else.
_NOT_PERSON = (
    "username", "filename", "file_name", "hostname", "host_name", "product", "company", "table", "firma",
    "produkt", "prodotto", "producto", "produit", "azienda", "empresa", "bedrijf", "yritys", "selskap",
    "foretag", "tuote", "street", "city", "domain", "brand", "marke", "menu", "job", "title",
)  # fmt: skip
# Tokens naming a thing that is not a person: the column's values are that thing's identifiers or names.
_COUNTER: tuple[str, ...] = (
    "order", "orders", "invoice", "tracking", "shipment", "parcel", "package", "product", "sku", "article",
    "item", "version", "firmware", "build", "release", "sw", "hw", "model", "transaction", "txn", "ticket",
    "batch", "lot", "ean", "isbn", "gtin", "upc", "hash", "checksum", "sha", "md5", "company", "brand",
    "agent", "useragent", "browser", "job", "title", "bestellung", "auftrag", "rechnung",
    "sendung", "produkt", "artikel", "commande", "facture", "produit", "pedido", "factura", "producto",
    "ordine", "fattura", "prodotto", "bestelling", "factuur", "zamowienie", "faktura", "encomenda",
    "fatura", "tilaus", "lasku", "tuote", "ordre", "bestilling", "vare", "firma", "empresa", "azienda",
    "bedrijf", "yritys", "selskap", "foretag", "commit", "revision",
)  # fmt: skip
# Beginnings of compound names in those languages (tilausnumero, Bestellnummer, Sendungsnummer).
_COUNTER_PREFIXES: tuple[str, ...] = (
    "order", "invoice", "tracking", "product", "version", "firmware", "tilaus", "bestell", "auftrag",
    "rechnung", "sendung", "commande", "factur", "pedido", "ordine", "fattur", "zamowien", "faktur",
    "encomend", "lasku", "ordre", "seguimiento", "suivi", "spedizion", "zending", "przesylk", "rastreio",
    "seuranta", "sporing", "sparning", "isbn", "artikel",
)  # fmt: skip

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    """Lower case without accents (``Straße`` -> ``strasse``, ``Fødselsdato`` -> ``fodselsdato``)."""
    text = text.lower().replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("ł", "l")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def name_tokens(column: str) -> list[str]:
    """Lower-case, accent-free word tokens of a column name (snake, kebab, camel case and spaces)."""
    return [t for t in _SPLIT.split(_fold(_CAMEL.sub("_", column))) if t]


def name_signals(column: str, recognizers: Iterable[Recognizer] = ()) -> set[str]:
    """Entities that the column's name points to (``recognizers`` add their own words)."""
    return set(name_evidence(column, recognizers))


def name_evidence(column: str, recognizers: Iterable[Recognizer] = ()) -> dict[str, str]:
    """Entity -> the vocabulary word of the column's name that points to it (see :func:`name_signals`)."""
    tokens = set(name_tokens(column))
    squashed = "_".join(name_tokens(column))
    flat = squashed.replace("_", "")
    found: dict[str, str] = {}
    for entity, words in _TOKENS.items():
        hit = next((w for w in words if w in tokens), None)
        if hit is not None:
            found[entity] = hit
    for entity, words in _SUBSTRINGS.items():
        hit = next((w for w in words if _fold(w) in squashed or _fold(w).replace("_", "") in flat), None)
        if hit is not None:
            found.setdefault(entity, hit)
    for recognizer in recognizers:
        hit = next((w for w in recognizer.words if _fold(w) in tokens), None) or next(
            (w for w in recognizer.substrings if _fold(w).replace("_", "") in flat), None
        )
        if hit is not None:
            found.setdefault(recognizer.entity, hit)
    if "PERSON" in found and any(w in squashed for w in _NOT_PERSON):
        del found["PERSON"]
    if found.keys() & {"EMAIL_ADDRESS", "IP_ADDRESS"}:
        found.pop("LOCATION", None)  # "email_address", "ip_address"
    # "birth_place" or "place_of_birth" is a location, not a date.
    place = ("place", "city", "country", "lieu", "ort", "sted", "luogo", "lugar", "miejsce", "paikka")
    where = next((w for w in place if w in tokens), None)
    if "DATE_OF_BIRTH" in found and where is not None:
        del found["DATE_OF_BIRTH"]
        found["LOCATION"] = where
    return found


def counter_signal(column: str) -> bool:
    """True when the name says the column holds a non-personal thing (an order, a version, a product)."""
    return counter_word(column) is not None


def counter_word(column: str) -> str | None:
    """The token of the column's name that makes it a counter-signal (``order`` of ``order_id``), if any."""
    for token in name_tokens(column):
        if token in _COUNTER or token.startswith(_COUNTER_PREFIXES):
            return token
    return None


def context_words(column: str) -> list[str]:
    """Column-name tokens handed to Presidio as context."""
    return name_tokens(column)


def name_word_languages(word: str) -> tuple[str, ...]:
    """The languages of a vocabulary word returned by :func:`name_evidence` (``straße`` -> ``("de",)``)."""
    return word_languages(_fold(word))
