"""Held-out tables in English-speaking locales (see ``heldout_set.py`` for the labelling rules)."""

from __future__ import annotations

import random
from datetime import date

from faker import Faker

from tests.compliance import heldout_values as hv
from tests.compliance.heldout_values import Column


def us_claims(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """Property & casualty claims from a mainframe-era claims system."""
    causes = ["Wind/Hail", "Water Damage", "Theft", "Fire", "Collision", "Vandalism", "Freeze"]
    notes = [
        ["Roof inspected,", "Adjuster on site,", "Estimate received,", "Photos reviewed,"],
        ["shingles missing on north slope.", "water line burst in basement.", "rear bumper replaced."],
        ["Pending contractor invoice.", "Reserve increased.", "Closed without payment.", ""],
    ]
    states = ["TX", "FL", "OH", "GA", "AZ"]
    return [
        ("CLM_NBR", None, hv.n_of(rows, lambda: hv.reference(rng, "CLM", 9))),
        ("PLCY_NBR", None, hv.n_of(rows, lambda: hv.reference(rng, "HO-", 7))),
        ("INSD_NM", "PERSON", hv.n_of(rows, lambda: f"{fake.last_name()}, {fake.first_name()}")),
        ("INSD_SSN", "US_SSN", hv.n_of(rows, lambda: hv.us_ssn(rng, dashes=False))),  # 837-style, no dashes
        ("INSD_BRTH_DT", "DATE_OF_BIRTH", hv.n_of(rows, lambda: hv.birth_date(fake).strftime("%m/%d/%Y"))),
        ("LOSS_DT", None, hv.n_of(rows, lambda: hv.day(rng, date(2023, 1, 1), 700).strftime("%m/%d/%Y"))),
        (
            "LOSS_LOC_ADDR",
            "LOCATION",
            hv.n_of(
                rows, lambda: f"{fake.street_address()}, {fake.city()}, {rng.choice(states)} {fake.zipcode()}"
            ),
        ),
        ("CLMT_PHN_NBR", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "US"))),
        ("RSRV_AMT", None, hv.n_of(rows, lambda: round(rng.uniform(500, 90000), 2))),
        ("CAUSE_OF_LOSS_DESC", None, hv.n_of(rows, lambda: rng.choice(causes))),
        ("ADJ_NOTES", None, hv.n_of(rows, lambda: hv.sentence(rng, notes))),  # free text without PII
        ("VIN", None, hv.n_of(rows, lambda: hv.vin(rng))),  # identifies a car, not one of the 23
        ("Unnamed: 12", "EMAIL_ADDRESS", hv.n_of(rows, fake.free_email)),  # header lost in an Excel export
    ]


def gb_payroll(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """A UK payroll run as a payroll bureau exports it."""
    return [
        ("Employee Ref", None, hv.n_of(rows, lambda: hv.reference(rng, "E", 5))),
        ("Forename", "PERSON", hv.n_of(rows, fake.first_name)),
        ("Surname", "PERSON", hv.n_of(rows, fake.last_name)),
        ("NI Number", "UK_NINO", hv.n_of(rows, lambda: hv.uk_nino(rng))),
        ("NI Category", None, hv.n_of(rows, lambda: rng.choice("AAAAMCHJZ"))),
        (
            "Tax Code",
            None,
            hv.n_of(rows, lambda: rng.choice(["1257L", "BR", "D0", "K475", "1257L M1", "S1257L"])),
        ),
        ("Gross Pay", None, hv.n_of(rows, lambda: round(rng.uniform(900, 7000), 2))),
        ("Sort Code", None, hv.n_of(rows, lambda: "-".join(hv.digits(rng, 2) for _ in range(3)))),
        ("Account No", None, hv.n_of(rows, lambda: hv.digits(rng, 8))),  # bank data, but no IBAN
        ("Home Tel", "PHONE_NUMBER", hv.with_blanks(rng, hv.n_of(rows, lambda: hv.phone(fake, "GB")), 0.4)),
        (
            "Department",
            None,
            hv.n_of(rows, lambda: rng.choice(["Warehouse", "Finance", "Sales", "IT", "HR"])),
        ),
        ("Job Title", None, hv.n_of(rows, fake.job)),
        ("Postcode", None, hv.n_of(rows, fake.postcode)),  # a postcode alone is an area, not an address
    ]


def in_kyc(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """A telecom operator's SIM activation KYC register (customer application forms)."""
    surnames = hv.n_of(rows, fake.last_name)
    return [
        ("CAF_NO", None, hv.n_of(rows, lambda: hv.reference(rng, "CAF", 10))),
        ("SUBSCRIBER_NAME", "PERSON", [f"{fake.first_name()} {s}" for s in surnames]),
        ("FATHER_NAME", "PERSON", [f"{fake.first_name_male()} {s}" for s in surnames]),
        ("AADHAAR_NO", "IN_AADHAAR", hv.n_of(rows, lambda: hv.in_aadhaar(rng))),
        ("PAN", "IN_PAN", [hv.in_pan(rng, s) for s in surnames]),
        ("MSISDN", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.in_mobile(rng, "91"))),
        ("IMEI", None, hv.n_of(rows, lambda: hv.imei(rng))),
        ("ICCID", None, hv.n_of(rows, lambda: hv.iccid(rng))),  # 19 digits with a Luhn digit, not a card
        ("CIRCLE", None, hv.n_of(rows, lambda: rng.choice(["MH", "KA", "DL", "TN", "UPE", "WB"]))),
        ("POI_TYPE", None, hv.n_of(rows, lambda: rng.choice(["AADHAAR_EKYC", "PASSPORT", "VOTER_ID", "DL"]))),
        (
            "ACT_DATE",
            None,
            hv.n_of(rows, lambda: hv.day(rng, date(2024, 1, 1), 300).strftime("%d-%b-%Y").upper()),
        ),
        ("_c11", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.in_mobile(rng))),  # Spark: alternate mobile
    ]


def us_taxprep(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """A tax preparer's e-file queue (state returns ask for the driver licence)."""
    states = hv.n_of(rows, lambda: rng.choice(["CA", "NY", "FL", "IL", "TX"]))
    return [
        (
            "SubmissionId",
            None,
            hv.n_of(rows, lambda: "0" + hv.digits(rng, 5) + "2024" + hv.reference(rng, "", 10)),
        ),
        ("TaxpayerFirstName", "PERSON", hv.n_of(rows, fake.first_name)),
        ("TaxpayerLastName", "PERSON", hv.n_of(rows, fake.last_name)),
        ("TaxpayerITIN", "US_ITIN", hv.n_of(rows, lambda: hv.us_itin(rng))),
        ("SpouseSSN", "US_SSN", hv.with_blanks(rng, hv.n_of(rows, lambda: hv.us_ssn(rng)), 0.5)),
        ("PassportNumber", "US_PASSPORT", hv.n_of(rows, lambda: hv.us_passport(rng))),
        ("DriversLicenseNumber", "US_DRIVER_LICENSE", [hv.us_driver_license(rng, s) for s in states]),
        ("DriversLicenseState", None, states),
        ("DateOfBirth", "DATE_OF_BIRTH", hv.n_of(rows, lambda: hv.birth_date(fake).isoformat())),
        ("FilingStatus", None, hv.n_of(rows, lambda: rng.choice(["Single", "MFJ", "MFS", "HOH", "QSS"]))),
        ("RefundAmount", None, hv.n_of(rows, lambda: round(rng.uniform(-3000, 9000), 2))),
        ("RoutingTransitNumber", None, hv.n_of(rows, lambda: hv.aba_routing(rng))),  # a bank's number
        (
            "DepositorAccountNumber",
            None,
            hv.n_of(rows, lambda: hv.digits(rng, rng.randint(8, 12), "123456789")),
        ),
        ("PreparerPTIN", None, hv.n_of(rows, lambda: hv.us_ptin(rng))),  # the preparer's id, P + 8 digits
        ("EFIN", None, hv.n_of(rows, lambda: hv.digits(rng, 6, "123456789"))),
    ]


def gb_school(fake: Faker, rng: random.Random, rows: int) -> list[Column]:
    """A pupil export from a UK school's management information system."""
    return [
        (
            "UPN",
            None,
            hv.n_of(rows, lambda: rng.choice("ABCDEFGHJKLMNPRT") + hv.digits(rng, 12)),
        ),  # pupil number
        ("Legal Surname", "PERSON", hv.n_of(rows, fake.last_name)),
        ("Preferred Forename", "PERSON", hv.n_of(rows, fake.first_name)),
        ("DOB", "DATE_OF_BIRTH", hv.n_of(rows, lambda: hv.birth_date(fake, 4, 17).strftime("%d/%m/%Y"))),
        ("NHS Number", "UK_NHS", hv.n_of(rows, lambda: hv.uk_nhs(rng))),
        ("Year", None, hv.n_of(rows, lambda: rng.randint(7, 13))),
        ("Reg", None, hv.n_of(rows, lambda: f"{rng.randint(7, 13)}{rng.choice('ABCDKM')}")),
        ("Contact 1 Name", "PERSON", hv.n_of(rows, fake.name)),
        ("Contact 1 Mobile", "PHONE_NUMBER", hv.n_of(rows, lambda: hv.phone(fake, "GB"))),
        ("Contact 1 Email", "EMAIL_ADDRESS", hv.n_of(rows, fake.email)),
        ("Address", "LOCATION", hv.n_of(rows, lambda: hv.one_line(fake.address()))),
        ("SEN Status", None, hv.n_of(rows, lambda: rng.choice(["N", "K", "E"]))),
        ("FSM", None, hv.n_of(rows, lambda: rng.choice(["Y", "N", "N", "N"]))),
    ]
