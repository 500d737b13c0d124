"""Deterministic sample insurance claims for one business date."""

from __future__ import annotations

import random
from datetime import date, timedelta

import polars as pl

CLAIM_TYPES = ("auto", "home", "travel", "health")
POLICY_LIMITS = {"auto": 250_000, "home": 1_500_000, "travel": 50_000, "health": 400_000}
DESCRIPTIONS = {
    "auto": [
        "Rear-ended at traffic light",
        "Parking damage",
        "Windscreen cracked by stone",
        "Car stolen overnight",
    ],
    "home": [
        "Water leak in kitchen",
        "Burglary, laptop and jewellery stolen",
        "Storm damaged roof",
        "Fire in garage",
    ],
    "travel": ["Lost luggage", "Flight cancelled", "Medical treatment abroad", "Phone stolen at hotel"],
    "health": ["Physiotherapy sessions", "Dental surgery", "Specialist consultation", "MRI scan"],
}


def claims_for(business_date: date, count: int = 500) -> pl.DataFrame:
    """``count`` claims reported on ``business_date``, reproducible from the date.

    About 3% are invalid and 4% show the early-in-policy, near-limit, frequent-claimant pattern.
    """
    rng = random.Random(business_date.toordinal())
    rows = []
    for i in range(count):
        claim_type = rng.choice(CLAIM_TYPES)
        limit = POLICY_LIMITS[claim_type]
        incident = business_date - timedelta(days=int(rng.expovariate(1 / 10)))
        policy_start = incident - timedelta(days=rng.randint(1, 2000))
        amount = round(min(limit * 1.2, rng.lognormvariate(9, 1.1)), 2)
        if rng.random() < 0.05:
            amount = float(round(amount, -3))  # suspiciously round
        description = rng.choice(DESCRIPTIONS[claim_type])
        prior_claims = min(6, int(rng.expovariate(1.2)))
        if rng.random() < 0.04:  # the pattern the fraud team looks for
            policy_start = incident - timedelta(days=rng.randint(1, 25))
            amount = round(limit * rng.uniform(0.82, 0.99), 2)
            prior_claims = rng.randint(3, 6)
        row = {
            "claim_id": f"CLM-{business_date:%Y%m%d}-{i:05d}",
            "policy_id": f"POL-{rng.randint(10_000, 99_999)}",
            "claim_type": claim_type,
            "amount": amount,
            "policy_limit": float(limit),
            "policy_start": policy_start,
            "incident_date": incident,
            "reported_date": business_date,
            "prior_claims_12m": prior_claims,
            "police_report": rng.random() < 0.6,
            "description": description,
        }
        roll = rng.random()
        if roll < 0.01:
            row["amount"] = -row["amount"]
        elif roll < 0.02:
            row["incident_date"] = business_date + timedelta(days=5)
        elif roll < 0.03:
            row["policy_id"] = None
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)
