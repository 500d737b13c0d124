"""Second held-out set, part A: English-speaking and German/French-speaking tables."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.compliance import heldout2_values as v
from tests.compliance.heldout2_values import TableBuilder, pick


def us_bank_kyc(rows: int, seed: int) -> TableBuilder:
    """en_US: a bank's customer-identification (KYC) export of account applications."""
    b = TableBuilder("us_bank_kyc", "en_US", rows, seed)
    f, rng = b.fake, b.rng
    # None: a random UUID, an application key with nothing of the person in it
    b.add("applicationId", None, lambda: str(uuid.UUID(int=rng.getrandbits(128))))
    b.add("applicant_full_name", "PERSON", f.name)
    # None: company names, even when made of surnames ("Smith, Johnson and Brown")
    b.add("employerName", None, f.company)
    itin_filer = b.mask(0.4)
    b.add("ssn", "US_SSN", lambda: f.ssn().replace("-", ""), blanks=itin_filer)
    b.add("itin", "US_ITIN", f.itin, blanks=[not x for x in itin_filer])
    b.add("birthDate", "DATE_OF_BIRTH", lambda: f.date_of_birth(minimum_age=18, maximum_age=90).isoformat())
    passport = b.mask(0.5)
    b.add("passportNumber", "US_PASSPORT", lambda: v.us_passport(rng), blanks=[not x for x in passport])
    b.add("driversLicenseNo", "US_DRIVER_LICENSE", lambda: v.us_driver_license(rng), blanks=passport)
    b.add("residentialAddress", "LOCATION", lambda: f.address().replace("\n", ", "))
    b.add("mobilePhone", "PHONE_NUMBER", lambda: v.phone(f.phone_number, "US", "e164"))
    b.add("tmx_true_ip", "IP_ADDRESS", f.ipv4_public)  # ThreatMetrix field name
    b.add(
        "fundingCardNumber",
        "CREDIT_CARD",
        lambda: v.card(f, pick(rng, ["visa16", "mastercard", "amex"])),
        0.5,
    )
    # None: a three-value risk enum
    b.add("riskTier", None, lambda: pick(rng, ["LOW", "MEDIUM", "HIGH"], [7, 2, 1]))
    return b


def gb_trial_participants(rows: int, seed: int) -> TableBuilder:
    """en_GB: a clinical trial's participant register (NI number only for expense claims)."""
    b = TableBuilder("gb_trial_participants", "en_GB", rows, seed)
    f, rng = b.fake, b.rng
    # None: a study's site-and-sequence code, pseudonymous by design
    b.add("Participant ID", None, lambda: f"PRT-{rng.randrange(1, 30):02d}-{rng.randrange(10_000):04d}")
    b.add("Full name", "PERSON", f.name)
    b.add("NHS Number", "UK_NHS", lambda: v.uk_nhs(rng))
    b.add("NI number", "UK_NINO", lambda: v.uk_nino(rng), 0.55)
    b.add(
        "Date of Birth",
        "DATE_OF_BIRTH",
        lambda: f.date_of_birth(minimum_age=18, maximum_age=85).strftime("%d/%m/%Y"),
    )
    b.add("Home address", "LOCATION", f.address)  # multi-line, ends with the postcode
    b.add("Tel", "PHONE_NUMBER", lambda: v.phone(f.phone_number, "GB", "national"))
    # None: a two-value treatment-arm enum
    b.add("Randomisation arm", None, lambda: pick(rng, ["Arm A (active)", "Arm B (placebo)"]))
    # None: a four-part form version number, shaped like an IPv4 address
    b.add(
        "eCRF version",
        None,
        lambda: f"{rng.randrange(1, 5)}.{rng.randrange(10)}.{rng.randrange(3)}.{rng.randrange(40)}",
    )
    # None: visit dates; only a birth date is personal
    b.add(
        "Visit 1 date",
        None,
        lambda: f.date_between(dt.date(2023, 1, 1), dt.date(2024, 12, 31)).strftime("%d/%m/%Y"),
    )
    return b


def in_charity_donors(rows: int, seed: int) -> TableBuilder:
    """en_IN: a charity's donor register for 80G tax receipts (PAN required, Aadhaar optional)."""
    b = TableBuilder("in_charity_donors", "en_IN", rows, seed)
    f, rng = b.fake, b.rng
    # None: a receipt serial number
    b.add("receiptNo", None, lambda: f"80G/2024-25/{rng.randrange(1, 100_000):06d}")
    last = b.many(f.last_name)
    firsts = b.many(f.first_name)
    b.add("donorName", "PERSON", [f"{a} {z}" for a, z in zip(firsts, last, strict=True)])
    b.add("donorPAN", "IN_PAN", [v.in_pan(rng, z) for z in last])
    b.add("aadhaarNo", "IN_AADHAAR", lambda: v.in_aadhaar(rng), 0.55)
    b.add(
        "mobileNo",
        "PHONE_NUMBER",
        lambda: v.phone(
            lambda: pick(rng, "6789") + v.digits(rng, 9), "IN", pick(rng, ["international", "raw"])
        ),
    )
    # None: donation amounts in Indian digit grouping (1,23,456.00)
    b.add("amountINR", None, lambda: _inr(rng.randrange(100, 500_000)))
    # None: a five-value payment-mode enum
    b.add("paymentMode", None, lambda: pick(rng, ["UPI", "NEFT", "Cheque", "Cash", "Card"]))
    # None: 12-digit UPI transaction references: Aadhaar's length, not Aadhaar numbers
    b.add("utrNo", None, lambda: pick(rng, "3456") + v.digits(rng, 11))
    campaigns = [
        "Winter Blanket Drive",
        "Girl Child Education",
        "Flood Relief Assam",
        "Mid-day Meals",
        "General Fund",
    ]
    # None: fundraising campaign names (unnamed column)
    b.add("Unnamed: 9", None, lambda: f"{pick(rng, campaigns)} {pick(rng, ['2023', '2024'])}")
    return b


def _inr(amount: int) -> str:
    """An amount with Indian digit grouping (``1,23,456.00``)."""
    s = str(amount)
    head, tail = s[:-3], s[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join([*groups, tail]) + ".00"


def de_recruiting(rows: int, seed: int) -> TableBuilder:
    """de_DE: an applicant-tracking export with onboarding fields filled after an offer."""
    b = TableBuilder("de_recruiting", "de_DE", rows, seed)
    f, rng = b.fake, b.rng
    # None: an applicant key
    b.add("Bewerber-ID", None, lambda: f"BW-2024-{rng.randrange(100_000):05d}")
    b.add("Name, Vorname", "PERSON", lambda: f"{f.last_name()}, {f.first_name()}")
    b.add(
        "Geburtsdatum",
        "DATE_OF_BIRTH",
        lambda: f.date_of_birth(minimum_age=18, maximum_age=65).strftime("%d.%m.%Y"),
    )
    no_offer = b.mask(0.6)
    b.add("Steuer-ID", "DE_TAX_ID", lambda: v.de_idnr(rng, spaced=rng.random() < 0.5), blanks=no_offer)
    b.add("IBAN", "IBAN_CODE", lambda: v.spaced_iban(f), blanks=no_offer)
    # None: job titles
    b.add("Stelle", None, f.job)
    # None: the job board an application came from
    b.add("Quelle", None, lambda: pick(rng, ["StepStone", "LinkedIn", "XING", "Empfehlung", "Karriereseite"]))
    # None: salary expectations
    b.add("Gehaltswunsch", None, lambda: f"{rng.randrange(35, 110)}.000 €")
    # None: a four-value process-status enum
    b.add("Status", None, lambda: pick(rng, ["Eingang", "Telefoninterview", "Absage", "Angebot"]))
    return b


_CH_PRODUCTS = [
    "Victorinox Spartan Taschenmesser",
    "Sigg Trinkflasche 1.0 L",
    "Freitag Messenger Bag",
    "Kambly Bretzeli 100 g",
    "On Cloud 5 Laufschuh",
    "Mammut Kletterseil 9.5",
    "Nespresso Vertuo Pop",
    "Caran d'Ache Farbstifte 40er",
]


def ch_ecommerce_returns(rows: int, seed: int) -> TableBuilder:
    """de_CH: an online shop's returns (Retouren) list."""
    b = TableBuilder("ch_ecommerce_returns", "de_CH", rows, seed)
    f, rng = b.fake, b.rng
    # None: a return key
    b.add("Retoure-Nr", None, lambda: f"R-{rng.randrange(100_000, 999_999)}")
    first, last = b.many(f.first_name), b.many(f.last_name)
    b.add("Kunde", "PERSON", [f"{z}, {a}" for a, z in zip(first, last, strict=True)])
    b.add(
        "E-Mail",
        "EMAIL_ADDRESS",
        [f"{a} {z} <{f.email()}>" for a, z in zip(first, last, strict=True)],
    )
    b.add("Telefon", "PHONE_NUMBER", lambda: v.phone(f.phone_number, "CH", "raw"), 0.35)
    b.add("Lieferadresse", "LOCATION", lambda: f.address().replace("\n", ", "))
    # None: product and brand names
    b.add("Artikel", None, lambda: pick(rng, _CH_PRODUCTS))
    # None: EAN-13 product barcodes (valid check digit)
    b.add("EAN", None, lambda: v.ean13(rng))
    # None: refund amounts
    b.add("Erstattung CHF", None, lambda: f"{rng.randrange(5, 400)}.{pick(rng, ['00', '50', '90', '95'])}")
    b.add("Rückerstattung IBAN", "IBAN_CODE", lambda: v.spaced_iban(f), 0.5)
    return b


def be_event_ticketing(rows: int, seed: int) -> TableBuilder:
    """fr_BE: a concert hall's ticket sales export."""
    b = TableBuilder("be_event_ticketing", "fr_BE", rows, seed)
    f, rng = b.fake, b.rng
    # None: ticket references (random alphanumerics)
    b.add(
        "N° de billet",
        None,
        lambda: "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8)),
    )
    b.add("Nom", "PERSON", f.last_name)  # single-name column
    b.add("Prénom", "PERSON", f.first_name)  # single-name column
    b.add("Courriel", "EMAIL_ADDRESS", f.email)

    def gsm() -> str:  # a Belgian mobile number, 04xx xx xx xx
        return (
            "04"
            + pick(rng, ["70", "72", "75", "76", "77", "78", "84", "85", "86", "95", "97"])
            + v.digits(rng, 6)
        )

    b.add("GSM", "PHONE_NUMBER", lambda: v.phone(gsm, "BE", pick(rng, ["national", "international"])))
    # None: seat positions
    b.add(
        "Place",
        None,
        lambda: f"Bloc {pick(rng, 'ABCDE')} - Rang {rng.randrange(1, 30)} - Siège {rng.randrange(1, 40)}",
    )
    # None: a four-value ticket-category enum
    b.add("Catégorie", None, lambda: pick(rng, ["Fosse", "Gradin", "Balcon", "VIP"]))
    # None: promotion codes in capitals
    b.add("Code promo", None, lambda: pick(rng, ["PRINTEMPS24", "ETUDIANT", "FIDELITE10", "NOEL2024"]), 0.65)
    b.add("IP achat", "IP_ADDRESS", lambda: f.ipv4_public() if rng.random() < 0.7 else f.ipv6())
    b.add("N° carte", "CREDIT_CARD", lambda: v.card(f, pick(rng, ["visa16", "mastercard"])), 0.5)
    # None: ticket prices
    b.add("Prix TVAC", None, lambda: f"{rng.randrange(25, 120)},{pick(rng, ['00', '50'])} €")
    return b


TABLES_A = (
    us_bank_kyc,
    gb_trial_participants,
    in_charity_donors,
    de_recruiting,
    ch_ecommerce_returns,
    be_event_ticketing,
)
