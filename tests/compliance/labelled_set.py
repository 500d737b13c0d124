"""The labelled evaluation set of the PII classifier: realistic tables in 14 locales, generated offline.

Each table is what an export of one business system looks like in its
country: column names in the locale's language, some unnamed columns
(``Unnamed: 4``, ``col_3``) whose values alone must decide, columns with
30-70 % blank cells (``None`` or ``""``), and tricky non-PII beside the PII
(Luhn-valid order ids, SSN-shaped tracking numbers, IP-shaped firmware
versions, product and company names, user agents, prose). Values are drawn
fresh per row from a seeded Faker and ``random.Random``: the same ``rows``
and ``seed`` give the same frames. Every identifier labelled with a
checksummed entity passes its python-stdnum validator
(``tests/compliance/test_labelled_set.py``).

These column names must not appear in tests of the column-name vocabularies:
a test where the name gives the answer does not measure the classifier.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
from faker import Faker

from tests.compliance import labelled_values as v

Make = Callable[[Faker, random.Random], object]


@dataclass(frozen=True)
class LabelledTable:
    """One generated table and the true entity of each column (``None``: no PII)."""

    name: str
    locale: str
    frame: pl.DataFrame
    labels: dict[str, str | None]


@dataclass(frozen=True)
class Column:
    """How one column is generated: name, true entity, value maker and share of blank cells."""

    name: str
    entity: str | None
    make: Make
    blanks: float = 0.0


def _c(name: str, entity: str | None, make: Make, blanks: float = 0.0) -> Column:
    return Column(name, entity, make, blanks)


_START, _END = datetime(2021, 1, 1), datetime(2024, 12, 31)


def _timestamp(f: Faker, rng: random.Random) -> str:
    return f.date_time_between(_START, _END).isoformat(sep=" ", timespec="seconds")


def _day(f: Faker, rng: random.Random) -> date:
    return f.date_between(_START.date(), _END.date())


def _dob(fmt: str | None) -> Make:
    def make(f: Faker, rng: random.Random) -> object:
        born = f.date_between(date(1930, 1, 1), date(2006, 12, 31))
        return born if fmt is None else born.strftime(fmt)

    return make


def _amount(decimal: str = ".") -> Make:
    return lambda f, rng: f"{rng.uniform(1, 25_000):.2f}".replace(".", decimal)


def _choice(*options: str) -> Make:
    return lambda f, rng: rng.choice(options)


def _phone(region: str, international: bool = False) -> Make:
    return lambda f, rng: v.phone(f, region, international=international)


def _iban(spaced_share: float = 0.4) -> Make:
    def make(f: Faker, rng: random.Random) -> str:
        number = f.iban()
        return v.spaced(number) if rng.random() < spaced_share else number

    return make


def _street(f: Faker, rng: random.Random) -> str:
    return f.street_address()


def _address(f: Faker, rng: random.Random) -> str:
    return f.address().replace("\n", ", ")


def _customers_us() -> list[Column]:
    return [
        _c("customer_name", "PERSON", lambda f, r: f.name()),
        _c("email", "EMAIL_ADDRESS", lambda f, r: f.email()),
        _c("phone", "PHONE_NUMBER", _phone("US")),
        _c("street_address", "LOCATION", _street),
        _c("city", "LOCATION", lambda f, r: f.city()),
        _c("zip", None, lambda f, r: f.postcode()),
        _c("ssn", "US_SSN", lambda f, r: f.ssn(), blanks=0.4),
        _c("order_id", None, lambda f, r: v.luhn_order_id(r)),
        _c("tracking_no", None, lambda f, r: v.tracking_number(r)),
        _c("product", None, v.product_name),
        _c("company", None, lambda f, r: f.company()),
        _c("user_agent", None, lambda f, r: f.user_agent()),
        _c("Unnamed: 12", "EMAIL_ADDRESS", lambda f, r: f.free_email(), blanks=0.3),
        _c("created_at", None, _timestamp),
        _c("status", None, _choice("active", "churned", "trial", "suspended")),
    ]


def _employees_us() -> list[Column]:
    return [
        _c("first_name", "PERSON", lambda f, r: f.first_name()),
        _c("last_name", "PERSON", lambda f, r: f.last_name()),
        _c("date_of_birth", "DATE_OF_BIRTH", _dob(v.DATE_FORMATS["en_US"])),
        _c("social_security_no", "US_SSN", lambda f, r: f.ssn().replace("-", "")),
        _c("itin", "US_ITIN", lambda f, r: f.itin(), blanks=0.6),
        _c("passport_number", "US_PASSPORT", lambda f, r: f.passport_number(), blanks=0.5),
        _c("drivers_license", "US_DRIVER_LICENSE", lambda f, r: v.us_driver_license(r)),
        _c("job_title", None, lambda f, r: f.job()),
        _c("salary", None, lambda f, r: r.randrange(30_000, 250_000)),
        _c("hire_date", None, _day),
        _c("workstation_ip", "IP_ADDRESS", lambda f, r: f.ipv4_private()),
        _c("firmware", None, lambda f, r: v.firmware_version(r)),
        _c("col_12", None, lambda f, r: f.uuid4()),
        _c("notes", None, lambda f, r: f.paragraph(nb_sentences=3), blanks=0.5),
    ]


def _orders_us() -> list[Column]:
    return [
        _c("contact", "EMAIL_ADDRESS", lambda f, r: v.contact(f)),
        _c("billing_address", "LOCATION", _address),
        _c("card", "CREDIT_CARD", v.card_number),
        _c("client_ip", "IP_ADDRESS", lambda f, r: f.ipv6() if r.random() < 0.3 else f.ipv4_public()),
        _c("order_number", None, lambda f, r: int(v.luhn_order_id(r))),
        _c("sku", None, lambda f, r: v.sku(r)),
        _c("isbn", None, lambda f, r: f.isbn13()),
        _c("amount", None, _amount()),
        _c("currency", None, lambda f, r: f.currency_code()),
        _c("shipped_at", None, _timestamp, blanks=0.3),
        _c("review", None, lambda f, r: f.sentence(nb_words=14), blanks=0.6),
    ]


def _patients_gb() -> list[Column]:
    return [
        _c("patient_name", "PERSON", lambda f, r: f.name()),
        _c("nhs_number", "UK_NHS", lambda f, r: v.nhs_number(r)),
        _c("ni_number", "UK_NINO", lambda f, r: v.nino(r), blanks=0.35),
        _c("dob", "DATE_OF_BIRTH", _dob(v.DATE_FORMATS["en_GB"])),
        _c("address", "LOCATION", _address),
        _c("postcode", None, lambda f, r: f.postcode()),
        _c("mobile", "PHONE_NUMBER", _phone("GB")),
        _c("gp_practice", None, lambda f, r: f"{f.last_name()} Medical Centre"),
        _c("ward", None, _choice("A1", "B2", "Maternity", "ICU", "Oncology")),
        _c("admitted_at", None, _timestamp),
        _c("Unnamed: 10", "EMAIL_ADDRESS", lambda f, r: v.contact(f), blanks=0.4),
    ]


def _kunden_de() -> list[Column]:
    return [
        _c("Vorname", "PERSON", lambda f, r: f.first_name()),
        _c("Nachname", "PERSON", lambda f, r: f.last_name()),
        _c("Straße", "LOCATION", _street),
        _c("PLZ", None, lambda f, r: f.postcode()),
        _c("Ort", "LOCATION", lambda f, r: f.city()),
        _c("Geburtsdatum", "DATE_OF_BIRTH", _dob(v.DATE_FORMATS["de_DE"])),
        _c("Telefon", "PHONE_NUMBER", _phone("DE"), blanks=0.3),
        _c("E-Mail", "EMAIL_ADDRESS", lambda f, r: f.email()),
        _c("Steuer-ID", "DE_TAX_ID", lambda f, r: v.de_tax_id(r), blanks=0.5),
        _c("IBAN", "IBAN_CODE", _iban()),
        _c("Kundennummer", None, lambda f, r: r.randrange(10**6, 10**7)),
        _c("Firma", None, lambda f, r: f.company()),
        _c("Bestellwert", None, _amount(",")),
        _c("Unnamed: 13", None, lambda f, r: v.internal_ref(r, "DE")),
    ]


def _clients_fr() -> list[Column]:
    return [
        _c("prénom", "PERSON", lambda f, r: f.first_name()),
        _c("nom", "PERSON", lambda f, r: f.last_name()),
        _c("adresse", "LOCATION", _street),
        _c("code_postal", None, lambda f, r: f.postcode()),
        _c("ville", "LOCATION", lambda f, r: f.city()),
        _c("date_de_naissance", "DATE_OF_BIRTH", _dob(v.DATE_FORMATS["fr_FR"])),
        _c("téléphone", "PHONE_NUMBER", _phone("FR")),
        _c("courriel", "EMAIL_ADDRESS", lambda f, r: f.email(), blanks=0.45),
        _c("iban", "IBAN_CODE", _iban()),
        _c("numéro_commande", None, lambda f, r: v.luhn_order_id(r)),
        _c("produit", None, v.product_name),
        _c("société", None, lambda f, r: f.company()),
        _c("col_12", "PERSON", lambda f, r: f.name()),
    ]


def _pacientes_es() -> list[Column]:
    return [
        _c("nombre", "PERSON", lambda f, r: f.first_name()),
        _c("apellidos", "PERSON", lambda f, r: f"{f.last_name()} {f.last_name()}"),
        _c("dni", "ES_NIF", lambda f, r: f.nif()),
        _c("nie", "ES_NIE", lambda f, r: f.nie(), blanks=0.65),
        _c("dirección", "LOCATION", _street),
        _c("fecha_nacimiento", "DATE_OF_BIRTH", _dob(None)),
        _c("teléfono", "PHONE_NUMBER", _phone("ES")),
        _c("correo_electrónico", "EMAIL_ADDRESS", lambda f, r: f.email()),
        _c("aseguradora", None, lambda f, r: f.company()),
        _c("observaciones", None, lambda f, r: f.paragraph(nb_sentences=2), blanks=0.4),
        _c("numero_seguimiento", None, lambda f, r: v.tracking_number(r)),
    ]


def _pazienti_it() -> list[Column]:
    return [
        _c("nome", "PERSON", lambda f, r: f.first_name()),
        _c("cognome", "PERSON", lambda f, r: f.last_name()),
        _c("codice_fiscale", "IT_FISCAL_CODE", lambda f, r: f.ssn()),
        _c("indirizzo", "LOCATION", _street),
        _c("città", "LOCATION", lambda f, r: f.city()),
        _c("telefono", "PHONE_NUMBER", _phone("IT")),
        _c("data_di_nascita", "DATE_OF_BIRTH", _dob(v.DATE_FORMATS["it_IT"])),
        _c("email", "EMAIL_ADDRESS", lambda f, r: f.email(), blanks=0.5),
        _c("reparto", None, _choice("Cardiologia", "Ortopedia", "Pediatria", "Neurologia")),
        _c("versione_software", None, lambda f, r: v.firmware_version(r)),
        _c("column_11", "IP_ADDRESS", lambda f, r: f.ipv4()),
    ]


def _klanten_nl() -> list[Column]:
    return [
        _c("voornaam", "PERSON", lambda f, r: f.first_name()),
        _c("achternaam", "PERSON", lambda f, r: f.last_name()),
        _c("adres", "LOCATION", _street),
        _c("postcode", None, lambda f, r: f.postcode()),
        _c("woonplaats", "LOCATION", lambda f, r: f.city()),
        _c("telefoonnummer", "PHONE_NUMBER", _phone("NL", international=True)),
        _c("geboortedatum", "DATE_OF_BIRTH", _dob(v.DATE_FORMATS["nl_NL"])),
        _c("iban", "IBAN_CODE", _iban(0.6), blanks=0.3),
        _c("ordernummer", None, lambda f, r: f"NL-{r.randrange(10**7):07d}"),
        _c("bedrijf", None, lambda f, r: f.company()),
        _c("Unnamed: 10", "PHONE_NUMBER", _phone("NL")),
    ]


def _pracownicy_pl() -> list[Column]:
    return [
        _c("imię", "PERSON", lambda f, r: f.first_name()),
        _c("nazwisko", "PERSON", lambda f, r: f.last_name()),
        _c("pesel", "PL_PESEL", lambda f, r: f.pesel(date_of_birth=_dob(None)(f, r))),
        _c("adres", "LOCATION", _address),
        _c("telefon", "PHONE_NUMBER", _phone("PL")),
        _c("data_urodzenia", "DATE_OF_BIRTH", _dob(v.DATE_FORMATS["pl_PL"])),
        _c("numer_konta", "IBAN_CODE", _iban(0.7)),
        _c("stanowisko", None, lambda f, r: f.job()),
        _c("wynagrodzenie", None, _amount(",")),
        _c("col_9", None, lambda f, r: f.ean13()),
    ]


def _clientes_pt() -> list[Column]:
    return [
        _c("nome", "PERSON", lambda f, r: f.name()),
        _c("morada", "LOCATION", _street),
        _c("código_postal", None, lambda f, r: f.postcode()),
        _c("localidade", "LOCATION", lambda f, r: f.city()),
        _c("telemóvel", "PHONE_NUMBER", _phone("PT"), blanks=0.35),
        _c("data_nascimento", "DATE_OF_BIRTH", _dob(None)),
        _c("email", "EMAIL_ADDRESS", lambda f, r: f.email()),
        _c("iban", "IBAN_CODE", _iban()),
        _c("encomenda", None, lambda f, r: f.uuid4()),
        _c("país", None, lambda f, r: f.country()),
        _c("moeda", None, lambda f, r: f.currency_code()),
    ]


def _kunder_se() -> list[Column]:
    return [
        _c("förnamn", "PERSON", lambda f, r: f.first_name()),
        _c("efternamn", "PERSON", lambda f, r: f.last_name()),
        _c("personnummer", "SE_PERSONNUMMER", v.se_personnummer),
        _c("adress", "LOCATION", _street),
        _c("postnummer", None, lambda f, r: f.postcode()),
        _c("ort", "LOCATION", lambda f, r: f.city()),
        _c("telefon", "PHONE_NUMBER", _phone("SE")),
        _c("e-post", "EMAIL_ADDRESS", lambda f, r: f.email(), blanks=0.5),
        _c("kontonummer", "IBAN_CODE", lambda f, r: v.iban_for("SE", 20, r)),
        _c("Unnamed: 9", None, lambda f, r: f.user_agent()),
        _c("landskod", None, lambda f, r: f.country_code()),
    ]


def _asiakkaat_fi() -> list[Column]:
    return [
        _c("etunimi", "PERSON", lambda f, r: f.first_name()),
        _c("sukunimi", "PERSON", lambda f, r: f.last_name()),
        _c("henkilötunnus", "FI_PERSONAL_IDENTITY_CODE", v.fi_hetu),
        _c("osoite", "LOCATION", _street),
        _c("postinumero", None, lambda f, r: f.postcode()),
        _c("kaupunki", "LOCATION", lambda f, r: f.city()),
        _c("puhelin", "PHONE_NUMBER", _phone("FI")),
        _c("sähköposti", "EMAIL_ADDRESS", lambda f, r: f.email()),
        _c("iban", "IBAN_CODE", _iban(), blanks=0.3),
        _c("tilausnumero", None, lambda f, r: v.luhn_order_id(r)),
        _c("col_10", None, lambda f, r: f.isbn13()),
    ]


def _kunder_no() -> list[Column]:
    return [
        _c("fornavn", "PERSON", lambda f, r: f.first_name()),
        _c("etternavn", "PERSON", lambda f, r: f.last_name()),
        _c("adresse", "LOCATION", _street),
        _c("postnummer", None, lambda f, r: f.postcode()),
        _c("poststed", "LOCATION", lambda f, r: f.city()),
        _c("telefon", "PHONE_NUMBER", _phone("NO")),
        _c("fødselsdato", "DATE_OF_BIRTH", _dob(v.DATE_FORMATS["no_NO"])),
        _c("e-post", "EMAIL_ADDRESS", lambda f, r: f.email(), blanks=0.5),
        _c("kontonummer", "IBAN_CODE", _iban(0.2)),
        _c("kommentar", None, lambda f, r: f.sentence(nb_words=10), blanks=0.6),
        _c("Unnamed: 10", "PERSON", lambda f, r: f.name()),
    ]


def _employees_in() -> list[Column]:
    return [
        _c("employee_name", "PERSON", lambda f, r: f.name()),
        _c("aadhaar", "IN_AADHAAR", lambda f, r: v.aadhaar_number(r)),
        _c("pan", "IN_PAN", lambda f, r: v.pan_number(r), blanks=0.3),
        _c("mobile", "PHONE_NUMBER", _phone("IN", international=True)),
        _c("email", "EMAIL_ADDRESS", lambda f, r: f.email()),
        _c("city", "LOCATION", lambda f, r: f.city()),
        _c("department", None, _choice("Finance", "Engineering", "Sales", "HR", "Legal")),
        _c("Unnamed: 7", None, lambda f, r: v.sku(r)),
    ]


TABLES: tuple[tuple[str, str, Callable[[], list[Column]]], ...] = (
    ("customers_us", "en_US", _customers_us),
    ("employees_us", "en_US", _employees_us),
    ("orders_us", "en_US", _orders_us),
    ("patients_gb", "en_GB", _patients_gb),
    ("kunden_de", "de_DE", _kunden_de),
    ("clients_fr", "fr_FR", _clients_fr),
    ("pacientes_es", "es_ES", _pacientes_es),
    ("pazienti_it", "it_IT", _pazienti_it),
    ("klanten_nl", "nl_NL", _klanten_nl),
    ("pracownicy_pl", "pl_PL", _pracownicy_pl),
    ("clientes_pt", "pt_PT", _clientes_pt),
    ("kunder_se", "sv_SE", _kunder_se),
    ("asiakkaat_fi", "fi_FI", _asiakkaat_fi),
    ("kunder_no", "no_NO", _kunder_no),
    ("employees_in", "en_IN", _employees_in),
)

LOCALE_OF_TABLE: dict[str, str] = {name: locale for name, locale, _ in TABLES}


def _series(column: Column, f: Faker, rng: random.Random, rows: int) -> pl.Series:
    values: list[object] = []
    for _ in range(rows):
        value = column.make(f, rng)
        if column.blanks and rng.random() < column.blanks:
            value = "" if isinstance(value, str) and rng.random() < 0.5 else None
        values.append(value)
    return pl.Series(column.name, values, strict=False)


def labelled_frames(rows: int = 400, seed: int = 0) -> list[LabelledTable]:
    """Every table of the set with ``rows`` rows, generated deterministically from ``seed``."""
    tables = []
    for index, (name, locale, columns) in enumerate(TABLES):
        f = Faker(locale)
        f.seed_instance(seed * 1000 + index)
        rng = random.Random(f"{seed}:{name}")
        spec = columns()
        frame = pl.DataFrame([_series(c, f, rng, rows) for c in spec])
        tables.append(LabelledTable(name, locale, frame, {c.name: c.entity for c in spec}))
    return tables
