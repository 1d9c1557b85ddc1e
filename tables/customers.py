"""customer_overview: customer id -> name, email, accounts and total balance per currency."""

from __future__ import annotations

from app import app
from topics import PARTITIONS

__all__ = ["customer_overview"]

customer_overview = app.Table(
    "customer_overview",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Customer id -> overview (projections/customers.py).",
)
