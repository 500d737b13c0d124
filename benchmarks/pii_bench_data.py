"""Data for ``pii_bench.py``: a labelled high-cardinality table and free-text notes with known names.

Faker gives small pools per locale (first and last names, phone numbers,
mail domains); every row is then combined from them with fresh random parts
(numpy), so nearly every PII value is distinct and per-distinct-value work
gets no discount. Identifiers are random digits with computed check digits
(Luhn, mod-97, Verhoeff, the national check characters); :func:`validity`
checks a sample with python-stdnum and phonenumbers.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pii_bench_ids as ids
import polars as pl

LOCALES: dict[str, str] = {
    "en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES", "it_IT": "IT", "nl_NL": "NL",
    "pl_PL": "PL", "pt_PT": "PT", "sv_SE": "SE", "fi_FI": "FI", "no_NO": "NO", "en_IN": "IN",
}  # fmt: skip
# Column -> true entity (None: not PII). ``notes`` is free text: no single label is expected.
LABELS: dict[str, str | None] = {
    "email": "EMAIL_ADDRESS", "full_name": "PERSON", "phone": "PHONE_NUMBER", "ssn": "US_SSN",
    "iban": "IBAN_CODE", "client_ip": "IP_ADDRESS", "card_number": "CREDIT_CARD", "nino": "UK_NINO",
    "nif": "ES_NIF", "codice_fiscale": "IT_FISCAL_CODE", "pesel": "PL_PESEL",
    "personnummer": "SE_PERSONNUMMER", "aadhaar": "IN_AADHAAR", "order_id": None, "amount": None,
    "sku": None, "status": None, "created_at": None, "software_version": None,
}  # fmt: skip
FREE_TEXT = "notes"
_NAME_CALLS = 3000  # Faker calls per locale for first names and for last names
_PHONE_CALLS = 1500


class Pools:
    """Faker pools per locale, combined row by row with random parts (one instance per seed)."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        Faker.seed(seed)
        self.rng = np.random.default_rng(seed)
        firsts, lasts, phones, regions, domains = [], [], [], [], []
        for locale, region in LOCALES.items():
            fake = Faker(locale)
            firsts.append(np.array(sorted({fake.first_name() for _ in range(_NAME_CALLS)})))
            lasts.append(np.array(sorted({fake.last_name() for _ in range(_NAME_CALLS)})))
            found = _valid_phones([fake.phone_number() for _ in range(_PHONE_CALLS)], region)
            phones += found
            regions += [region] * len(found)
            domains += sorted(
                {fake.free_email_domain() for _ in range(50)} | {fake.domain_name() for _ in range(50)}
            )
        self.firsts, self.lasts = firsts, lasts
        self.phones, self.phone_regions = np.array(phones), np.array(regions)
        self.domains = np.array(domains)

    def names(self, n: int) -> tuple[pl.Series, pl.Series, pl.Series]:
        """Full names (first and last name of one locale, some with a middle initial) and their parts."""
        locale = self.rng.integers(0, len(self.firsts), n)
        first = _pick_within(self.rng, self.firsts, locale)
        last = _pick_within(self.rng, self.lasts, locale)
        initial = np.where(self.rng.random(n) < 0.3, np.char.add(" ", ids.letters(self.rng, n, 1)), "")
        full = np.char.add(np.char.add(np.char.add(first, initial), np.where(initial == "", "", ".")), " ")
        return pl.Series(np.char.add(full, last)), pl.Series(first), pl.Series(last)

    def emails(self, n: int) -> pl.Series:
        """Addresses of fresh names: first.last, flast42, first_last4711, last.first1987 at many domains."""
        _, first, last = self.names(n)
        domain = self.domains[self.rng.integers(0, len(self.domains), n)]
        frame = pl.DataFrame({"f": _ascii(first), "l": _ascii(last), "n": self.rng.integers(1, 9999, n),
                              "k": self.rng.integers(0, 4, n), "d": domain})  # fmt: skip
        initial = pl.col("f").str.slice(0, 1)
        local = (
            pl.when(pl.col("k") == 0).then(pl.format("{}.{}", "f", "l"))
            .when(pl.col("k") == 1).then(pl.format("{}{}{}", initial, "l", pl.col("n") % 100))
            .when(pl.col("k") == 2).then(pl.format("{}_{}{}", "f", "l", "n"))
            .otherwise(pl.format("{}.{}{}", "l", "f", 1940 + pl.col("n") % 70))
        )  # fmt: skip
        return frame.select(pl.format("{}@{}", local, "d")).to_series()

    def phones_for(self, n: int) -> tuple[pl.Series, np.ndarray]:
        """Valid numbers of 13 regions (and the regions), as written by Faker, national and international.

        The last three digits are fresh.
        """
        which = self.rng.integers(0, len(self.phones), n)
        base = pl.Series(self.phones[which])
        tail = pl.Series(ids.text_rows(ids.DIGITS[self.rng.integers(0, 10, (n, 3))]))
        return base.str.slice(0, base.str.len_chars() - 3) + tail, self.phone_regions[which]


def _valid_phones(numbers: list[str], region: str) -> list[str]:
    """The valid ones among Faker's ``numbers`` in three formats (as written, national, international)."""
    import phonenumbers

    out = []
    for raw in numbers:
        try:
            parsed = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if parsed.extension or not phonenumbers.is_valid_number(parsed):
            continue
        formats = (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        for text in (raw, *(phonenumbers.format_number(parsed, f) for f in formats)):
            if text[-3:].isdigit():
                out.append(text)
    return out


def _pick_within(rng: np.random.Generator, pools: list[np.ndarray], which: np.ndarray) -> np.ndarray:
    sizes = np.array([len(p) for p in pools])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = np.concatenate(pools)
    return flat[offsets[which] + (rng.random(len(which)) * sizes[which]).astype(np.int64)]


def _ascii(values: pl.Series) -> pl.Series:
    """Lower-case ASCII spelling of names (accents dropped) for mail addresses."""
    distinct = values.unique()
    folded = [
        "".join(c for c in unicodedata.normalize("NFKD", v) if c.isascii() and c.isalnum()).lower() or "x"
        for v in distinct
    ]
    return values.replace_strict(distinct, pl.Series(folded, dtype=pl.String))


def generate(pools: Pools, rows: int) -> tuple[pl.DataFrame, dict[str, float]]:
    """The labelled ``rows`` x 20 table (:data:`LABELS` and ``notes``) and the valid share per column."""
    rng = pools.rng
    full_name = pools.names(rows)[0]
    phone, regions = pools.phones_for(rows)
    start = np.datetime64("2023-01-01T00:00:00")
    version = rng.integers([1, 0, 0, 0], [13, 41, 256, 256], (rows, 4)).astype(str)
    frame = pl.DataFrame(
        {
            "email": pools.emails(rows),
            "full_name": full_name,
            "phone": phone,
            "ssn": ids.ssns(rng, rows),
            "iban": ids.ibans(rng, rows),
            "client_ip": ids.ips(rng, rows),
            "card_number": ids.cards(rng, rows),
            "nino": ids.ninos(rng, rows),
            "nif": ids.nifs(rng, rows),
            "codice_fiscale": ids.fiscal_codes(rng, rows),
            "pesel": ids.pesels(rng, rows),
            "personnummer": ids.personnummers(rng, rows),
            "aadhaar": ids.aadhaars(rng, rows),
            "order_id": ids.order_ids(rng, rows),
            "amount": np.round(rng.uniform(1, 99_999, rows), 2),
            "sku": np.char.add(
                np.char.add("SKU-", np.char.zfill(rng.integers(0, 100_000, rows).astype(str), 5)),
                np.char.add("-", ids.letters(rng, rows, 2)),
            ),
            "status": np.array(["active", "pending", "closed", "refunded", "disputed", "on_hold"])[
                rng.integers(0, 6, rows)
            ],
            "created_at": (start + rng.integers(0, 3 * 365 * 86400, rows).astype("timedelta64[s]")).astype(
                "datetime64[ms]"
            ),
            "software_version": pl.DataFrame(version.T.tolist())
            .select(pl.concat_str(pl.all(), separator="."))
            .to_series(),
        }
    ).with_columns(pl.col("created_at").dt.strftime("%Y-%m-%d %H:%M:%S"))
    frame = frame.with_columns(_notes(pools, frame).alias(FREE_TEXT))
    return frame, validity(frame, regions)


def _notes(pools: Pools, frame: pl.DataFrame) -> pl.Series:
    """Support notes: three of five templates name a person (fresh names), two carry mail addresses."""
    rows = frame.height
    parts = pl.DataFrame({
        "k": pools.rng.integers(0, 5, rows), "name": pools.names(rows)[0], "mail": pools.emails(rows),
        "phone": pools.phones_for(rows)[0], "order": frame["order_id"], "sku": frame["sku"],
        "n": pools.rng.integers(10_000, 1_000_000, rows),
    })  # fmt: skip
    k = pl.col("k")
    text = (
        pl.when(k == 0).then(pl.format("Customer {} wrote from {} about order {}.", "name", "mail", "order"))
        .when(k == 1).then(pl.format("Please call back on {} regarding the {} delivery.", "phone", "sku"))
        .when(k == 2).then(pl.format("Called {} about refund for invoice {}.", "name", "n"))
        .when(k == 3).then(pl.format("Refund approved by {} for {}, contact {}.", "name", "sku", "mail"))
        .otherwise(pl.format("Parcel for order {} left at the front desk.", "order"))
    )  # fmt: skip
    return parts.select(text).to_series()


_NINO = r"(?!BG|GB|NK|KN|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]"


def validity(frame: pl.DataFrame, phone_regions: np.ndarray, sample: int = 2000) -> dict[str, float]:
    """Share of the first ``sample`` values of each PII column (and order_id) that are valid.

    python-stdnum checks the identifiers, card and order numbers (Luhn) and
    IBANs; phonenumbers the phone numbers in their region; stdnum has no UK
    NINO, so its rule (prefixes, six digits, suffix A-D) is a regex.
    """
    import ipaddress
    import re

    import phonenumbers
    from stdnum import iban, luhn
    from stdnum.es import nif
    from stdnum.in_ import aadhaar
    from stdnum.it import codicefiscale
    from stdnum.pl import pesel
    from stdnum.se import personnummer
    from stdnum.us import ssn

    def ip(value: str) -> bool:
        try:
            return bool(ipaddress.ip_address(value))
        except ValueError:
            return False

    checks = {
        "email": lambda v: re.fullmatch(r"[a-z0-9._]+@[a-z0-9.\-]+\.[a-z]{2,}", v) is not None,
        "ssn": ssn.is_valid, "iban": iban.is_valid, "client_ip": ip,
        "card_number": lambda v: luhn.is_valid(re.sub(r"[ \-]", "", v)),
        "nino": lambda v: re.fullmatch(_NINO, v) is not None, "nif": nif.is_valid,
        "codice_fiscale": codicefiscale.is_valid, "pesel": pesel.is_valid,
        "personnummer": personnummer.is_valid, "aadhaar": lambda v: aadhaar.is_valid(v),
        "order_id": luhn.is_valid,
    }  # fmt: skip
    head = frame.head(sample)
    shares = {name: sum(map(check, head[name].to_list())) / head.height for name, check in checks.items()}
    phones = zip(head["phone"].to_list(), phone_regions[:sample], strict=True)
    shares["phone"] = (
        sum(phonenumbers.is_valid_number(phonenumbers.parse(v, r)) for v, r in phones) / head.height
    )
    return shares


_TEXTS = (
    "Called {name} about refund for order {n}.",
    "{name} asked to move the delivery to next week (ticket {n}).",
    "Spoke with {name} regarding invoice {n}; will follow up on Monday.",
    "Refund approved by {name} after review of case {n}.",
    "Left a voicemail for {name}, no answer yet (ref {n}).",
    "Customer {name} ({mail}) complained about a late parcel, case {n}.",
)


def free_texts(pools: Pools, count: int) -> pl.DataFrame:
    """``count`` distinct support notes, each naming one person (column ``name``) of one of 13 locales."""
    names = pools.names(count)[0].to_list()
    mails = pools.emails(count).to_list()
    numbers = pools.rng.permutation(count) + 100_000
    texts = [
        _TEXTS[i % len(_TEXTS)].format(name=name, mail=mail, n=n)
        for i, (name, mail, n) in enumerate(zip(names, mails, numbers, strict=True))
    ]
    return pl.DataFrame({"text": texts, "name": names})
