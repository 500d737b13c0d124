"""Cleaning rules for customer drops, as vectorized Polars expressions."""

from __future__ import annotations

import polars as pl

REQUIRED_COLUMNS = ("customer_ref", "first_name", "last_name", "email", "phone", "country", "signup_date")
ALLOWED_COUNTRIES = ("NO", "SE", "DK", "FI", "DE", "NL", "GB")
EMAIL_PATTERN = r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$"


def _phone_e164(column: str) -> pl.Expr:
    digits = pl.col(column).str.replace_all(r"\D", "")
    digits = pl.when(digits.str.starts_with("00")).then(digits.str.slice(2)).otherwise(digits)
    return (
        pl.when(digits.str.len_chars() == 8)
        .then(pl.lit("+47") + digits)
        .when(digits.str.len_chars().is_between(10, 15))
        .then(pl.lit("+") + digits)
        .otherwise(None)
    )


def normalise(raw: pl.DataFrame) -> pl.DataFrame:
    """Trim, case-fold and parse every field; adds ``reject_reason`` (null for good rows)."""
    frame = raw.with_columns(
        pl.col("first_name").str.strip_chars().str.to_titlecase(),
        pl.col("last_name").str.strip_chars().str.to_titlecase(),
        pl.col("email").str.strip_chars().str.to_lowercase(),
        _phone_e164("phone").alias("phone"),
        pl.col("country").str.strip_chars().str.to_uppercase(),
        pl.col("signup_date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False),
        pl.col("customer_ref").str.strip_chars(),
    )
    reason = (
        pl.when(pl.col("email").is_null() | (pl.col("email") == ""))
        .then(pl.lit("missing email"))
        .when(~pl.col("email").str.contains(EMAIL_PATTERN))
        .then(pl.lit("malformed email"))
        .when(~pl.col("country").is_in(ALLOWED_COUNTRIES) | pl.col("country").is_null())
        .then(pl.lit("unknown country"))
        .when(pl.col("signup_date").is_null())
        .then(pl.lit("missing or malformed signup_date (expected YYYY-MM-DD)"))
        .when(pl.col("customer_ref").is_null() | (pl.col("customer_ref") == ""))
        .then(pl.lit("missing customer_ref"))
        .otherwise(None)
    )
    return frame.with_columns(reason.alias("reject_reason"))


def deduplicate(customers: pl.DataFrame) -> pl.DataFrame:
    """One row per e-mail address: the most recent signup wins (ties: the later drop file)."""
    return (
        customers.sort(["signup_date", "source_file", "customer_ref"])
        .unique(subset=["email"], keep="last", maintain_order=True)
        .sort("customer_ref")
    )


def split_clean_and_rejected(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cleaned, de-duplicated customers and the rejected rows with their reason."""
    normalised = normalise(raw)
    rejected = raw.with_columns(normalised["reject_reason"]).filter(pl.col("reject_reason").is_not_null())
    clean = deduplicate(normalised.filter(pl.col("reject_reason").is_null()).drop("reject_reason"))
    return clean, rejected
