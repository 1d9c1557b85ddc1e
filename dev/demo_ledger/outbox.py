"""The transactional outbox: domain events written in the same transaction as the change."""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from psycopg import Cursor
from psycopg.types.json import Jsonb

__all__ = [
    "EVENT_VERSION",
    "CUSTOMER_OPENED",
    "ACCOUNT_OPENED",
    "ACCOUNT_FROZEN",
    "MONEY_DEPOSITED",
    "MONEY_WITHDRAWN",
    "new_event_id",
    "write_event",
]

#: Version of every payload below; bump it when a payload's meaning changes.
EVENT_VERSION = 1

CUSTOMER_OPENED = "CustomerOpened"
ACCOUNT_OPENED = "AccountOpened"
ACCOUNT_FROZEN = "AccountFrozen"
MONEY_DEPOSITED = "MoneyDeposited"
MONEY_WITHDRAWN = "MoneyWithdrawn"


def new_event_id() -> uuid.UUID:
    """A fresh event id (the outbox primary key, which consumers use to drop duplicates)."""
    return uuid.uuid4()


def write_event(
    cur: Cursor, aggregatetype: str, aggregateid: int | str, event_type: str, payload: Mapping[str, Any]
) -> uuid.UUID:
    """Insert one outbox row on `cur`; the caller's transaction makes it atomic with the change."""
    event_id = new_event_id()
    cur.execute(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) VALUES (%s, %s, %s, %s, %s)",
        # aggregateid is text: Debezium's outbox router uses it as the message key.
        (event_id, aggregatetype, str(aggregateid), event_type, Jsonb({**payload, "version": EVENT_VERSION})),
    )
    return event_id
