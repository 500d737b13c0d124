"""Held-out tables in continental European locales (see ``heldout_set.py`` for the labelling rules)."""

from __future__ import annotations

import random
from datetime import date, datetime

from faker import Faker

from tests.compliance import heldout_values as hv
from tests.compliance.heldout_values import Column


def de_tax(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Income-tax cases of a German tax adviser (Kanzlei-Software export)."""
    return [
        ("Mandantennr", None, hv.n_of(rows, lambda: hv.digits(rng, 5, "123456789"))),
        ("Steuer-IdNr.", "DE_TAX_ID", hv.n_of(rows, lambda: hv.de_idnr(rng))),
        # Steuernummer: per tax office, personal, but not the IdNr entity.
        (
            "Steuernummer",
            None,
            hv.n_of(rows, lambda: f"{hv.digits(rng, 3)}/{hv.digits(rng, 3)}/{hv.digits(rng, 5)}"),
        ),
        ("Vorname", "PERSON", hv.n_of(rows, fake.first_name)),
        ("Familienname", "PERSON", hv.n_of(rows, fake.last_name)),
        ("GebDatum", "DATE_OF_BIRTH", hv.n_of(rows, lambda: hv.birth_date(fake).strftime("%d.%m.%Y"))),
        ("Straße u. Hausnr.", "LOCATION", hv.n_of(rows, fake.street_address)),
        ("PLZ", None, hv.n_of(rows, fake.postcode)),
        ("Wohnort", "LOCATION", hv.n_of(rows, fake.city)),
        (
            "Finanzamt",
            None,
            hv.n_of(rows, lambda: f"Finanzamt {rng.choice(['München', 'Köln', 'Erfurt', 'Kiel'])}"),
        ),
        ("Veranlagungsjahr", None, hv.n_of(rows, lambda: rng.choice([2021, 2022, 2023]))),
        ("zvE", None, hv.n_of(rows, lambda: rng.randint(12000, 180000))),
        (
            "Bankverbindung_IBAN",
            "IBAN_CODE",
            hv.n_of(rows, lambda: hv.grouped(hv.iban_of(fake))),
        ),
        (
            "Konfession",
            None,
            hv.n_of(rows, lambda: rng.choice(["rk", "ev", "--", "ak"])),
        ),  # Art. 9, not one of 23
    ]


def at_hotel(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Bookings from an Austrian hotel's property management system."""
    remarks = [
        ["Anreise spät,", "Allergie Nüsse,", "Hund dabei,", "Zustellbett,", ""],
        [
            "Zimmer ruhig gelegen.",
            "Parkplatz reserviert.",
            "Halbpension gebucht.",
            "bitte Rechnung an Firma.",
        ],
    ]
    return [
        (
            "Buchungsnr",
            None,
            hv.n_of(rows, lambda: hv.reference(rng, "BK-", 6, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789")),
        ),
        ("Gastname", "PERSON", hv.n_of(rows, fake.name)),
        ("eMail", "EMAIL_ADDRESS", hv.n_of(rows, fake.email)),
        ("TelNr", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "AT"))),
        ("Anreise", None, hv.n_of(rows, lambda: hv.day(rng, date(2024, 5, 1), 200))),
        ("Nächte", None, hv.n_of(rows, lambda: rng.randint(1, 14))),
        ("Zimmer", None, hv.n_of(rows, lambda: f"DZ-{rng.randint(101, 420)}")),
        (
            "Kategorie",
            None,
            hv.n_of(rows, lambda: rng.choice(["Doppelzimmer Superior", "Einzelzimmer", "Suite"])),
        ),
        (
            "KFZ-Kennz.",
            None,
            hv.n_of(rows, fake.license_plate),
        ),  # a plate identifies a car: not one of the 23
        (
            "Kreditkartennummer",
            "CREDIT_CARD",
            hv.n_of(rows, lambda: hv.grouped(fake.credit_card_number("visa16"))),
        ),
        ("Gesamtbetrag", None, hv.n_of(rows, lambda: f"{rng.uniform(90, 4000):.2f}".replace(".", ","))),
        (
            "Herkunftsland",
            None,
            hv.n_of(rows, lambda: rng.choice(["Österreich", "Deutschland", "Italien", "Schweiz"])),
        ),
        ("Spalte1", None, hv.n_of(rows, lambda: hv.sentence(rng, remarks))),  # unnamed, free text without PII
    ]


def fr_rental(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Rental applications of a French letting agency."""
    comments = [
        ["Dossier complet,", "Garant à relancer,", "Visite effectuée,", "Pièces manquantes,"],
        ["avis d'imposition reçu.", "attente bulletin de salaire.", "préférence pour le T3.", ""],
    ]
    return [
        ("Réf. dossier", None, hv.n_of(rows, lambda: hv.reference(rng, "DL-2024-", 5))),
        ("Nom du candidat", "PERSON", hv.n_of(rows, fake.name)),
        (
            "Date de naissance",
            "DATE_OF_BIRTH",
            hv.n_of(rows, lambda: hv.birth_date(fake).strftime("%d/%m/%Y")),
        ),
        ("Adresse actuelle", "LOCATION", hv.n_of(rows, lambda: hv.one_line(fake.address()))),
        ("Téléphone", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "FR"))),
        ("Courriel", "EMAIL_ADDRESS", hv.n_of(rows, fake.email)),
        ("Profession", None, hv.n_of(rows, fake.job)),
        ("Employeur", None, hv.n_of(rows, fake.company)),
        ("Revenus mensuels nets (€)", None, hv.n_of(rows, lambda: rng.randint(1300, 6500))),
        ("IBAN", "IBAN_CODE", hv.n_of(rows, lambda: hv.iban_of(fake))),
        (
            "Bien visé",
            None,
            hv.n_of(rows, lambda: f"Appartement T{rng.randint(1, 5)} - lot {rng.randint(1, 60)}"),
        ),
        ("Commentaire agence", None, hv.n_of(rows, lambda: hv.sentence(rng, comments))),
        ("Statut", None, hv.n_of(rows, lambda: rng.choice(["En cours", "Accepté", "Refusé", "Incomplet"]))),
    ]


def es_gym(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Members of a Spanish gym chain: DNI for Spaniards, NIE for foreign residents."""
    foreign = [rng.random() < 0.25 for _ in range(rows)]
    return [
        ("idSocio", None, hv.n_of(rows, lambda: rng.randint(10000, 99999))),
        ("nombre", "PERSON", hv.n_of(rows, fake.first_name)),
        ("apellidos", "PERSON", hv.n_of(rows, lambda: f"{fake.last_name()} {fake.last_name()}")),
        ("dni", "ES_NIF", [None if f else hv.from_faker(fake.nif, hv.CHECKS["ES_NIF"]) for f in foreign]),
        ("nie", "ES_NIE", [hv.from_faker(fake.nie, hv.CHECKS["ES_NIE"]) if f else None for f in foreign]),
        ("fechaNacimiento", "DATE_OF_BIRTH", hv.n_of(rows, lambda: hv.birth_date(fake, 16, 80))),
        ("movil", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "ES"))),
        ("email", "EMAIL_ADDRESS", hv.n_of(rows, fake.email)),
        (
            "cuentaDomiciliacion",
            "IBAN_CODE",
            hv.n_of(rows, lambda: hv.grouped(hv.iban_of(fake))),
        ),
        ("tarifa", None, hv.n_of(rows, lambda: rng.choice(["Básica", "Premium", "Joven", "Mañanas"]))),
        ("cuotaMensual", None, hv.n_of(rows, lambda: rng.choice([29.9, 39.9, 49.9, 19.9]))),
        ("fechaAlta", None, hv.n_of(rows, lambda: hv.day(rng, date(2019, 1, 1), 2000))),
        ("codPostal", None, hv.n_of(rows, fake.postcode)),
        ("ultimoAcceso", None, hv.n_of(rows, lambda: hv.moment(rng, datetime(2024, 9, 1), 60))),
    ]


def it_telematics(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Black-box car insurance policies (RC auto telematica)."""
    events = ["frenata brusca", "accelerazione", "curva veloce", "urto lieve", "nessun evento"]
    return [
        ("id_polizza", None, hv.n_of(rows, lambda: hv.reference(rng, "RCA", 8))),
        ("contraente", "PERSON", hv.n_of(rows, fake.name)),
        (
            "cod_fiscale",
            "IT_FISCAL_CODE",
            hv.n_of(rows, lambda: hv.from_faker(fake.ssn, hv.CHECKS["IT_FISCAL_CODE"])),
        ),
        ("data_nascita", "DATE_OF_BIRTH", hv.n_of(rows, lambda: hv.birth_date(fake).strftime("%d/%m/%Y"))),
        ("indirizzo_residenza", "LOCATION", hv.n_of(rows, lambda: f"{fake.street_address()}, {fake.city()}")),
        ("cellulare", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "IT"))),
        ("targa", None, hv.n_of(rows, fake.license_plate)),  # plate: not one of the 23
        ("imei_dispositivo", None, hv.n_of(rows, lambda: hv.imei(rng))),  # Luhn-valid, not a card
        ("fw_version", None, hv.n_of(rows, lambda: hv.version(rng))),
        ("lat", None, hv.n_of(rows, lambda: round(rng.uniform(37.5, 46.5), 6))),  # GPS: not one of the 23
        ("lon", None, hv.n_of(rows, lambda: round(rng.uniform(7.0, 18.0), 6))),
        ("km_percorsi", None, hv.n_of(rows, lambda: rng.randint(0, 60000))),
        ("ultimo_evento", None, hv.n_of(rows, lambda: rng.choice(events))),
    ]


def nl_cases(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Service requests in a Dutch municipality's case system (zaaksysteem)."""
    texts = [
        ["Lantaarnpaal defect", "Grofvuil niet opgehaald", "Losliggende stoeptegel", "Parkeervergunning"],
        ["bij de speeltuin.", "sinds vorige week.", "graag spoedig oppakken.", "aanvraag verlengen."],
    ]
    agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4)",
    ]
    return [
        ("Unnamed: 0", None, list(range(rows))),  # pandas index written to CSV
        ("zaaknummer", None, hv.n_of(rows, lambda: hv.reference(rng, "Z-2024-", 6))),
        ("naam_melder", "PERSON", hv.n_of(rows, fake.name)),
        ("bsn", None, hv.n_of(rows, lambda: hv.nl_bsn(rng))),  # personal, but BSN is not one of the 23
        ("e-mailadres", "EMAIL_ADDRESS", hv.n_of(rows, fake.email)),
        ("telefoonnummer", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "NL"))),
        (
            "zaaktype",
            None,
            hv.n_of(rows, lambda: rng.choice(["Melding openbare ruimte", "Vergunning", "Klacht"])),
        ),
        ("omschrijving", None, hv.n_of(rows, lambda: hv.sentence(rng, texts))),
        ("aangemaakt", None, hv.n_of(rows, lambda: hv.moment(rng, datetime(2024, 1, 1), 300))),
        ("ip_adres", "IP_ADDRESS", hv.n_of(rows, fake.ipv4_public)),
        ("user_agent", None, hv.n_of(rows, lambda: rng.choice(agents))),
        (
            "bijlage",
            None,
            hv.n_of(rows, lambda: f"/zaken/2024/{hv.digits(rng, 6)}/foto_{rng.randint(1, 4)}.jpg"),
        ),
    ]


def pl_loyalty(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Members of a Polish drugstore chain's loyalty programme."""
    return [
        ("nr_karty", None, hv.n_of(rows, lambda: hv.ean13(rng))),
        ("imie", "PERSON", hv.n_of(rows, fake.first_name)),
        ("nazwisko", "PERSON", hv.n_of(rows, fake.last_name)),
        ("pesel", "PL_PESEL", hv.n_of(rows, lambda: hv.from_faker(fake.pesel, hv.CHECKS["PL_PESEL"]))),
        ("data_urodzenia", "DATE_OF_BIRTH", hv.n_of(rows, lambda: hv.birth_date(fake).isoformat())),
        ("telefon", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "PL"))),
        ("email", "EMAIL_ADDRESS", hv.n_of(rows, fake.email)),
        ("adres", "LOCATION", hv.n_of(rows, fake.street_address)),
        ("miejscowosc", "LOCATION", hv.n_of(rows, fake.city)),
        ("kod_pocztowy", None, hv.n_of(rows, fake.postcode)),
        ("punkty", None, hv.n_of(rows, lambda: rng.randint(0, 12000))),
        (
            "NIP_firmy",
            None,
            hv.with_blanks(rng, hv.n_of(rows, lambda: hv.pl_nip(rng)), 0.8),
        ),  # company tax no.
        ("F13", None, hv.n_of(rows, lambda: round(rng.uniform(5, 400), 2))),  # unnamed: last basket value
    ]


def se_leads(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Leads of a Swedish solar-panel seller's CRM (personnummer for the credit check)."""
    notes = [
        ["Ringde upp,", "Offert skickad,", "Vill ha hembesök,", "Ej intresserad just nu,"],
        ["återkomma i vår.", "tak i söderläge.", "jämför med konkurrent.", ""],
    ]
    titles = ["VD", "Inköpschef", "Fastighetsförvaltare", "Ekonomiansvarig", "Driftchef", "Ägare"]
    return [
        ("LeadId", None, hv.n_of(rows, lambda: str(fake.uuid4()))),
        ("Förnamn", "PERSON", hv.n_of(rows, fake.first_name)),
        ("Efternamn", "PERSON", hv.n_of(rows, fake.last_name)),
        ("Personnummer", "SE_PERSONNUMMER", hv.n_of(rows, lambda: _se_pnr(fake))),
        ("Företag", None, hv.with_blanks(rng, hv.n_of(rows, fake.company), 0.5)),
        ("Titel", None, hv.with_blanks(rng, hv.n_of(rows, lambda: rng.choice(titles)), 0.5)),
        ("E-post", "EMAIL_ADDRESS", hv.n_of(rows, fake.email)),
        ("Mobil", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "SE"))),
        ("Orgnr", None, hv.with_blanks(rng, hv.n_of(rows, lambda: hv.se_orgnr(rng)), 0.5)),  # company number
        ("Webbplats", None, hv.n_of(rows, lambda: f"https://www.{fake.domain_name()}/")),
        ("Källa", None, hv.n_of(rows, lambda: rng.choice(["Google Ads", "Mässa", "Facebook", "Tips"]))),
        ("Uppskattat värde (SEK)", None, hv.n_of(rows, lambda: rng.randint(40, 300) * 1000)),
        ("Anteckning", None, hv.n_of(rows, lambda: hv.sentence(rng, notes))),
    ]


def fi_travelcard(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """A Finnish public-transport travel-card register."""
    return [
        ("Kortin_nro", None, hv.n_of(rows, lambda: "924621" + hv.digits(rng, 12))),
        (
            "HETU",
            "FI_PERSONAL_IDENTITY_CODE",
            hv.n_of(rows, lambda: hv.from_faker(fake.ssn, hv.CHECKS["FI_PERSONAL_IDENTITY_CODE"])),
        ),
        ("Sukunimi", "PERSON", hv.n_of(rows, fake.last_name)),
        ("Etunimet", "PERSON", hv.n_of(rows, lambda: f"{fake.first_name()} {fake.first_name()}")),
        ("Lähiosoite", "LOCATION", hv.n_of(rows, fake.street_address)),
        ("Postinumero", None, hv.n_of(rows, fake.postcode)),
        ("Puhelin", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "FI"))),
        ("Sähköposti", "EMAIL_ADDRESS", hv.n_of(rows, fake.email)),
        (
            "Asiakasryhmä",
            None,
            hv.n_of(rows, lambda: rng.choice(["Aikuinen", "Opiskelija", "Eläkeläinen", "Lapsi"])),
        ),
        ("Arvo_EUR", None, hv.n_of(rows, lambda: round(rng.uniform(0, 80), 2))),
        ("Työnantajan Y-tunnus", None, hv.with_blanks(rng, hv.n_of(rows, lambda: hv.fi_ytunnus(rng)), 0.6)),
        ("Viim. latausaika", None, hv.n_of(rows, lambda: hv.moment(rng, datetime(2024, 3, 1), 200))),
    ]


def no_charging(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """EV charging sessions of a Norwegian charge-point operator."""
    sites = ["Gardermoen P10", "Lillehammer Strandtorget", "Bergen Kokstad", "Trondheim Moholt"]
    start = hv.n_of(rows, lambda: hv.moment(rng, datetime(2024, 6, 1), 120))
    return [
        ("øktId", None, hv.n_of(rows, lambda: str(fake.uuid4()))),
        ("Navn", "PERSON", hv.n_of(rows, fake.name)),
        ("Mobilnummer", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "NO"))),
        ("Regnr", None, hv.n_of(rows, fake.license_plate)),  # plate: not one of the 23
        ("Ladepunkt", None, hv.n_of(rows, lambda: f"{rng.choice(sites)} #{rng.randint(1, 12)}")),
        ("Start", None, start),
        ("kWh", None, hv.n_of(rows, lambda: round(rng.uniform(3, 90), 1))),
        ("Beløp NOK", None, hv.n_of(rows, lambda: round(rng.uniform(20, 500), 2))),
        ("Betalingskort", "CREDIT_CARD", hv.n_of(rows, fake.credit_card_number)),
        (
            "Fakturaadresse",
            "LOCATION",
            hv.n_of(rows, lambda: f"{fake.street_address()}, {fake.postcode()} {fake.city()}"),
        ),
        ("Posisjon", None, hv.n_of(rows, lambda: hv.gps(rng, 60.5, 10.5))),  # the charger's position
        ("LaderMAC", None, hv.n_of(rows, lambda: hv.mac(rng))),
        ("Firmware", None, hv.n_of(rows, lambda: hv.version(rng))),
        ("Kvitteringshash", None, hv.n_of(rows, lambda: hv.sha256(rng))),
    ]


def pt_enrolments(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Student enrolments (matrículas) of a Portuguese university."""
    return [
        ("N.º Aluno", None, hv.n_of(rows, lambda: f"A{rng.randint(80000, 109999)}")),
        ("Nome Completo", "PERSON", hv.n_of(rows, fake.name)),
        ("NIF", None, hv.n_of(rows, lambda: hv.pt_contribuinte(rng))),  # Portuguese NIF: not ES_NIF
        (
            "Data Nasc.",
            "DATE_OF_BIRTH",
            hv.n_of(rows, lambda: hv.birth_date(fake, 17, 40).strftime("%d-%m-%Y")),
        ),
        ("Telemóvel", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "PT"))),
        ("Morada", "LOCATION", hv.n_of(rows, fake.street_address)),
        ("Código Postal", None, hv.n_of(rows, fake.postcode)),
        ("Curso", None, hv.n_of(rows, lambda: rng.choice(["Engenharia Informática", "Direito", "Medicina"]))),
        ("Propina Anual (€)", None, hv.n_of(rows, lambda: rng.choice([697, 1063, 3500]))),
        (
            "Email Institucional",
            "EMAIL_ADDRESS",
            hv.n_of(rows, lambda: f"a{rng.randint(80000, 109999)}@alunos.uni.pt"),
        ),
        ("IBAN", "IBAN_CODE", hv.n_of(rows, lambda: hv.iban_of(fake))),
    ]


def _se_pnr(fake: Faker) -> str:
    """A personnummer in the 12-digit form Swedish systems store, ``YYYYMMDD-NNNN``."""
    short = hv.from_faker(fake.ssn, hv.CHECKS["SE_PERSONNUMMER"])  # YYMMDD-NNNN
    yy = int(short[:2])
    century = "19" if yy > 6 else "20"
    return century + short
