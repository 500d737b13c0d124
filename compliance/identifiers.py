"""Built-in national identifiers: one :class:`~compliance.recognizers.Recognizer` per entity.

Entity names are Presidio's. Each identifier has a whole-cell regex
(``full``), a free-text regex (``span``, or ``None`` where the shape is too
weak for prose), a validator on the raw cell or span text, and the
column-name words of the languages where it is issued plus English.
Checksums come from python-stdnum; the UK National Insurance number, the US
passport and the US driver's licence have no check digit and get structural
rules. How each is detected, and how strong each check is, is written down in
``compliance/ENTITIES.md``.

All are ``restricted``: a national identifier is a unique, lifelong key to
one person that opens tax, health and credit records and enables identity
fraud, the same level as a US SSN or a card number.

Regexes are in the Rust dialect Polars runs vectorized (no look-around, no
backreferences). ``full`` patterns are anchored and meant for stripped cells;
validators accept the separators the regex lets through and reject the rest.
"""

from __future__ import annotations

import re

from stdnum import luhn
from stdnum.de import idnr
from stdnum.es import nie, nif
from stdnum.exceptions import ValidationError
from stdnum.fi import hetu
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.pl import pesel
from stdnum.se import personnummer
from stdnum.us import itin

from compliance.recognizers import Recognizer

_SEPARATORS = re.compile(r"[ .\-]")
_SEQUENCES = ("01234567890123456789", "98765432109876543210")


def _compact(value: str) -> str:
    """``value`` without spaces, dots and dashes, upper case."""
    return _SEPARATORS.sub("", value.strip()).upper()


def _junk(digits: str) -> bool:
    """True for digit strings nobody is issued: one repeated digit, or a run like 123456."""
    return len(set(digits)) <= 1 or (len(digits) >= 6 and any(digits in run for run in _SEQUENCES))


def _digits_of(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _digit_run(core: str) -> str:
    """Free-text pattern for a digit-grouped identifier ``core``.

    Digit groups joined to it by one space or dash are taken into the same
    match, so a longer grouped number (a card written in fours, a phone
    number) is one candidate that fails validation instead of a hit on its
    middle. Rust regexes have no look-around to say "not followed by".
    """
    return rf"\b(?:\d+[ \-])*(?:{core})(?:[ \-]\d+)*\b"


# --- UK ----------------------------------------------------------------------------------------------

_NINO_FIRST = "A-CEGHJ-PR-TW-Z"  # not D, F, I, Q, U, V
_NINO_SECOND = "A-CEGHJ-NPR-TW-Z"  # ... nor O
_NINO_CORE = rf"[{_NINO_FIRST}][{_NINO_SECOND}] ?\d{{2}} ?\d{{2}} ?\d{{2}} ?[A-D]"
_NINO = re.compile(rf"[{_NINO_FIRST}][{_NINO_SECOND}](\d{{6}})[A-D]")
_NINO_UNUSED_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def uk_nino_valid(value: str) -> bool:
    """HMRC's allocation rules for a National Insurance number (there is no check digit).

    Two prefix letters (the first not D, F, I, Q, U or V, the second not
    those nor O, and not BG, GB, KN, NK, NT, TN or ZZ), six digits not all
    the same, a suffix A-D.
    """
    compact = _compact(value)
    match = _NINO.fullmatch(compact)
    return bool(match) and compact[:2] not in _NINO_UNUSED_PREFIXES and len(set(match.group(1))) > 1


# Ten digits, or 3-3-4 with one kind of separator (880320-0016 is a Swedish personnummer, not an NHS number).
_NHS_FORMS = r"\d{10}|\d{3} \d{3} \d{4}|\d{3}-\d{3}-\d{4}"
_NHS = re.compile(_NHS_FORMS)


def uk_nhs_valid(value: str) -> bool:
    """NHS (and Scottish CHI) number: ten digits with the mod-11 check digit (stdnum ``gb.nhs``)."""
    value = value.strip()
    return bool(_NHS.fullmatch(value)) and nhs.is_valid(value) and not _junk(_digits_of(value))


# --- Spain -------------------------------------------------------------------------------------------

_DNI = re.compile(r"\d{7,8}[A-Z]")


def es_nif_valid(value: str) -> bool:
    """Spanish personal NIF: a DNI (8 digits and a mod-23 letter; a lost leading zero is restored)
    or a K/L/M NIF; company CIFs and NIEs are other entities (stdnum ``es.nif``)."""
    compact = _compact(value)
    if _DNI.fullmatch(compact):
        compact = compact.zfill(9)
    elif compact[:1] not in ("K", "L", "M"):
        return False
    return nif.is_valid(compact) and not _junk(_digits_of(compact))


def es_nie_valid(value: str) -> bool:
    """Spanish foreigner's number: X, Y or Z, seven digits and the mod-23 letter (stdnum ``es.nie``)."""
    compact = _compact(value)
    return nie.is_valid(compact) and not _junk(_digits_of(compact))


# --- Italy, Poland, Finland, Sweden, Germany ---------------------------------------------------------

_CF_ALNUM = "[0-9LMNP-V]"  # a digit, or its omocodia replacement letter
_CF_CORE = rf"[A-Z]{{6}}{_CF_ALNUM}{{2}}[ABCDEHLMPRST]{_CF_ALNUM}{{2}}[A-Z]{_CF_ALNUM}{{3}}[A-Z]"


def it_fiscal_code_valid(value: str) -> bool:
    """Italian codice fiscale of a person: 16 characters, mod-26 check letter and a real birth date
    (stdnum ``it.codicefiscale``; its 11-digit company form is refused)."""
    compact = _compact(value)
    return len(compact) == 16 and codicefiscale.is_valid(compact)


def pl_pesel_valid(value: str) -> bool:
    """Polish PESEL: eleven digits, a real birth date (century in the month) and the weighted
    mod-10 check digit (stdnum ``pl.pesel``)."""
    compact = _compact(value)
    return pesel.is_valid(compact) and not _junk(compact)


def fi_hetu_valid(value: str) -> bool:
    """Finnish henkilötunnus: a real birth date, century sign (incl. the 2023 ones), serial and the
    mod-31 check character (stdnum ``fi.hetu``; temporary 9xx serials accepted)."""
    return hetu.is_valid(value.strip().upper(), allow_temporary=True)


_SE = re.compile(r"(18|19|20)?(\d{4})(\d{2})([-+]?)(\d{4})")


def se_personnummer_valid(value: str) -> bool:
    """Swedish personnummer or samordningsnummer (day + 60): a real birth date and the Luhn check
    digit over the last ten digits (stdnum ``se.personnummer`` and ``luhn``)."""
    match = _SE.fullmatch(value.strip().replace(" ", ""))
    if not match:
        return False
    century, year_month, day, sign, serial = match.groups()
    if _junk(year_month + day + serial) or not luhn.is_valid(year_month + day + serial):
        return False
    real_day = int(day) - 60 if int(day) > 60 else int(day)  # samordningsnummer
    number = f"{century or ''}{year_month}{real_day:02d}{sign or '-'}{serial}"
    try:
        personnummer.get_birth_date(number)
    except ValidationError:
        return False
    return True


def de_tax_id_valid(value: str) -> bool:
    """German Steuer-IdNr: eleven digits, no leading zero, exactly one digit repeated (twice or three
    times) in the first ten and the ISO 7064 mod 11,10 check digit (stdnum ``de.idnr``)."""
    return idnr.is_valid(value)


# --- United States -----------------------------------------------------------------------------------

_ITIN = re.compile(r"9\d{8}")


def us_itin_valid(value: str) -> bool:
    """US ITIN: 9XX-GG-SSSS with group 50-65, 70-88, 90-92 or 94-99 (IRS); stdnum ``us.itin``
    predates the 2011 extension to 50-65, which is added here. There is no check digit."""
    compact = _compact(value)
    if not _ITIN.fullmatch(compact) or _junk(compact):
        return False
    return itin.is_valid(compact) or 50 <= int(compact[3:5]) <= 65


_PASSPORT = re.compile(r"[A-Z]?\d{8}|\d{9}")


def us_passport_valid(value: str) -> bool:
    """US passport book or card number: nine digits, or a letter and eight digits (next generation).

    There is no check digit; repeated and sequential digits are refused. The
    shape is shared with other countries' passports (UK ones are nine digits
    too), so this only counts where the column name says passport.
    """
    compact = _compact(value)
    return bool(_PASSPORT.fullmatch(compact)) and not _junk(_digits_of(compact))


# The state formats (AAMVA) as printed: digits only (TX, PA "12 345 678", NY "123 456 789"), letters and
# digits (CA, OH, CO, ND, ...), a letter and long digit groups (FL F123-456-78-901-0, IL, MD, MI, NJ,
# WI), digits and letters (ME, MO, VT) and a few singular ones (IA, ID, KS, NH, WA).
_DL_FORMS = (
    r"\d{6,16}|\d{3} \d{3} \d{3}|\d{2} \d{3} \d{3}|[A-Z]\d{4,18}|[A-Z]{2}\d{3,7}|[A-Z]{3}\d{6}"
    r"|[A-Z][ \-]?\d{3,5}(?:[ \-]\d{1,5}){2,4}|\d{7,9}[A-Z]{1,2}|[A-Z]\d{6}R|[A-Z]{2}\d{6}[A-Z]"
    r"|\d{2}[A-Z]{3}\d{5}|\d{3}[A-Z]{2}\d{4}|[A-Z]\d[A-Z]\d[A-Z]|WDL[A-Z0-9]{9}|[A-Z*]{7}\d{3}[A-Z0-9]{2}"
)
_DL = re.compile(_DL_FORMS, re.IGNORECASE)
_YYYYMMDD = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")


def us_driver_license_valid(value: str) -> bool:
    """A US driver's licence number in one of the state formats; no state has a check digit.

    Repeated or sequential digits and YYYYMMDD dates (an expiry date in a
    licence column) are refused. Shapes this loose only count where the
    column name says driver's licence.
    """
    value = value.strip()
    digits = _digits_of(value)
    return bool(_DL.fullmatch(value)) and not _junk(digits) and not _YYYYMMDD.fullmatch(value)


# --- India -------------------------------------------------------------------------------------------


def in_aadhaar_valid(value: str) -> bool:
    """Aadhaar: twelve digits, not starting 0 or 1, not a palindrome, Verhoeff check digit
    (stdnum ``in_.aadhaar``)."""
    return aadhaar.is_valid(value) and not _junk(_digits_of(value))


def in_pan_valid(value: str) -> bool:
    """Indian PAN: five letters (the fourth a known holder type), four digits other than 0000 and a
    letter (stdnum ``in_.pan``). The last letter's checksum is unpublished: nothing checks it."""
    return pan.is_valid(value)


# --- The recognizers ---------------------------------------------------------------------------------

IDENTIFIERS: tuple[Recognizer, ...] = (
    Recognizer(
        entity="UK_NINO",
        sensitivity="restricted",
        full=rf"(?i)^[{_NINO_FIRST}][{_NINO_SECOND}][ \-]?\d{{2}}[ \-]?\d{{2}}[ \-]?\d{{2}}[ \-]?[A-D]$",
        span=rf"\b{_NINO_CORE}\b",
        validator=uk_nino_valid,
        words=("nino",),
        substrings=("national_insurance", "ni_number", "nat_ins"),
        rule="Two prefix letters HMRC allocates, six digits and a suffix A-D (AB 12 34 56 C); "
        "no check digit, so the prefix rules are the check.",
    ),
    Recognizer(
        entity="UK_NHS",
        sensitivity="restricted",
        full=rf"^(?:{_NHS_FORMS})$",
        span=_digit_run(r"\d{3} \d{3} \d{4}|\d{3}-\d{3}-\d{4}"),
        validator=uk_nhs_valid,
        words=("nhs", "nhsno", "nhsnumber"),
        substrings=("nhs_number", "chi_number"),
        rule="Ten digits written 3-3-4 with spaces, dashes or none, passing the mod-11 check digit; "
        "in free text only the grouped form (ten bare digits are too often timestamps or phones).",
    ),
    Recognizer(
        entity="ES_NIF",
        sensitivity="restricted",
        full=r"(?i)^(?:[KLM][ \-]?\d{7}|\d{1,2}\.?\d{3}\.?\d{3})[ \-]?[A-Z]$",
        span=r"\b(?:[KLM]\d{7}|\d{8}|\d{1,2}\.\d{3}\.\d{3})-?[A-Z]\b",
        validator=es_nif_valid,
        words=("nif", "dni", "documento"),
        substrings=("documento_identidad", "identificacion_fiscal", "national_id"),
        rule="A DNI (eight digits and the mod-23 control letter, 12345678-Z or 12.345.678-Z) or a "
        "K/L/M personal NIF; company CIFs are not personal data and are not matched.",
    ),
    Recognizer(
        entity="ES_NIE",
        sensitivity="restricted",
        full=r"(?i)^[XYZ][ \-]?\d{7}[ \-]?[A-Z]$",
        span=r"\b[XYZ]-?\d{7}-?[A-Z]\b",
        validator=es_nie_valid,
        words=("nie", "documento"),
        substrings=("identidad_extranjero", "documento_identidad", "national_id"),
        rule="X, Y or Z, seven digits and the mod-23 control letter (X-1234567-L).",
    ),
    Recognizer(
        entity="IT_FISCAL_CODE",
        sensitivity="restricted",
        full=rf"(?i)^{_CF_CORE}$",
        span=rf"\b{_CF_CORE}\b",
        validator=it_fiscal_code_valid,
        words=("cf", "codfisc", "codfiscale", "codicefiscale"),
        substrings=("codice_fiscale", "cod_fisc", "fiscal_code", "national_id"),
        rule="Sixteen characters (surname, name, birth date and place, omocodia letters allowed) with "
        "a real birth date and the mod-26 check letter.",
    ),
    Recognizer(
        entity="PL_PESEL",
        sensitivity="restricted",
        full=r"^\d{11}$",
        span=r"\b\d{11}\b",
        validator=pl_pesel_valid,
        words=("pesel",),
        substrings=("pesel", "national_id"),
        rule="Eleven digits holding a real birth date (century coded in the month) with the "
        "1-3-7-9 weighted check digit.",
    ),
    Recognizer(
        entity="FI_PERSONAL_IDENTITY_CODE",
        sensitivity="restricted",
        full=r"(?i)^\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]$",
        span=r"\b\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]\b",
        validator=fi_hetu_valid,
        words=("hetu", "sotu", "henkilotunnus"),
        substrings=(
            "henkilotunnus",
            "sosiaaliturvatunnus",
            "personbeteckning",
            "personal_identity_code",
            "national_id",
        ),
        rule="DDMMYY, a century sign (+, -, A-F, U-Y), a three-digit serial and the mod-31 check "
        "character (131052-308T), with a real birth date.",
    ),
    Recognizer(
        entity="SE_PERSONNUMMER",
        sensitivity="restricted",
        full=r"^(?:18|19|20)?\d{6}[-+]?\d{4}$",
        span=r"\b(?:18|19|20)?\d{6}[-+]\d{4}\b",
        validator=se_personnummer_valid,
        words=("personnummer", "personnr", "persnr", "pnr"),
        substrings=(
            "personnummer",
            "personnr",
            "samordningsnummer",
            "personal_identity_number",
            "national_id",
        ),
        rule="(YY)YYMMDD, - or + and four digits with a real birth date (day + 60 for a "
        "samordningsnummer) and the Luhn check digit; in free text only with the - or +.",
    ),
    Recognizer(
        entity="DE_TAX_ID",
        sensitivity="restricted",
        full=r"^[1-9]\d ?\d{3} ?\d{3} ?\d{3}$",
        span=_digit_run(r"[1-9]\d ?\d{3} ?\d{3} ?\d{3}"),
        validator=de_tax_id_valid,
        words=("idnr", "steuerid", "steueridnr"),
        substrings=("steuer_id", "steueridentifikationsnummer", "identifikationsnummer"),
        rule="Eleven digits (36 574 261 809) without a leading zero in which exactly one digit repeats "
        "among the first ten, with the ISO 7064 mod 11,10 check digit.",
    ),
    Recognizer(
        entity="US_PASSPORT",
        sensitivity="restricted",
        full=r"(?i)^(?:[A-Z]\d{8}|\d{9})$",
        span=None,
        validator=us_passport_valid,
        words=("passport", "passportno", "passportnumber", "pasaporte"),
        substrings=("passport", "pasaporte"),
        needs_name=True,
        rule="Nine digits or a letter and eight digits in a column named for passports; no check "
        "digit, so neither the cell alone nor free text is trusted.",
    ),
    Recognizer(
        entity="US_ITIN",
        sensitivity="restricted",
        full=r"^9\d{2}[ \-]?\d{2}[ \-]?\d{4}$",
        span=_digit_run(r"9\d{2}[ \-]\d{2}[ \-]\d{4}"),
        validator=us_itin_valid,
        words=("itin",),
        substrings=("individual_taxpayer",),
        rule="9XX-GG-SSSS with the IRS group ranges 50-65, 70-88, 90-92, 94-99; no check digit; in "
        "free text only with separators.",
    ),
    Recognizer(
        entity="US_DRIVER_LICENSE",
        sensitivity="restricted",
        full=rf"(?i)^(?:{_DL_FORMS})$",
        span=None,
        validator=us_driver_license_valid,
        words=(),
        substrings=(
            "driver_lic",
            "drivers_lic",
            "driving_lic",
            "dl_number",
            "licencia_conducir",
            "licencia_de_conducir",
        ),
        needs_name=True,
        rule="One of the state formats (letters and digits, F123-456-78-901-0, 123 456 789) in a "
        "column named for driver's licences; no state has a check digit.",
    ),
    Recognizer(
        entity="IN_AADHAAR",
        sensitivity="restricted",
        full=r"^[2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4}$",
        span=_digit_run(r"[2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4}"),
        validator=in_aadhaar_valid,
        words=("aadhaar", "aadhar", "adhaar", "adhar", "uidai"),
        substrings=("aadhaar", "aadhar", "adhaar", "national_id"),
        rule="Twelve digits (2341 2341 2346) not starting with 0 or 1, not a palindrome, with the "
        "Verhoeff check digit.",
    ),
    Recognizer(
        entity="IN_PAN",
        sensitivity="restricted",
        full=r"(?i)^[A-Z]{3}[ABCFGHJKLPT][A-Z]\d{4}[A-Z]$",
        span=r"\b[A-Z]{3}[ABCFGHJKLPT][A-Z]\d{4}[A-Z]\b",
        validator=in_pan_valid,
        words=("pancard",),
        substrings=("pan_card", "permanent_account"),
        rule="Five letters (the fourth a holder type), four digits other than 0000 and a letter "
        "(ABCPE1234F); the check letter's algorithm is unpublished, so the shape is the check.",
    ),
)
