"""The built-in national identifiers: regexes (run in Polars), validators, free-text spans, column words.

Valid values come from Faker where it generates checksum-valid ones, and
otherwise from the small generators below, which compute the check digits by
hand (Faker's ``en_GB`` NINOs all use the reserved prefix ZZ and its
``en_IN`` Aadhaar numbers fail the Verhoeff check 90% of the time).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import polars as pl
import pytest
from faker import Faker
from stdnum import verhoeff
from stdnum.it import codicefiscale
from stdnum.se import personnummer

from compliance.column_names import name_signals, name_tokens
from compliance.identifiers import IDENTIFIERS
from compliance.recognizers import Recognizer

RECOGNIZERS = {r.entity: r for r in IDENTIFIERS}
SAMPLES = 300
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _nino(rng: random.Random) -> str:
    while True:
        prefix = rng.choice("ABCEGHJKLMNOPRSTWXYZ") + rng.choice("ABCEGHJKLMNPRSTWXYZ")
        if prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            return f"{prefix}{_digits(rng, 6)}{rng.choice('ABCD')}"


def _nhs(rng: random.Random) -> str:
    """An England/Wales NHS number: mod 11 over weights 10..2, remainder 10 is never issued."""
    while True:
        body = rng.choice("4678") + _digits(rng, 8)
        check = (11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11) % 11
        if check != 10:
            return body + str(check)


def _de_idnr(rng: random.Random) -> str:
    """A Steuer-IdNr: ten digits with exactly one repeated, then the ISO 7064 mod 11,10 check digit."""
    while True:
        digits = rng.sample(string.digits, 9)
        body = [*digits, rng.choice(digits)]
        rng.shuffle(body)
        if body[0] != "0":
            break
    product = 10
    for d in body:
        total = (int(d) + product) % 10 or 10
        product = 2 * total % 11
    return "".join(body) + str((11 - product) % 10)


def _aadhaar(rng: random.Random) -> str:
    body = rng.choice("23456789") + _digits(rng, 10)
    return body + verhoeff.calc_check_digit(body)


def _pan(rng: random.Random) -> str:
    letters = string.ascii_uppercase
    serial = f"{rng.randrange(1, 10_000):04d}"
    return (
        "".join(rng.choices(letters, k=3))
        + rng.choice("ABCFGHJKLPT")
        + rng.choice(letters)
        + serial
        + rng.choice(letters)
    )


def _driver_license(rng: random.Random) -> str:
    letter = rng.choice(string.ascii_uppercase)
    shapes = [
        lambda: letter + _digits(rng, 7),  # CA
        lambda: rng.choice("123456789") + _digits(rng, 7),  # TX
        lambda: f"{_digits(rng, 3)} {_digits(rng, 3)} {_digits(rng, 3)}",  # NY
        lambda: letter + "-".join(_digits(rng, n) for n in (3, 3, 2, 3, 1)),  # FL
        lambda: letter + "-".join(_digits(rng, n) for n in (3, 4, 4)),  # IL
        lambda: f"{_digits(rng, 2)}{letter}{letter}{letter}{_digits(rng, 5)}",  # NH
        lambda: f"{_digits(rng, 3)}{letter}{letter}{_digits(rng, 4)}",  # IA
        lambda: f"{letter}{letter}{_digits(rng, 6)}{letter}",  # ID
        lambda: letter + _digits(rng, 6) + "R",  # MO
    ]
    return rng.choice(shapes)()


def _faker(locale: str, method: str, seed: int = 11) -> Callable[[random.Random], str]:
    fake = Faker(locale)
    fake.seed_instance(seed)
    return lambda rng: getattr(fake, method)()


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "UK_NINO": _nino,
    "UK_NHS": _nhs,
    "ES_NIF": _faker("es_ES", "nif"),
    "ES_NIE": _faker("es_ES", "nie"),
    "IT_FISCAL_CODE": _faker("it_IT", "ssn"),
    "PL_PESEL": _faker("pl_PL", "pesel"),
    "FI_PERSONAL_IDENTITY_CODE": _faker("fi_FI", "ssn"),
    "SE_PERSONNUMMER": _faker("sv_SE", "ssn"),
    "DE_TAX_ID": _de_idnr,
    "US_PASSPORT": _faker("en_US", "passport_number"),
    "US_ITIN": _faker("en_US", "itin"),
    "US_DRIVER_LICENSE": _driver_license,
    "IN_AADHAAR": _aadhaar,
    "IN_PAN": _pan,
}
ENTITIES = tuple(GENERATORS)


def _samples(entity: str, n: int = SAMPLES, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [GENERATORS[entity](rng) for _ in range(n)]


def _accepted(recognizer: Recognizer, values: list[str]) -> list[bool]:
    """Whole-cell regex in Polars, then the validator: what the classifier does with a cell."""
    matched = pl.Series(values, dtype=pl.String).str.contains(recognizer.full).to_list()
    return [bool(m) and recognizer.valid(v) for m, v in zip(matched, values, strict=True)]


def test_the_fourteen_identifiers_are_restricted_and_documented() -> None:
    assert set(RECOGNIZERS) == set(ENTITIES)
    assert len(IDENTIFIERS) == len(ENTITIES)
    for r in IDENTIFIERS:
        assert r.sensitivity == "restricted", r.entity
        assert r.rule and r.validator is not None, r.entity
        assert r.full.startswith(("^", "(?i)^")) and r.full.endswith("$"), r.entity
    weak = {r.entity for r in IDENTIFIERS if r.needs_name}
    assert weak == {"US_PASSPORT", "US_DRIVER_LICENSE"}
    assert {r.entity for r in IDENTIFIERS if r.span is None} == weak  # no checksum, no name in prose


@pytest.mark.parametrize("entity", ENTITIES)
def test_generated_values_match_and_validate(entity: str) -> None:
    values = _samples(entity)
    accepted = _accepted(RECOGNIZERS[entity], values)
    assert sum(accepted) / len(values) >= 0.99, [v for v, a in zip(values, accepted, strict=True) if not a][
        :5
    ]


def _change_one_digit(value: str, rng: random.Random) -> str:
    position = rng.choice([i for i, ch in enumerate(value) if ch.isdigit()])
    digit = rng.choice([d for d in string.digits if d != value[position]])
    return value[:position] + digit + value[position + 1 :]


# Share of values with one digit changed that the validator refuses: 1.0 where a check digit catches
# every single substitution (mod 11, mod 23, mod 26, mod 31, Luhn, Verhoeff, mod 11,10, PESEL's 1-3-7-9
# weights); ITIN has only its group ranges; NINO, PAN, passport and driver's licence have no check.
CHANGED_DIGIT_REFUSED: dict[str, tuple[float, float]] = {
    **dict.fromkeys(
        ("UK_NHS", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE", "PL_PESEL", "FI_PERSONAL_IDENTITY_CODE"), (1.0, 1.0)
    ),
    **dict.fromkeys(("SE_PERSONNUMMER", "DE_TAX_ID", "IN_AADHAAR"), (1.0, 1.0)),
    "US_ITIN": (0.1, 0.35),
    **dict.fromkeys(("UK_NINO", "IN_PAN", "US_PASSPORT", "US_DRIVER_LICENSE"), (0.0, 0.02)),
}


@pytest.mark.parametrize("entity", ENTITIES)
def test_one_changed_digit(entity: str) -> None:
    rng = random.Random(9)
    recognizer = RECOGNIZERS[entity]
    changed = [_change_one_digit(v, rng) for v in _samples(entity)]
    refused = sum(not recognizer.valid(v) for v in changed) / len(changed)
    low, high = CHANGED_DIGIT_REFUSED[entity]
    assert low <= refused <= high, refused


def _se_century(value: str) -> str:
    return str(personnummer.get_birth_date(value).year // 100)


def _omocodia(first15: str) -> str:
    """``first15`` with its last digit replaced by its omocodia letter, and the check letter recomputed."""
    code = first15[:-1] + "LMNPQRSTUV"[int(first15[-1])]
    return code + codicefiscale.calc_check_digit(code)


def _dni_letter(number: str) -> str:
    return _DNI_LETTERS[int(number) % 23]


# Each value rewritten the ways real exports write it.
FORMATS: dict[str, Callable[[str], list[str]]] = {
    "UK_NINO": lambda v: [
        f"{v[:2]} {v[2:4]} {v[4:6]} {v[6:8]} {v[8]}",
        f"{v[:2]} {v[2:8]} {v[8]}",
        v.lower(),
    ],
    "UK_NHS": lambda v: [f"{v[:3]} {v[3:6]} {v[6:]}", f"{v[:3]}-{v[3:6]}-{v[6:]}"],
    "ES_NIF": lambda v: [
        f"{v[:8]}-{v[8]}",
        f"{v[:2]}.{v[2:5]}.{v[5:8]}-{v[8]}",
        f"{v[:8]} {v[8]}",
        v.lower(),
    ],
    "ES_NIE": lambda v: [f"{v[0]}-{v[1:8]}-{v[8]}", f"{v[0]} {v[1:8]} {v[8]}", v.lower()],
    "IT_FISCAL_CODE": lambda v: [v.lower()],
    "PL_PESEL": lambda v: [],  # written as eleven plain digits
    "FI_PERSONAL_IDENTITY_CODE": lambda v: [v.lower()],
    "SE_PERSONNUMMER": lambda v: [
        v.replace("-", ""),
        _se_century(v) + v,
        _se_century(v) + v.replace("-", ""),
    ],
    "DE_TAX_ID": lambda v: [f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:]}"],
    "US_PASSPORT": lambda v: [v.lower()],
    "US_ITIN": lambda v: [v.replace("-", ""), v.replace("-", " ")],
    "US_DRIVER_LICENSE": lambda v: [v.lower()],
    "IN_AADHAAR": lambda v: [f"{v[:4]} {v[4:8]} {v[8:]}", f"{v[:4]}-{v[4:8]}-{v[8:]}"],
    "IN_PAN": lambda v: [v.lower()],
}


@pytest.mark.parametrize("entity", ENTITIES)
def test_written_with_and_without_separators(entity: str) -> None:
    variants = [w for v in _samples(entity, 50) for w in FORMATS[entity](v)]
    if variants:
        assert all(_accepted(RECOGNIZERS[entity], variants)), variants[:5]


@pytest.mark.parametrize(
    ("entity", "value"),
    [
        ("UK_NHS", "943 476 5919"),  # Wikipedia's worked example
        ("ES_NIF", "54362315-K"),
        ("ES_NIF", "5436231-" + _dni_letter("5436231")),  # leading zero dropped
        ("ES_NIF", "K0612345" + _dni_letter("0612345")),  # Spaniard under 14
        ("ES_NIE", "X-2482300-W"),
        ("IT_FISCAL_CODE", "RCCMNL83S18D969H"),
        ("IT_FISCAL_CODE", _omocodia("RCCMNL83S18D969")),  # a digit replaced by a letter
        ("PL_PESEL", "44051401359"),
        ("FI_PERSONAL_IDENTITY_CODE", "131052-308T"),
        ("FI_PERSONAL_IDENTITY_CODE", "010594Y9032"),  # century sign introduced in 2023
        ("SE_PERSONNUMMER", "880320-0016"),
        ("SE_PERSONNUMMER", "701063-2391"),  # samordningsnummer: day + 60
        ("DE_TAX_ID", "36 574 261 809"),
        ("US_ITIN", "912-56-3456"),  # group 50-65, added by the IRS in 2011 (stdnum lacks it)
        ("IN_AADHAAR", "2341 2341 2346"),
        ("IN_PAN", "ACUPA7085R"),
        ("US_DRIVER_LICENSE", "WDLABCD456DG"),
    ],
)
def test_published_and_edge_case_examples(entity: str, value: str) -> None:
    assert _accepted(RECOGNIZERS[entity], [value]) == [True]


@pytest.mark.parametrize(
    ("entity", "value"),
    [
        ("UK_NINO", "ZZ 14 52 06 T"),  # Faker en_GB: reserved prefix and suffix T
        ("UK_NINO", "ZZ145206A"),
        ("UK_NINO", "DA123456A"),  # D never first
        ("UK_NINO", "AO123456A"),  # O never second
        ("UK_NINO", "GB123456A"),  # unused prefix
        ("UK_NINO", "AB123456E"),  # suffix A-D only
        ("UK_NINO", "AB111111A"),  # junk digits
        ("UK_NHS", "1111111111"),  # passes mod 11, never issued
        ("UK_NHS", "943-476 5870"),  # mixed separators
        ("ES_NIF", "12345678Z"),  # the textbook example, passes mod 23
        ("ES_NIF", "B58378431"),  # a company CIF
        ("ES_NIF", "X2482300W"),  # an NIE is its own entity
        ("IT_FISCAL_CODE", "00743110157"),  # 11-digit company code
        ("SE_PERSONNUMMER", "880320-0018"),
        ("US_ITIN", "912-89-3456"),
        ("US_ITIN", "912-93-3456"),  # 93 is an ATIN
        ("US_ITIN", "999-99-9999"),
        ("IN_AADHAAR", "123412341234"),  # starts with 1
        ("IN_PAN", "ABCDE1234F"),  # D is no holder type
        ("IN_PAN", "ACUPA0000R"),
        ("US_PASSPORT", "123456789"),
        ("US_DRIVER_LICENSE", "20270531"),  # an expiry date in a licence column
    ],
)
def test_invalid_and_junk_values_are_refused(entity: str, value: str) -> None:
    assert _accepted(RECOGNIZERS[entity], [value]) == [False]


# How the identifiers appear in prose: the grouped forms for digit-only ones written that way.
PROSE: dict[str, Callable[[str], str]] = {
    "UK_NHS": lambda v: f"{v[:3]} {v[3:6]} {v[6:]}",
    "DE_TAX_ID": lambda v: f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:]}",
    "IN_AADHAAR": lambda v: f"{v[:4]} {v[4:8]} {v[8:]}",
}
GROUPED = ("UK_NHS", "DE_TAX_ID", "US_ITIN", "IN_AADHAAR")
SPAN_ENTITIES = tuple(r.entity for r in IDENTIFIERS if r.span is not None)


@pytest.mark.parametrize("entity", SPAN_ENTITIES)
def test_span_finds_the_identifier_in_a_sentence(entity: str) -> None:
    recognizer = RECOGNIZERS[entity]
    values = [PROSE.get(entity, str)(v) for v in _samples(entity, 100)]
    texts = pl.Series([f"Customer {v}, updated 2024-03-01 (ticket 4471)." for v in values])
    found = texts.str.extract_all(recognizer.span).to_list()
    for value, spans in zip(values, found, strict=True):
        assert [s for s in spans if recognizer.valid(s)] == [value]


@pytest.mark.parametrize("entity", SPAN_ENTITIES)
def test_span_does_not_match_inside_longer_digit_runs(entity: str) -> None:
    recognizer = RECOGNIZERS[entity]
    values = [w for v in _samples(entity, 100) for w in {v, PROSE.get(entity, str)(v)}]
    texts = [f"ref 12{v}34 and x{v}9" for v in values]
    if entity in GROUPED:  # digit groups joined by single spaces belong to one longer number
        texts += [f"tel 7 {v} 12" for v in values]
    texts += ["Card 4111 1111 1111 1111 charged", "Card 5500-0000-0000-0004 charged", "call +44 20 7946 0958"]
    found = pl.Series(texts).str.extract_all(recognizer.span).to_list()
    assert not [s for spans in found for s in spans if recognizer.valid(s)]


LOOK_ALIKES = [
    "ORD-2024-001234", "INV-000123", "100045678", "12345678901", "2.3.9.7", "10.0.19045", "v1.2.3",
    "+44 20 7946 0958", "020 7946 0958", "(555) 123-4567", "+91 98765 43210", "070-123 45 67",
    "0041 44 668 18 00", "2024-03-15", "15.03.2024", "20240315", "12:30:45", "SW1A 1AA", "10115", "00-950",
    "SKU-4821-XL", "AB-1234-567", "DE89 3704 0044 0532 0130 00", "978-3-16-148410-0", "4111 1111 1111 1111",
    "536-22-1234", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "1.234.567,89", "1Z999AA10123456784",
    "HX-2024-0042",
]  # fmt: skip


def test_look_alikes_are_not_identifiers() -> None:
    for recognizer in IDENTIFIERS:
        if recognizer.needs_name:
            continue  # a passport or licence number needs its column name; see the test below
        accepted = [v for v, a in zip(LOOK_ALIKES, _accepted(recognizer, LOOK_ALIKES), strict=True) if a]
        assert not accepted, (recognizer.entity, accepted)


def test_weak_shapes_take_plain_numbers_so_they_need_a_column_name() -> None:
    # Nine plain digits are a passport and a Texas-style licence number alike: only the name decides.
    assert _accepted(RECOGNIZERS["US_PASSPORT"], ["100045678"]) == [True]
    assert RECOGNIZERS["US_PASSPORT"].needs_name
    licence = RECOGNIZERS["US_DRIVER_LICENSE"]
    assert licence.needs_name
    assert not any(
        _accepted(licence, ["978-3-16-148410-0", "555-123-4567", "2024-03-15", "4111 1111 1111 1111"])
    )


# Share of random strings of the identifier's own shape (every digit random) that the validator
# accepts: the chance that a non-PII column of that shape passes. A column is labelled by its share
# of valid values, so these must stay well below the labelling threshold.
RANDOM_PASS_AT_MOST = {
    "UK_NHS": 0.12, "IN_AADHAAR": 0.11, "ES_NIF": 0.07, "ES_NIE": 0.07, "US_ITIN": 0.08,
    "IT_FISCAL_CODE": 0.05, "PL_PESEL": 0.03, "DE_TAX_ID": 0.02, "SE_PERSONNUMMER": 0.02,
    "FI_PERSONAL_IDENTITY_CODE": 0.01,
}  # fmt: skip


@pytest.mark.parametrize("entity", tuple(RANDOM_PASS_AT_MOST))
def test_random_values_of_the_same_shape_rarely_pass(entity: str) -> None:
    rng = random.Random(4)
    shaped = [
        "".join(rng.choice(string.digits) if c.isdigit() else c for c in v) for v in _samples(entity, 2000)
    ]
    rate = sum(_accepted(RECOGNIZERS[entity], shaped)) / len(shaped)
    assert rate <= RANDOM_PASS_AT_MOST[entity]


def test_us_phone_numbers_are_rarely_nhs_numbers() -> None:
    fake = Faker("en_US")
    fake.seed_instance(5)
    phones = [fake.numerify("###-###-####") for _ in range(2000)]
    # mod 11 lets one in eleven through: a phone column never reaches a labelling share.
    assert sum(_accepted(RECOGNIZERS["UK_NHS"], phones)) / len(phones) < 0.12


COLUMN_NAMES = {
    "UK_NINO": ["nino", "NationalInsuranceNumber", "ni_number"],
    "UK_NHS": ["nhs_number", "NHSNumber", "patient_nhs"],
    "ES_NIF": ["dni", "nif_cliente", "numero_documento"],
    "ES_NIE": ["nie", "NIE_extranjero"],
    "IT_FISCAL_CODE": ["codice_fiscale", "CodiceFiscale", "cf", "cod_fisc"],
    "PL_PESEL": ["pesel", "nr_pesel"],
    "FI_PERSONAL_IDENTITY_CODE": ["hetu", "henkilötunnus", "Henkilotunnus", "sotu"],
    "SE_PERSONNUMMER": ["personnummer", "pnr", "kund_personnr"],
    "DE_TAX_ID": ["steuer_id", "SteuerIdNr", "steueridentifikationsnummer", "idnr"],
    "US_PASSPORT": ["passport_number", "PassportNo"],
    "US_ITIN": ["itin", "ITIN"],
    "US_DRIVER_LICENSE": ["drivers_license_number", "DriverLicense", "driving_licence"],
    "IN_AADHAAR": ["aadhaar_no", "AadharNumber"],
    "IN_PAN": ["pan_card_no", "PermanentAccountNumber"],
}


def _points_to(recognizer: Recognizer, column: str) -> bool:
    return recognizer.entity in name_signals(column, [recognizer])


@pytest.mark.parametrize("entity", ENTITIES)
def test_column_names_in_the_issuing_language_point_to_the_entity(entity: str) -> None:
    recognizer = RECOGNIZERS[entity]
    assert all(_points_to(recognizer, c) for c in COLUMN_NAMES[entity]), COLUMN_NAMES[entity]
    for word in recognizer.words:
        assert name_tokens(word) == [word]  # a word is one token as name_tokens makes them (no accents)


def test_ambiguous_names_point_to_no_identifier() -> None:
    # pan (card number), uid (user id), dl (download), tin, license (software), itinerary, steuernummer
    # (another German number), ...
    ambiguous = [
        "pan", "card_pan", "uid", "user_uid", "dl", "dl_count", "tin", "license", "license_key", "itinerary",
        "steuernummer", "id", "number", "document_type",
    ]  # fmt: skip
    pointed = {c: [r.entity for r in IDENTIFIERS if _points_to(r, c)] for c in ambiguous}
    assert pointed == {c: [] for c in ambiguous}
