"""Second held-out set, part B: Belgian, Latin American, Canadian, Australian and Danish tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid

from faker import Faker
from stdnum.be import nn, ogm_vcs

from tests.compliance import heldout2_values as v
from tests.compliance.heldout2_values import UPPER, TableBuilder, pick


def be_parking_fines(rows: int, seed: int) -> TableBuilder:
    """nl_BE: a city's parking fines (retributies) export."""
    b = TableBuilder("be_parking_fines", "nl_BE", rows, seed)
    f, rng = b.fake, b.rng
    # None: the fine's number
    b.add("PV-nummer", None, lambda: f"PV/2024/{rng.randrange(1, 1_000_000):06d}")
    # None: Belgian number plates (they name a vehicle)
    b.add("Nummerplaat", None, lambda: f"{rng.randrange(1, 3)}-{v.letters(rng, 3)}-{v.digits(rng, 3)}")
    b.add("Naam", "PERSON", lambda: f"{f.last_name().upper()} {f.first_name()}")  # "PEETERS Jan"
    b.add("Adres", "LOCATION", f.address)  # multi-line
    # None: Belgian national numbers: personal, but none of the 23 entities
    b.add("Rijksregisternummer", None, lambda: nn.format(f.ssn()))
    b.add("Rekeningnummer", "IBAN_CODE", lambda: v.spaced_iban(f), 0.45)
    # None: structured payment references (+++123/4567/89012+++, valid check digits)
    b.add("Gestructureerde mededeling", None, lambda: _ogm(rng))
    # None: where the car was parked, as coordinates
    b.add("GPS", None, lambda: f"{rng.uniform(50.8, 51.3):.5f}, {rng.uniform(3.0, 5.0):.5f}")
    # None: a three-value fine-amount enum
    b.add("Bedrag", None, lambda: pick(rng, ["€ 25,00", "€ 35,00", "€ 58,00"]))
    return b


def _ogm(rng: random.Random) -> str:
    """A Belgian structured communication (OGM/VCS) with its check digits."""
    body = v.digits(rng, 10)
    number = body + ogm_vcs.calc_check_digits(body)
    return f"+++{number[:3]}/{number[3:7]}/{number[7:]}+++"


def mx_ride_trips(rows: int, seed: int) -> TableBuilder:
    """es_MX: a ride-hailing app's trips export."""
    b = TableBuilder("mx_ride_trips", "es_MX", rows, seed)
    f, rng = b.fake, b.rng
    # None: the pandas index written to CSV (unnamed column)
    b.add("Unnamed: 0", None, list(range(rows)))
    # None: trip UUIDs
    b.add("id_viaje", None, lambda: str(uuid.UUID(int=rng.getrandbits(128))))
    b.add("pasajero", "PERSON", lambda: f"{f.first_name()} {f.last_name()} {f.last_name()}")
    b.add("tel_pasajero", "PHONE_NUMBER", lambda: v.phone(f.phone_number, "MX", "international"))
    b.add("origen", "LOCATION", lambda: f.address().replace("\n", ", "))
    # None: Mexican number plates (they name a vehicle)
    b.add("placas", None, lambda: f"{v.letters(rng, 3)}-{v.digits(rng, 3)}-{rng.choice(UPPER)}")
    # None: fares
    b.add("tarifa_mxn", None, lambda: f"${rng.randrange(45, 600)}.{v.digits(rng, 2)}")
    # None: a three-value payment-method enum
    b.add("metodo_pago", None, lambda: pick(rng, ["Efectivo", "Tarjeta", "Saldo"]))
    # None: masked cards, only the last four digits
    b.add("tarjeta_ult4", None, lambda: f"•••• {v.digits(rng, 4)}", 0.4)
    # None: star ratings
    b.add("calificacion", None, lambda: pick(rng, [5, 5, 5, 4, 4, 3, 1]))
    return b


_PETS = ["Thor", "Mel", "Luna", "Bidu", "Pipoca", "Nina", "Bob", "Frida", "Max", "Pandora", "Paçoca", "Zeus"]


def br_vet_clinic(rows: int, seed: int) -> TableBuilder:
    """pt_BR: a veterinary clinic's pet owners (tutores) and patients."""
    b = TableBuilder("br_vet_clinic", "pt_BR", rows, seed)
    f, rng = b.fake, b.rng
    b.add("Tutor", "PERSON", lambda: f"{f.first_name()} {f.last_name()}")
    # None: Brazilian CPF numbers: personal, but none of the 23 entities
    b.add("CPF", None, f.cpf, 0.3)
    b.add("WhatsApp", "PHONE_NUMBER", lambda: v.phone(f.cellphone_number, "BR", "international"))
    b.add("E-mail", "EMAIL_ADDRESS", f.email, 0.4)
    b.add("Endereço", "LOCATION", f.address)  # multi-line
    # None: pets' names, which look like people's first names
    b.add("Nome do pet", None, lambda: pick(rng, _PETS))
    # None: a three-value species enum
    b.add("Espécie", None, lambda: pick(rng, ["Cão", "Gato", "Ave"], [6, 3, 1]))
    # None: 15-digit ISO 11784 pet microchip numbers
    b.add("Microchip", None, lambda: "9820000" + v.digits(rng, 8))
    # None: pets' weights
    b.add("Peso (kg)", None, lambda: f"{rng.uniform(1, 45):.1f}".replace(".", ","))
    return b


_AIRPORTS = ["YYZ", "YUL", "YVR", "YYC", "YOW", "YHZ", "YEG", "YWG", "LHR", "CDG", "FRA", "LAX"]


def ca_passenger_manifest(rows: int, seed: int) -> TableBuilder:
    """en_CA: an airline's passenger manifest (PNR export, airline field names)."""
    b = TableBuilder("ca_passenger_manifest", "en_CA", rows, seed)
    f, rng = b.fake, b.rng
    title = lambda: pick(rng, ["MR", "MS", "MRS"])  # noqa: E731
    b.add("PAX_NAME", "PERSON", lambda: f"{f.last_name().upper()}/{f.first_name().upper()} {title()}")
    # None: six-character booking references
    b.add("PNR", None, lambda: "".join(rng.choice(UPPER + "23456789") for _ in range(6)))
    # None: flight numbers
    b.add("FLT_NO", None, lambda: f"AC {rng.randrange(1, 2000)}")
    # None: IATA airport codes, not cities
    b.add("ORIG", None, lambda: pick(rng, _AIRPORTS))
    # None: seat numbers
    b.add("SEAT", None, lambda: f"{rng.randrange(1, 45)}{pick(rng, 'ABCDEFGHJK')}")
    dob = lambda: f.date_of_birth(maximum_age=90).strftime("%d%b%Y").upper()  # noqa: E731
    b.add("DOB", "DATE_OF_BIRTH", dob)  # 22MAR1985
    b.add("EMAIL", "EMAIL_ADDRESS", f.email, 0.5)
    b.add("FOP", "CREDIT_CARD", lambda: _fop(f, rng), 0.3)  # form of payment: CCVI4111.../0826
    # None: frequent-flyer numbers (airline code and nine digits)
    b.add("FQTV", None, lambda: f"AC {v.digits(rng, 9)}", 0.6)
    # None: 10-digit bag-tag numbers
    b.add("BAG_TAG", None, lambda: f"0014{v.digits(rng, 6)}", 0.4)
    return b


def _fop(f: Faker, rng: random.Random) -> str:
    """An airline form-of-payment field: CC, the card's vendor code, the number, /MMYY."""
    kind, code = pick(rng, [("visa16", "VI"), ("mastercard", "CA"), ("amex", "AX")])
    expiry = f"{rng.randrange(1, 13):02d}{rng.randrange(25, 31)}"
    return f"CC{code}{f.credit_card_number(card_type=kind)}/{expiry}"


_NOTES = [
    "Leave at front door",
    "ATL - side gate",
    "Call on arrival",
    "Deliver to reception, level 2",
    "Do not leave in sun",
    "Parcel locker 14",
    "Beware of dog",
    "",
]


def au_logistics_deliveries(rows: int, seed: int) -> TableBuilder:
    """en_AU: a courier's delivery scans (Spark export, one column unnamed)."""
    b = TableBuilder("au_logistics_deliveries", "en_AU", rows, seed)
    f, rng = b.fake, b.rng
    cons = b.many(lambda: f"33{v.letters(rng, 3)}{v.digits(rng, 7)}")
    # None: consignment (tracking) numbers
    b.add("consignment_no", None, cons)
    b.add("receiver_name", "PERSON", f.name)
    b.add("delivery_address", "LOCATION", f.address)  # multi-line
    b.add("_c3", "PHONE_NUMBER", lambda: v.phone(f.phone_number, "AU", "national"))
    # None: tracking URLs built from the consignment number
    b.add("tracking_url", None, [f"https://track.example-courier.com.au/#/details/{c}" for c in cons])
    # None: parcel weights
    b.add("weight_kg", None, lambda: round(rng.uniform(0.1, 30), 2))
    # None: IMEIs of the drivers' scanners (valid Luhn digit)
    b.add("driver_device_imei", None, lambda: v.device_imei(rng))
    # None: scan coordinates
    b.add("scan_latlng", None, lambda: f"{rng.uniform(-38, -27):.6f},{rng.uniform(144, 153):.6f}")
    # None: delivery instructions that name no one
    b.add("delivery_notes", None, lambda: pick(rng, _NOTES), 0.5)
    # None: SHA-1 hashes of signature images
    b.add("sig_sha1", None, lambda: hashlib.sha1(v.digits(rng, 12).encode()).hexdigest())
    return b


def dk_dating_profiles(rows: int, seed: int) -> TableBuilder:
    """da_DK: a dating app's profile export (e-mail column unnamed by Excel)."""
    b = TableBuilder("dk_dating_profiles", "da_DK", rows, seed)
    f, rng = b.fake, b.rng
    # None: a 7-digit profile key
    b.add("profil_id", None, lambda: rng.randrange(1_000_000, 9_999_999))
    b.add("fornavn", "PERSON", f.first_name)  # single-name column
    birth = lambda: f.date_of_birth(minimum_age=18, maximum_age=70).strftime("%d-%m-%Y")  # noqa: E731
    b.add("fødselsdag", "DATE_OF_BIRTH", birth)
    b.add("by", "LOCATION", f.city)  # cities
    b.add("Kolonne1", "EMAIL_ADDRESS", f.email)
    b.add("mobilnr", "PHONE_NUMBER", lambda: v.phone(f.phone_number, "DK", "raw"), 0.35)
    # None: a three-value preference enum
    b.add("søger", None, lambda: pick(rng, ["mænd", "kvinder", "alle"]))
    # None: heights in cm
    b.add("højde_cm", None, lambda: rng.randrange(150, 205))
    # None: three-part app version numbers
    b.add("app_version", None, lambda: f"{rng.randrange(4, 7)}.{rng.randrange(20)}.{rng.randrange(10)}")
    b.add("last_login_ip", "IP_ADDRESS", f.ipv4_public)
    # None: last-seen timestamps
    b.add("sidst_aktiv", None, lambda: _minutes_before(dt.datetime(2024, 6, 1), rng.randrange(200_000)))
    return b


def _minutes_before(end: dt.datetime, minutes: int) -> str:
    return (end - dt.timedelta(minutes=minutes)).isoformat(sep=" ")


TABLES_B = (
    be_parking_fines,
    mx_ride_trips,
    br_vet_clinic,
    ca_passenger_manifest,
    au_logistics_deliveries,
    dk_dating_profiles,
)
