"""The validators that confirm regex candidates: Luhn, IBAN mod-97, SSN rules, IP parsing."""

from __future__ import annotations

import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from compliance.validators import iban_valid, ip_valid, luhn_valid, ssn_valid


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"],
)
def test_luhn_accepts_real_card_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4111111111111112", "1234567812345678", "0000000000000000", "41111111111", "41111"]
)
def test_luhn_rejects_bad_checksums_lengths_and_repeated_digits(number: str) -> None:
    assert not luhn_valid(number)


@given(st.text(alphabet="0123456789", min_size=12, max_size=18))
def test_luhn_check_digit_makes_any_prefix_valid(prefix: str) -> None:
    for digit in "0123456789":
        candidate = prefix + digit
        if luhn_valid(candidate):
            break
    else:
        # exactly one check digit fits unless the number is all one digit
        assert len(set(prefix)) == 1 or not 12 <= len(prefix) + 1 <= 19


def test_luhn_accepts_every_faker_card() -> None:
    fake = Faker()
    Faker.seed(3)
    assert all(luhn_valid(fake.credit_card_number()) for _ in range(200))


@pytest.mark.parametrize(
    "iban",
    [
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "NO9386011117947",
        "FR1420041010050500013M02606",
    ],
)
def test_iban_accepts_valid_ibans(iban: str) -> None:
    assert iban_valid(iban)


@pytest.mark.parametrize(
    "iban",
    [
        "DE89 3704 0044 0532 0130 01",  # wrong check digits
        "GB82WEST1234569876543",  # one character short for GB
        "XX00",  # too short
        "DE8937040044053201300!",  # not alphanumeric
        "1234567890123456",  # no country
    ],
)
def test_iban_rejects_invalid_ibans(iban: str) -> None:
    assert not iban_valid(iban)


def test_iban_accepts_faker_ibans_of_several_countries() -> None:
    for locale in ("de_DE", "fr_FR", "no_NO", "en_GB", "es_ES", "nl_NL"):
        fake = Faker(locale)
        assert all(iban_valid(fake.iban()) for _ in range(50)), locale


@pytest.mark.parametrize("ssn", ["536-90-4399", "001-01-0001", "772-43-2311", "536904399"])
def test_ssn_accepts_issuable_numbers(ssn: str) -> None:
    assert ssn_valid(ssn)


@pytest.mark.parametrize(
    "ssn",
    ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "078-05-1120", "12-345-6789"],
)
def test_ssn_rejects_never_issued_numbers(ssn: str) -> None:
    assert not ssn_valid(ssn)


@pytest.mark.parametrize("ip", ["192.168.0.1", "8.8.8.8", "::1", "2001:db8::ff00:42:8329"])
def test_ip_accepts_v4_and_v6(ip: str) -> None:
    assert ip_valid(ip)


@pytest.mark.parametrize("ip", ["256.1.1.1", "1.2.3", "12:34:56", "abc"])
def test_ip_rejects_lookalikes(ip: str) -> None:
    assert not ip_valid(ip)


def test_card_numbers_need_a_network_prefix_and_length() -> None:
    from compliance.validators import card_valid

    assert all(card_valid(n) for n in ("4111 1111 1111 1111", "378282246310005", "5555555555554444"))
    assert not card_valid("356938035643809")  # an IMEI: Luhn-valid, 15 digits, no network issues it
    assert not card_valid("8991101200003204510")  # a SIM ICCID: Luhn-valid, prefix 89
    assert not card_valid("4111 1111 1111 1112")  # Luhn fails
