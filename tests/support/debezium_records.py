"""Debezium records of the ledger for in-process tests: recorded ones, and builders in their exact shape.

The ledger connector writes JSON without schemas, decimals as text (connectors/ledger-postgres.yaml;
the `schemaless-string` setting of tests/fixtures/debezium/). The builders start from records
recorded off the real stack (dev/bench/samples/, Debezium 3.0.7) and change only the row images,
the operation and the source position, so what an agent gets is what Debezium writes.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from dev.bench.capture_sample import SAMPLES_DIR

__all__ = ["Record", "recorded", "LedgerChanges", "outbox_event"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "debezium"

#: key, value, headers: what goes on the topic.
Record = Tuple[Optional[bytes], Optional[bytes], List[Tuple[str, bytes]]]


def _bytes(field: Optional[Mapping[str, str]]) -> Optional[bytes]:
    if field is None:
        return None
    if "text" in field:
        return field["text"].encode()
    return base64.b64decode(field["base64"])


def recorded(setting: str, name: str) -> Record:
    """A record of tests/fixtures/debezium/<setting>/<name>.json, exactly as Debezium wrote it."""
    data = json.loads((FIXTURES / setting / f"{name}.json").read_text())
    headers = [(k, _bytes(v)) for k, v in data["headers"]]
    return _bytes(data["key"]), _bytes(data["value"]), headers


def _sample(name: str) -> Dict[str, Any]:
    return json.loads(json.loads((SAMPLES_DIR / f"{name}.json").read_text())["value"])


def _time(at: Optional[datetime]) -> str:
    # As the connector writes timestamptz: ISO-8601 in UTC with a Z.
    at = at or datetime(2026, 11, 22, 1, 45, 53, 335368, tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class LedgerChanges:
    """Builds change records of the ledger's tables; each gets the next LSN and transaction id.

    Row helpers take Python values (Decimal text as str, datetimes) and write them as the connector does.
    """

    def __init__(self, first_lsn: int = 30_000_000, first_tx: int = 1_000) -> None:
        self._lsns = itertools.count(first_lsn, 8)
        self._txs = itertools.count(first_tx)

    # ------------------------------------------------------------------ rows

    @staticmethod
    def account(account_id: int, *, customer_id: int, balance: str, currency: str = "EUR", status: str = "open",
                opened_at: Optional[datetime] = None, updated_at: Optional[datetime] = None) -> Dict[str, Any]:
        return {"id": account_id, "customer_id": customer_id, "currency": currency, "balance": balance,
                "status": status, "opened_at": _time(opened_at), "updated_at": _time(updated_at or opened_at)}

    @staticmethod
    def transaction(txn_id: int, *, account_id: int, kind: str, amount: str,
                    created_at: Optional[datetime] = None) -> Dict[str, Any]:
        return {"id": txn_id, "account_id": account_id, "kind": kind, "amount": amount,
                "created_at": _time(created_at)}

    @staticmethod
    def customer(customer_id: int, *, name: str, email: Optional[str] = None,
                 created_at: Optional[datetime] = None) -> Dict[str, Any]:
        return {"id": customer_id, "name": name, "email": email, "created_at": _time(created_at)}

    # ------------------------------------------------------------------ records

    def change(self, table: str, op: str, *, before: Optional[Mapping[str, Any]] = None,
               after: Optional[Mapping[str, Any]] = None, key: Optional[int] = None) -> Record:
        """A change of `table` ("accounts", "transactions", "customers"), keyed as the connector keys it:
        transactions by account id, the others by their id."""
        envelope = _sample("transactions-insert" if table == "transactions" else "accounts-update")
        row = after if after is not None else before
        if key is None:
            key = row["account_id"] if table == "transactions" else row["id"]
        lsn, tx_id = next(self._lsns), next(self._txs)
        source = envelope["source"]
        source.update(table=table, lsn=lsn, txId=tx_id, sequence=json.dumps([str(lsn - 4), str(lsn)]),
                      snapshot="true" if op == "r" else "false")
        envelope.update(before=copy.deepcopy(before), after=copy.deepcopy(after), op=op)
        return str(key).encode(), json.dumps(envelope, separators=(",", ":")).encode(), []

    def insert(self, table: str, row: Mapping[str, Any]) -> Record:
        return self.change(table, "c", after=row)

    def update(self, table: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> Record:
        return self.change(table, "u", before=before, after=after)

    def delete(self, table: str, before: Mapping[str, Any]) -> Record:
        return self.change(table, "d", before=before)

    @staticmethod
    def tombstone(key: int) -> Record:
        """The null record Debezium writes after a delete (compaction drops the key)."""
        return str(key).encode(), None, []


def outbox_event(event_type: str, aggregate_id: Any, payload: Any, *, event_id: Optional[str] = None) -> Record:
    """A domain event as Debezium's outbox router writes it (connectors/ledger-outbox.yaml): keyed by the
    aggregate id as text, the JSON payload as value, the event's id and type as headers."""
    import uuid

    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = [("id", (event_id or str(uuid.uuid4())).encode()), ("eventType", event_type.encode())]
    return str(aggregate_id).encode(), value, headers
