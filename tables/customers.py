"""customer_summary, customer_account_pages, customer_account_page_of: a customer and its accounts in bounded rows.

See projections/customers.py. Size bound of every row: 64 KB (engine/limits.py, enforced at the
flush). In practice: a customer row is about 250 bytes plus about 50 per currency; a page at most
PAGE_SIZE (200) accounts of about 100 bytes, under 20 KB; a page-of row a number. Page and page-of
rows are written under the customer's record, so they live in the customer's partition.
customer_summary was customer_overview, one row holding every account: a new name, so that no
row of the old shape is ever read (the tables are rebuilt from the change topics).
"""

from __future__ import annotations

from app import app
from topics import PARTITIONS

__all__ = ["customer_summary", "customer_account_pages", "customer_account_page_of"]

customer_summary = app.Table(
    "customer_summary",
    default=None,
    partitions=PARTITIONS,
    key_type=int,
    help="Customer id -> name, email, totals per currency, account count, pages (projections/customers.py).",
)

customer_account_pages = app.Table(
    "customer_account_pages",
    default=None,
    partitions=PARTITIONS,
    key_type=str,
    help="'customer:page' -> {accounts: {account id: {balance, currency, status}}}, at most PAGE_SIZE accounts.",
)

customer_account_page_of = app.Table(
    "customer_account_page_of",
    default=None,
    partitions=PARTITIONS,
    key_type=str,
    help="'customer:account' -> the page the account is listed on.",
)
