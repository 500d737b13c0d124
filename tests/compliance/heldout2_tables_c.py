"""Second held-out set, part C: Irish and continental tables with national identifiers."""

from __future__ import annotations

import datetime as dt
import random

from faker import Faker
from stdnum.pl import nip

from tests.compliance import heldout2_values as v
from tests.compliance.heldout2_values import UPPER, TableBuilder, pick

_IE_TOWNS = [
    ("Ballincollig", "Co. Cork", "P31"),
    ("Naas", "Co. Kildare", "W91"),
    ("Swords", "Co. Dublin", "K67"),
    ("Tralee", "Co. Kerry", "V92"),
    ("Ennis", "Co. Clare", "V95"),
    ("Letterkenny", "Co. Donegal", "F92"),
    ("Athlone", "Co. Westmeath", "N37"),
    ("Rathmines", "Dublin 6", "D06"),
]


def ie_utility_billing(rows: int, seed: int) -> TableBuilder:
    """en_IE: an electricity supplier's billing run (a CRM report: custom fields, one column unnamed)."""
    b = TableBuilder("ie_utility_billing", "en_IE", rows, seed)
    f, rng = b.fake, b.rng
    # None: 11-digit meter point reference numbers
    b.add("MPRN", None, lambda: "10" + v.digits(rng, 9))
    b.add("Account Holder", "PERSON", f.name)
    b.add("Supply Address", "LOCATION", lambda: _ie_address(f, rng))
    mobile = lambda: "08" + pick(rng, "35679") + v.digits(rng, 7)  # noqa: E731
    b.add(
        "Contact_Mobile__c",
        "PHONE_NUMBER",
        lambda: v.phone(mobile, "IE", pick(rng, ["national", "raw"])),
        0.3,
    )
    b.add("Email", "EMAIL_ADDRESS", f.email)
    b.add("IBAN (DD)", "IBAN_CODE", lambda: v.spaced_iban(f), 0.45)
    # None: a four-value tariff enum
    b.add("Tariff", None, lambda: pick(rng, ["Standard 24hr", "Night Saver", "Smart EV", "Weekend Free"]))
    # None: meter serial numbers (unnamed column)
    b.add("F8", None, lambda: f"{rng.randrange(15, 25)}M{v.digits(rng, 7)}")
    # None: bill amounts
    b.add("Bill Amount", None, lambda: f"€{rng.uniform(40, 600):.2f}")
    return b


def _ie_address(f: Faker, rng: random.Random) -> str:
    """An Irish supply address: number and street, town, county, Eircode."""
    town, county, routing = pick(rng, _IE_TOWNS)
    eircode = f"{routing} {''.join(pick(rng, UPPER + '0123456789') for _ in range(4))}"
    return f"{f.building_number()} {f.street_name()}, {town}, {county}, {eircode}"


_TITLES = [
    "La sombra del viento",
    "Cien años de soledad",
    "El infinito en un junco",
    "Patria",
    "Los santos inocentes",
    "Nada",
    "Tiempo de silencio",
    "La casa de los espíritus",
]


def es_library_loans(rows: int, seed: int) -> TableBuilder:
    """es_ES: a public library's loans (DNI for citizens, NIE for foreign residents)."""
    b = TableBuilder("es_library_loans", "es_ES", rows, seed)
    f, rng = b.fake, b.rng
    # None: 14-digit patron barcodes
    b.add("Nº carné", None, lambda: "2" + v.digits(rng, 13))
    b.add("Apellidos, Nombre", "PERSON", lambda: f"{f.last_name()} {f.last_name()}, {f.first_name()}")
    foreign = b.mask(0.4)
    b.add("DNI", "ES_NIF", lambda: v.es_dni(rng, dash=rng.random() < 0.3), blanks=foreign)
    b.add("NIE", "ES_NIE", lambda: v.es_nie(rng), blanks=[not x for x in foreign])
    # None: ISBNs of the books lent (unnamed column)
    b.add("Columna1", None, lambda: v.isbn13(rng))
    # None: book titles
    b.add("Título", None, lambda: pick(rng, _TITLES))
    # None: shelfmarks (section, author's and title's first letters)
    b.add("Signatura", None, lambda: _shelfmark(rng))
    # None: due dates
    b.add("Fecha devolución", None, lambda: _date_2024(f).strftime("%d/%m/%Y"))
    return b


def _shelfmark(rng: random.Random) -> str:
    author = pick(rng, ["ZAF", "GAR", "MAR", "DEL", "ALL"])
    return f"N {author} {pick(rng, 'abcdelmnps')}{pick(rng, 'aeiou')}{pick(rng, 'lmnrst')}"


def _date_2024(f: Faker) -> dt.date:
    return f.date_between(dt.date(2024, 1, 1), dt.date(2024, 12, 31))


_DRUGS = [
    "TACHIPIRINA 500MG 20 CPR",
    "MOMENT 200MG 12 CPR RIV",
    "OKI TASK 40MG 20 BUST",
    "ENTEROGERMINA 2MLD 10 FL",
    "BENAGOL MIELE LIMONE 16 PAST",
    "VOLTAREN EMULGEL 1% 100G",
]


def it_pharmacy_receipts(rows: int, seed: int) -> TableBuilder:
    """it_IT: a pharmacy's receipts (codice fiscale given for the tax deduction)."""
    b = TableBuilder("it_pharmacy_receipts", "it_IT", rows, seed)
    f, rng = b.fake, b.rng
    anonymous = b.mask(0.45)
    b.add("Codice Fiscale", "IT_FISCAL_CODE", f.ssn, blanks=anonymous)
    b.add("Cliente", "PERSON", lambda: f"{f.first_name()} {f.last_name()}", blanks=anonymous)
    b.add("Indirizzo", "LOCATION", lambda: f.address().replace("\n", " - "), 0.5)
    # None: medicine product names
    b.add("Prodotto", None, lambda: pick(rng, _DRUGS))
    # None: 9-digit drug authorisation (AIC) codes
    b.add("AIC", None, lambda: "0" + v.digits(rng, 8))
    # None: e-prescription numbers (NRE)
    b.add("NRE", None, lambda: f"{pick(rng, ['1200', '0700', '1900'])}A{v.digits(rng, 10)}", 0.5)
    # None: amounts
    b.add("Importo €", None, lambda: f"{rng.uniform(2, 80):.2f}".replace(".", ","))
    # None: sale dates
    b.add("Data vendita", None, lambda: _date_2024(f).strftime("%d/%m/%Y"))
    return b


def pl_job_applicants(rows: int, seed: int) -> TableBuilder:
    """pl_PL: a job board's applicants (Excel export: city column unnamed)."""
    b = TableBuilder("pl_job_applicants", "pl_PL", rows, seed)
    f, rng = b.fake, b.rng
    # None: application keys
    b.add("id_aplikacji", None, lambda: rng.randrange(100_000, 999_999))
    b.add("imię i nazwisko", "PERSON", lambda: f"{f.first_name()} {f.last_name()}")
    b.add("PESEL", "PL_PESEL", f.pesel)
    b.add("Column1", "LOCATION", f.city)  # cities
    # None: job titles
    b.add("stanowisko", None, f.job)
    # None: Polish business tax numbers (NIP): none of the 23 entities
    b.add("NIP (B2B)", None, lambda: nip.format(f.nip()), 0.6)
    # None: salary expectations
    b.add("oczekiwane wynagrodzenie", None, lambda: f"{rng.randrange(6, 30)} {v.digits(rng, 1)}00 zł")
    # None: application dates
    b.add("data złożenia", None, lambda: _date_2024(f).isoformat())
    return b


def fi_energy_contracts(rows: int, seed: int) -> TableBuilder:
    """fi_FI: an electricity retailer's contracts (henkilötunnus for the credit check)."""
    b = TableBuilder("fi_energy_contracts", "fi_FI", rows, seed)
    f, rng = b.fake, b.rng
    # None: customer numbers
    b.add("Asiakasnumero", None, lambda: rng.randrange(1_000_000, 9_999_999))
    b.add("Nimi", "PERSON", lambda: f"{f.first_name()} {f.last_name()}")
    b.add("Henkilötunnus", "FI_PERSONAL_IDENTITY_CODE", f.ssn)
    b.add("Käyttöpaikan osoite", "LOCATION", lambda: f.address().replace("\n", ", "))
    # None: 18-digit metering point ids (GSRN)
    b.add("Käyttöpaikkatunnus", None, lambda: "6430" + v.digits(rng, 14))
    # None: yearly consumption in kWh
    b.add("Vuosikulutus kWh", None, lambda: rng.randrange(1_500, 25_000))
    # None: a three-value contract-type enum
    b.add("Sopimustyyppi", None, lambda: pick(rng, ["Kiinteä 12 kk", "Pörssisähkö", "Toistaiseksi voimassa"]))
    return b


def se_dental_clinic(rows: int, seed: int) -> TableBuilder:
    """sv_SE: a dental clinic's bookings (few dentists, patients by personnummer)."""
    b = TableBuilder("se_dental_clinic", "sv_SE", rows, seed)
    f, rng = b.fake, b.rng
    dentists = [f"{f.first_name()} {f.last_name()}" for _ in range(6)]
    # None: booking keys
    b.add("Bokningsnr", None, lambda: f"B{rng.randrange(100_000, 999_999)}")
    first, last = b.many(f.first_name), b.many(f.last_name)
    b.add("Patient", "PERSON", [f"{z}, {a}" for a, z in zip(first, last, strict=True)])
    b.add("Personnummer", "SE_PERSONNUMMER", f.ssn)
    b.add("Mobil", "PHONE_NUMBER", lambda: v.phone(f.phone_number, "SE", "national"))
    mails = [f'"{a} {z}" <{f.email()}>' for a, z in zip(first, last, strict=True)]
    b.add("E-post", "EMAIL_ADDRESS", mails, 0.3)
    b.add("Tandläkare", "PERSON", lambda: pick(rng, dentists))  # six distinct dentists' names
    # None: a four-value treatment enum
    b.add(
        "Behandling",
        None,
        lambda: pick(rng, ["Undersökning", "Fyllning", "Tandstensborttagning", "Rotfyllning"]),
    )
    # None: appointment times
    b.add("Tid", None, lambda: f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} {_slot(rng)}")
    return b


def _slot(rng: random.Random) -> str:
    return f"{rng.randrange(8, 17):02d}:{pick(rng, ['00', '30'])}"


TABLES_C = (
    ie_utility_billing,
    es_library_loans,
    it_pharmacy_receipts,
    pl_job_applicants,
    fi_energy_contracts,
    se_dental_clinic,
)
