"""The issue's findings, one test each: formats of real exports, names that count against values,
phone numbers by region, claims in free text and redaction of European names and places."""

from __future__ import annotations

import random

import polars as pl
import pytest
from faker import Faker
from stdnum import luhn

from compliance.classify import classify_frame
from compliance.column_names import counter_signal, name_signals
from compliance.nlp import NlpEngines, build_engines
from compliance.phones import country_of_data_region, infer_region, possible
from compliance.redact import redact_text

ROWS = 200


@pytest.fixture(scope="module")
def engines() -> NlpEngines:
    return build_engines()


def _luhn_ids(rng: random.Random, count: int) -> list[str]:
    bodies = [str(rng.randrange(10**14, 10**15)) for _ in range(count)]
    return [b + luhn.calc_check_digit(b) for b in bodies]


def _labels(frame: pl.DataFrame, engines: NlpEngines, **kwargs: object) -> dict[str, str | None]:
    return {n: c.entity for n, c in classify_frame(frame, engines=engines, **kwargs).columns.items()}  # type: ignore[arg-type]


def test_formats_seen_in_real_exports(engines: NlpEngines) -> None:
    fake = Faker("en_US")
    Faker.seed(21)
    rng = random.Random(21)
    cards = _luhn_ids(rng, ROWS)
    frame = pl.DataFrame(
        {
            "contact": [f"{fake.name()} <{fake.email()}>" for _ in range(ROWS)],
            "card": [" ".join(c[i : i + 4] for i in range(0, 16, 4)) for c in cards],
            "ssn": [fake.ssn().replace("-", "") for _ in range(ROWS)],
        }
    )
    assert _labels(frame, engines) == {
        "contact": "EMAIL_ADDRESS",
        "card": "CREDIT_CARD",
        "ssn": "US_SSN",
    }


def test_column_names_count_against_values_that_only_look_like_pii(engines: NlpEngines) -> None:
    rng = random.Random(5)
    frame = pl.DataFrame(
        {
            "order_id": _luhn_ids(rng, ROWS),
            "tracking_no": [f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
                            for _ in range(ROWS)],
            "product": [f"{rng.choice(['Paris', 'Lima', 'Oslo', 'Kenya'])} {rng.choice(['Blend', 'Roast'])} "
                        f"{rng.choice(['Coffee', 'Tea'])} {i}" for i in range(ROWS)],
            "software_version": [".".join(str(rng.randint(0, 20)) for _ in range(4)) for _ in range(ROWS)],
        }
    )  # fmt: skip
    assert _labels(frame, engines) == dict.fromkeys(frame.columns)
    # The same values under telling names are PII: the counter-signal is the name, not the values.
    renamed = frame.rename({"order_id": "card_number", "tracking_no": "ssn"})
    assert _labels(renamed.select("card_number", "ssn"), engines) == {
        "card_number": "CREDIT_CARD",
        "ssn": "US_SSN",
    }


def test_version_strings_are_not_ip_addresses_even_without_a_name(engines: NlpEngines) -> None:
    rng = random.Random(8)
    versions = [f"{rng.randint(0, 9)}.{rng.randint(0, 12)}.{rng.randint(0, 31)}.{rng.randint(0, 31)}"
                for _ in range(ROWS)]  # fmt: skip
    ips = [Faker().ipv4_public() for _ in range(ROWS)]
    assert _labels(pl.DataFrame({"col_1": versions, "col_2": ips}), engines) == {
        "col_1": None,
        "col_2": "IP_ADDRESS",
    }


@pytest.mark.parametrize(
    ("column", "counter"),
    [("order_id", True), ("tilausnumero", True), ("Bestellnummer", True), ("software_version", True),
     ("numero_seguimiento", True), ("customer_email", False), ("nome", False), ("host_ip", False)],
)  # fmt: skip
def test_counter_signals_in_several_languages(column: str, counter: bool) -> None:
    assert counter_signal(column) is counter


def test_name_words_in_the_languages_of_the_tenants() -> None:
    for column, entity in [
        ("cognome", "PERSON"), ("achternaam", "PERSON"), ("sukunimi", "PERSON"), ("nazwisko", "PERSON"),
        ("indirizzo", "LOCATION"), ("Straße", "LOCATION"), ("osoite", "LOCATION"), ("miasto", "LOCATION"),
        ("data_di_nascita", "DATE_OF_BIRTH"), ("födelsedatum", "DATE_OF_BIRTH"),
        ("syntymäaika", "DATE_OF_BIRTH"),
        ("telefono_cellulare", "PHONE_NUMBER"), ("puhelin", "PHONE_NUMBER"), ("sähköposti", "EMAIL_ADDRESS"),
    ]:  # fmt: skip
        assert entity in name_signals(column), column
    assert "LOCATION" not in name_signals("created_by")


def test_national_phone_numbers_are_read_in_the_region_the_frame_and_tenant_point_to() -> None:
    norwegian = ["40 74 83 37", "98 76 23 28", "22 33 44 55", "91 23 45 67"]
    assert infer_region(norwegian, hints=["NO"]) == "NO"
    mixed = ["+47 40 74 83 37", "98 76 23 28", "22 33 44 55"]
    assert infer_region(mixed) == "NO"  # the column's own international numbers name the region
    assert not possible("40 74 83", "NO") and not possible("123 45 67 89 01 23 45 67 89", "NO")
    assert country_of_data_region("eu-north-1") == "SE" and country_of_data_region("mars-1") is None


def test_a_country_column_tells_the_region_of_national_numbers(engines: NlpEngines) -> None:
    rng = random.Random(2)
    numbers = [f"{rng.choice('49')}{rng.randint(0, 9)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
               f"{rng.randint(10, 99)}" for _ in range(ROWS)]  # fmt: skip
    frame = pl.DataFrame({"land": ["Norge"] * ROWS, "kontakt": numbers})
    assert classify_frame(frame, engines=engines).columns["kontakt"].entity == "PHONE_NUMBER"
    assert infer_region(numbers, hints=["NO"]) == "NO"


@pytest.mark.parametrize("locale", ["it_IT", "de_DE", "fr_FR", "es_ES", "nl_NL", "pl_PL", "pt_PT", "sv_SE",
                                    "fi_FI", "no_NO", "en_GB"])  # fmt: skip
def test_an_unnamed_column_of_full_names_is_person_in_every_locale(locale: str, engines: NlpEngines) -> None:
    fake = Faker(locale)
    Faker.seed(17)
    names = [f"{fake.first_name()} {fake.last_name()}" for _ in range(ROWS)]
    assert _labels(pl.DataFrame({"col_4": names}), engines) == {"col_4": "PERSON"}


def test_company_names_user_agents_and_prose_carry_no_person_or_location_claim(engines: NlpEngines) -> None:
    fake = Faker("en_US")
    Faker.seed(3)
    frame = pl.DataFrame(
        {
            "company": [fake.company() for _ in range(ROWS)],
            "agent": [fake.user_agent() for _ in range(ROWS)],
            "prose": [fake.paragraph(nb_sentences=3) for _ in range(ROWS)],
            "nota": [Faker("it_IT").paragraph(nb_sentences=3) for _ in range(ROWS)],
        }
    )
    report = classify_frame(frame, engines=engines)
    claims = {
        f"{n}.{e}": rate for n, c in report.columns.items() for e, rate in c.entities.items() if rate > 0.05
    }
    assert claims == {} and all(c.entity is None for c in report.columns.values())


def test_names_and_places_in_free_text_are_redacted(engines: NlpEngines) -> None:
    texts = pl.Series(
        "notes",
        [
            "Called Nils Bakke about refund",
            "Spoke to Matti Virtanen about the invoice",
            "Customer moved to Bergen last year",
            "Refund approved by Anna Kowalska for order 1234",
            "Sent the parcel to Acme Holding AS in the morning",
        ],
    )
    out = redact_text(texts, ("PERSON", "LOCATION"), engines).to_list()
    assert out[:4] == [
        "Called <PERSON> about refund",
        "Spoke to <PERSON> about the invoice",
        "Customer moved to <LOCATION> last year",
        "Refund approved by <PERSON> for order 1234",
    ]
    assert "Acme Holding AS" in out[4]  # a company is not a person


def test_free_text_identifier_claims_need_a_valid_checksum(engines: NlpEngines) -> None:
    valid = "The patient with PESEL 44051401359 called the ward about the results"
    broken = "The patient with PESEL 44051401358 called the ward about the results"
    frame = pl.DataFrame({"note": [valid] * 50 + [broken] * 50})
    col = classify_frame(frame, engines=engines).columns["note"]
    assert col.free_text and col.entities["PL_PESEL"] == pytest.approx(0.5)
    redacted = redact_text(pl.Series([valid, broken]), ("PL_PESEL",), engines).to_list()
    assert redacted == [valid.replace("44051401359", "<PL_PESEL>"), broken]


def test_device_and_sim_numbers_are_not_cards_and_company_tax_numbers_are_not_phones(
    engines: NlpEngines,
) -> None:
    from stdnum import imei
    from stdnum.pl import nip

    rng = random.Random(12)
    imeis = []
    while len(imeis) < ROWS:
        body = f"35{rng.randrange(10**11, 10**12)}"
        imeis.append(body + luhn.calc_check_digit(body))  # an IMEI is 14 digits and a Luhn check digit
    iccids = [f"8991{rng.randrange(10**13, 10**14)}" for _ in range(ROWS)]
    iccids = [i + luhn.calc_check_digit(i) for i in iccids]
    nips: list[str] = []
    while len(nips) < ROWS:  # a random ten-digit number passes the NIP check one time in eleven
        n = str(rng.randrange(10**9, 10**10))
        if nip.is_valid(n):
            nips.append(f"{n[:3]}-{n[3:6]}-{n[6:8]}-{n[8:]}")
    frame = pl.DataFrame({"col_1": imeis, "col_2": iccids, "col_3": nips})
    assert all(imei.is_valid(i) and len(i) == 15 for i in imeis)
    assert _labels(frame, engines) == dict.fromkeys(frame.columns)


def test_msisdns_without_a_plus_and_last_comma_first_names(engines: NlpEngines) -> None:
    fake = Faker("en_US")
    Faker.seed(6)
    rng = random.Random(6)
    frame = pl.DataFrame(
        {
            "msisdn": [f"91{rng.choice('6789')}{rng.randrange(10**8, 10**9)}" for _ in range(ROWS)],
            "insured": [f"{fake.last_name()}, {fake.first_name()}" for _ in range(ROWS)],
        }
    )
    assert _labels(frame, engines) == {"msisdn": "PHONE_NUMBER", "insured": "PERSON"}


def test_a_handful_of_category_words_gets_no_name_or_place_label(engines: NlpEngines) -> None:
    rng = random.Random(4)
    offices = ["Finanzamt Erfurt", "Finanzamt Bonn", "Finanzamt Köln-Mitte", "Finanzamt Jena"]
    frame = pl.DataFrame({"amt": [rng.choice(offices) for _ in range(ROWS)]})
    assert _labels(frame, engines) == {"amt": None}


def test_travel_system_formats_names_and_birth_dates_with_month_names(engines: NlpEngines) -> None:
    fake = Faker("en_US")
    Faker.seed(8)
    people = [(fake.last_name().upper(), fake.first_name().upper()) for _ in range(ROWS)]
    frame = pl.DataFrame(
        {
            "pax": [f"{last}/{first} {'MRS' if i % 2 else 'MR'}" for i, (last, first) in enumerate(people)],
            "birth": [fake.date_of_birth().strftime("%d%b%Y").upper() for _ in range(ROWS)],
        }
    )
    assert _labels(frame, engines) == {"pax": "PERSON", "birth": "DATE_OF_BIRTH"}
