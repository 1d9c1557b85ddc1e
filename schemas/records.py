"""Python record classes of the schema files: one frozen dataclass per event type and version."""

# The .avsc files are the contract; these classes give producers and consumers typed values,
# and tests/unit/test_schemas_records.py fails whenever a class and its file disagree
# (field names, types, optionality, defaults). Timestamps are timezone-aware datetimes
# (timestamp-micros), ids of events are UUIDs, money is exact decimal text such as "1234.50".

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Dict, List, Optional, Tuple, Type, TypedDict, TypeVar, dataclass_transform
from uuid import UUID

__all__ = [
    "Int",
    "Long",
    "Money",
    "Envelope",
    "CustomerOpenedV1",
    "AccountOpenedV1",
    "AccountFrozenV1",
    "MoneyDepositedV1",
    "MoneyWithdrawnV1",
    "MoneyWithdrawnV2",
    "WithdrawalAlertV1",
    "WithdrawalAlertV2",
    "WithdrawalAlertV3",
    "BalanceLowV1",
    "BalanceLowV2",
    "SourcePosition",
    "RECORDS",
    "record_class",
    "event_of",
]

#: Python has one int; Avro has two. The annotation says which one the schema uses.
Int = Annotated[int, "int"]
Long = Annotated[int, "long"]
#: Exact decimal text with two places ("1234.50"), never a float.
Money = Annotated[str, "money"]

T = TypeVar("T")


@dataclass_transform(frozen_default=True, kw_only_default=True)
def _record(cls: Type[T]) -> Type[T]:
    """Every record class: frozen, keyword-only, slotted (and known to type checkers as a dataclass)."""
    return dataclass(frozen=True, kw_only=True, slots=True)(cls)


@_record
class Envelope:
    """schemas/envelope/v1.avsc: every event on the wire, its payload single-object encoded."""

    event_id: UUID
    event_type: str
    event_version: Int
    occurred_at: datetime
    recorded_at: datetime
    source: str
    correlation_id: str
    causation_id: Optional[UUID] = None
    partition_key: str
    payload: bytes


@_record
class CustomerOpenedV1:
    customer_id: Long
    name: str
    email: Optional[str] = None


@_record
class AccountOpenedV1:
    account_id: Long
    customer_id: Long
    currency: str
    balance: Money
    status: str


@_record
class AccountFrozenV1:
    account_id: Long
    customer_id: Long
    currency: str
    balance: Money
    status: str


@_record
class MoneyDepositedV1:
    account_id: Long
    transaction_id: Long
    amount: Money
    balance_after: Money
    currency: str


@_record
class MoneyWithdrawnV1:
    account_id: Long
    transaction_id: Long
    amount: Money
    balance_after: Money
    currency: str


@_record
class MoneyWithdrawnV2:
    account_id: Long
    transaction_id: Long
    amount: Money
    balance_after: Money
    currency: str
    channel: str = "branch"


@_record
class WithdrawalAlertV1:
    alert_id: str
    rule: str
    account_id: Long
    trigger_txn_id: Long
    count: Int
    total: Money
    window_start: datetime
    window_end: datetime
    txn_ids: List[Long]
    detected_at: datetime


@_record
class BalanceLowV1:
    account_id: Long
    customer_id: Long
    balance: Money
    threshold: Money
    currency: str
    crossed_at: datetime


class SourcePosition(TypedDict):
    """The nested `SourcePosition` record of WithdrawalAlert v2 and BalanceLow v2: a mapping on both
    sides of the codec (nested records encode and decode as mappings)."""

    topic: str
    partition: int
    offset: int
    lsn: Optional[int]
    tx_id: Optional[int]
    txn_id: Optional[int]


@_record
class WithdrawalAlertV2:
    alert_id: str
    rule: str
    account_id: Long
    trigger_txn_id: Long
    count: Int
    total: Money
    window_start: datetime
    window_end: datetime
    txn_ids: List[Long]
    detected_at: datetime
    sources: List[SourcePosition] = dataclasses.field(default_factory=list)


@_record
class WithdrawalAlertV3:
    alert_id: str
    rule: str
    account_id: Long
    trigger_txn_id: Long
    count: Int
    total: Money
    window_start: datetime
    window_end: datetime
    txn_ids: List[Long]
    detected_at: datetime
    sources: List[SourcePosition] = dataclasses.field(default_factory=list)
    severity: str = ""
    rule_version: Int = 0


@_record
class BalanceLowV2:
    account_id: Long
    customer_id: Long
    balance: Money
    threshold: Money
    currency: str
    crossed_at: datetime
    sources: List[SourcePosition] = dataclasses.field(default_factory=list)


#: (subject, version) -> record class; "Envelope" is the envelope's subject, the rest are event types.
RECORDS: Dict[Tuple[str, int], Type[Any]] = {
    ("Envelope", 1): Envelope,
    ("CustomerOpened", 1): CustomerOpenedV1,
    ("AccountOpened", 1): AccountOpenedV1,
    ("AccountFrozen", 1): AccountFrozenV1,
    ("MoneyDeposited", 1): MoneyDepositedV1,
    ("MoneyWithdrawn", 1): MoneyWithdrawnV1,
    ("MoneyWithdrawn", 2): MoneyWithdrawnV2,
    ("WithdrawalAlert", 1): WithdrawalAlertV1,
    ("WithdrawalAlert", 2): WithdrawalAlertV2,
    ("WithdrawalAlert", 3): WithdrawalAlertV3,
    ("BalanceLow", 1): BalanceLowV1,
    ("BalanceLow", 2): BalanceLowV2,
}

_EVENTS_OF: Dict[Type[Any], Tuple[str, int]] = {cls: key for key, cls in RECORDS.items()}


def record_class(subject: str, version: int) -> Optional[Type[Any]]:
    """The record class of a schema version, or None when there is none."""
    return RECORDS.get((subject, version))


def event_of(record: Any) -> Optional[Tuple[str, int]]:
    """(event type, version) of a record instance, or None for anything that is not one of these classes."""
    return _EVENTS_OF.get(type(record))
