"""The benchmark's events: the demo ledger's traffic plan, written as the Debezium records it makes here.

The demo ledger's own planner (dev/demo_ledger/traffic.py: customers, everyday postings, bursts of 3-6 large
withdrawals) decides what happens, with balances kept in memory instead of a database; each
posting becomes the two records Debezium writes for it on the local stack: a transactions insert
(key: the account id, e.g. b"42") and the accounts update of the balance (key: the account id),
in the exact shape of the records captured in dev/bench/samples/ (JsonConverter without schemas,
decimal.handling.mode=string). Opening an account is an accounts insert. Everything is decided by
the seed and a fixed start time, so two runs load the same bytes.

`expected_alert_ids` runs detection/withdrawals.py over the transactions in commit order, per account,
as an oracle that every implementation's alert set is checked against.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import orjson
from aiokafka.partitioner import murmur2

from detection.withdrawals import RuleSettings, Withdrawal, evaluate_withdrawal
from dev.demo_ledger.money import ZERO
from dev.demo_ledger.traffic import Burst, Deposit, Profile, Withdraw, next_action, plan_customer

__all__ = ["Record", "Dataset", "build_dataset", "render_transaction", "partition_of", "check_shape",
           "expected_alert_ids", "SAMPLES_DIR", "START"]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
#: Event time of the first posting; fixed so that every run loads the same bytes.
START = datetime(2026, 11, 2, 6, 0, 0, tzinfo=timezone.utc)
PARTITIONS = 4
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: How the connector's records relate in time and log position (as in the captured samples):
#: the commit follows the insert by ~1 ms, Debezium emits ~100 ms later; a posting's transaction
#: row sits 168 bytes of WAL after its accounts row.
_COMMIT_AFTER_US = 1_000
_EMIT_AFTER_US = 100_000
_WAL_PER_POSTING = 2_600
_TXN_AFTER_ACCOUNT_LSN = 168


@dataclass(frozen=True)
class Record:
    """One record as Debezium puts it on the topic."""

    partition: int
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Posting:
    """What a transactions record says, kept to re-render it with another commit time (paced runs)."""

    txn_id: int
    account_id: int
    kind: str
    amount: str
    created_us: int
    tx_id: int
    lsn: int
    account_lsn: int
    prev_commit_lsn: int


@dataclass
class Dataset:
    postings: List[Posting] = field(default_factory=list)
    transactions: List[Record] = field(default_factory=list)
    #: Accounts changes, in commit order with the postings: inserts, then one update per posting.
    accounts: List[Record] = field(default_factory=list)
    n_accounts: int = 0
    bursts: int = 0

    def head(self, n: int) -> "Dataset":
        """The first `n` postings and the account changes up to the last of them."""
        last_tx = self.postings[n - 1].tx_id if n else 0
        accounts = [r for r in self.accounts if _tx_id_of(r) <= last_tx]
        return Dataset(self.postings[:n], self.transactions[:n], accounts, self.n_accounts, self.bursts)

    def stats(self) -> Dict[str, float]:
        large = sum(1 for p in self.postings if p.kind == "withdrawal" and Decimal(p.amount) >= Decimal("200.00"))
        withdrawals = sum(1 for p in self.postings if p.kind == "withdrawal")
        span_s = (self.postings[-1].created_us - self.postings[0].created_us) / 1e6 if self.postings else 0
        return {
            "transactions": len(self.postings), "accounts_changes": len(self.accounts), "accounts": self.n_accounts,
            "withdrawals": withdrawals, "large_withdrawals": large, "bursts": self.bursts,
            "mean_value_bytes": sum(len(r.value) for r in self.transactions) / max(1, len(self.transactions)),
            "event_time_span_hours": span_s / 3600,
        }


def _tx_id_of(record: Record) -> int:
    return orjson.loads(record.value)["source"]["txId"]


def partition_of(key: bytes, partitions: int = PARTITIONS) -> int:
    """Kafka's default partitioner (Kafka Connect's producer uses it for Debezium's records)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


_NAIVE_EPOCH = datetime(1970, 1, 1)
# RuleSettings is frozen, so one shared default is safe.
_DEFAULT_RULES = RuleSettings()


def _iso(us: int) -> str:
    """Debezium's ZonedTimestamp text of a timestamptz, e.g. "2026-11-22T01:45:54.287670Z"."""
    return (_NAIVE_EPOCH + timedelta(microseconds=us)).isoformat(timespec="microseconds") + "Z"


def _source(table: str, commit_us: int, tx_id: int, lsn: int, prev_commit_lsn: int) -> dict:
    # Field order and types as in dev/bench/samples/ (Debezium 3.0.7, PostgreSQL connector).
    return {
        "version": "3.0.7.Final", "connector": "postgresql", "name": "ledger", "ts_ms": commit_us // 1000,
        "snapshot": "false", "db": "ledger", "sequence": f'["{prev_commit_lsn}","{lsn}"]',
        "ts_us": commit_us, "ts_ns": commit_us * 1000, "schema": "public", "table": table, "txId": tx_id,
        "lsn": lsn, "xmin": None,
    }


def _envelope(before, after, source: dict, op: str, emit_us: int) -> bytes:
    return orjson.dumps({"before": before, "after": after, "source": source, "transaction": None, "op": op,
                         "ts_ms": emit_us // 1000, "ts_us": emit_us, "ts_ns": emit_us * 1000 + 608})


def render_transaction(p: Posting, commit_us: Optional[int] = None) -> bytes:
    """The transactions insert of a posting; `commit_us` moves its commit time (paced runs)."""
    commit_us = p.created_us + _COMMIT_AFTER_US if commit_us is None else commit_us
    after = {"id": p.txn_id, "account_id": p.account_id, "kind": p.kind, "amount": p.amount,
             "created_at": _iso(p.created_us)}
    return _envelope(None, after, _source("transactions", commit_us, p.tx_id, p.lsn, p.prev_commit_lsn), "c",
                     commit_us + _EMIT_AFTER_US)


class _Ledger:
    """The demo ledger's bank in memory: the planner's choices applied as the database would."""

    def __init__(self, rng: random.Random, profile: Profile, interval_us: int, burst_gap_us: int):
        self.rng, self.profile = rng, profile
        self.interval_us, self.burst_gap_us = interval_us, burst_gap_us
        self.now_us = int((START - _EPOCH).total_seconds() * 1_000_000)
        self.tx_id, self.lsn, self.prev_commit_lsn = 700, 26_500_000, 26_499_000
        self.txn_id, self.customers = 0, 0
        self.balances: Dict[int, Decimal] = {}
        self.accounts: Dict[int, dict] = {}
        self.out = Dataset()

    def _commit(self) -> Tuple[int, int]:
        self.tx_id += 1
        self.prev_commit_lsn = self.lsn
        self.lsn += _WAL_PER_POSTING
        return self.tx_id, self.lsn

    def open_customers(self, n_accounts: int) -> None:
        while len(self.balances) < n_accounts:
            self.customers += 1
            plan = plan_customer(self.rng, self.customers, self.profile)
            for currency in plan.currencies[: n_accounts - len(self.balances)]:
                account_id = len(self.balances) + 1
                tx_id, lsn = self._commit()
                self.now_us += 500
                row = {"id": account_id, "customer_id": self.customers, "currency": currency, "balance": "0.00",
                       "status": "open", "opened_at": _iso(self.now_us), "updated_at": _iso(self.now_us)}
                self.accounts[account_id] = row
                self.balances[account_id] = ZERO
                key = str(account_id).encode()
                value = _envelope(None, row, _source("accounts", self.now_us + _COMMIT_AFTER_US, tx_id, lsn, lsn),
                                  "c", self.now_us + _EMIT_AFTER_US)
                self.out.accounts.append(Record(partition_of(key), key, value))
        self.out.n_accounts = len(self.balances)

    def post(self, account_id: int, kind: str, amount: Decimal) -> None:
        balance = self.balances[account_id] + (amount if kind == "deposit" else -amount)
        if balance < ZERO:
            return  # the ledger refuses an overdraft: no change is committed
        self.balances[account_id] = balance
        tx_id, lsn = self._commit()
        self.txn_id += 1
        commit_us = self.now_us + _COMMIT_AFTER_US
        before = self.accounts[account_id]
        after = {**before, "balance": format(balance, "f"), "updated_at": _iso(self.now_us)}
        self.accounts[account_id] = after
        key = str(account_id).encode()
        partition = partition_of(key)
        # The account's row is updated first, then the transaction inserted, in one database transaction.
        self.out.accounts.append(Record(partition, key, _envelope(
            before, after,
            _source("accounts", commit_us, tx_id, lsn - _TXN_AFTER_ACCOUNT_LSN, lsn - _TXN_AFTER_ACCOUNT_LSN),
            "u", commit_us + _EMIT_AFTER_US)))
        posting = Posting(self.txn_id, account_id, kind, format(amount, "f"), self.now_us, tx_id, lsn,
                          lsn - _TXN_AFTER_ACCOUNT_LSN, lsn - _TXN_AFTER_ACCOUNT_LSN)
        self.out.postings.append(posting)
        self.out.transactions.append(Record(partition, key, render_transaction(posting)))

    def run(self, n_postings: int) -> None:
        while len(self.out.postings) < n_postings:
            action = next_action(self.rng, self.balances, self.profile)
            if isinstance(action, Burst):
                self.out.bursts += 1
                for step in action.postings():  # back to back
                    if len(self.out.postings) >= n_postings:
                        break
                    self.post(step.account_id, "deposit" if isinstance(step, Deposit) else "withdrawal", step.amount)
                    self.now_us += self.burst_gap_us
            elif isinstance(action, (Deposit, Withdraw)):
                self.post(action.account_id, "deposit" if isinstance(action, Deposit) else "withdrawal", action.amount)
            # Not on round milliseconds, like real commit times.
            self.now_us += self.interval_us + (self.txn_id * 7919) % 997


def build_dataset(n_postings: int, n_accounts: int = 2000, *, seed: int = 20261122,
                  event_time_span_hours: float = 48.0, burst_probability: float = 0.01) -> Dataset:
    """`n_postings` transactions of `n_accounts` accounts spread over `event_time_span_hours` of event time.

    The default share of bursts is the demo ledger's (1% of steps); bursts are back to back (50 ms
    apart), so `rapid-large-withdrawals` fires on them, and the last five large withdrawals of an
    account often sum to 5000.00 or more, so `large-withdrawal-burst` fires too.
    """
    profile = Profile(burst_probability=burst_probability)
    interval_us = int(event_time_span_hours * 3600e6 / n_postings)
    bank = _Ledger(random.Random(seed), profile, interval_us, burst_gap_us=50_000)
    bank.open_customers(n_accounts)
    bank.run(n_postings)
    return bank.out


def expected_alert_ids(postings: Iterable[Posting], settings: RuleSettings = _DEFAULT_RULES) -> Set[str]:
    """The alert ids detection/withdrawals.py gives for these postings, per account in commit order."""
    histories: Dict[int, tuple] = {}
    alerts: Set[str] = set()
    now = datetime.now(timezone.utc)
    for p in postings:
        if p.kind != "withdrawal":
            continue
        amount = Decimal(p.amount)
        if amount < settings.large:
            continue
        w = Withdrawal(p.txn_id, p.account_id, amount, _EPOCH + timedelta(microseconds=p.created_us))
        histories[p.account_id], fired = evaluate_withdrawal(histories.get(p.account_id, ()), w, settings, now)
        alerts.update(a.alert_id for a in fired)
    return alerts


def _shape(value) -> object:
    if isinstance(value, dict):
        return [(k, _shape(v)) for k, v in value.items()]
    return type(value).__name__


def check_shape(records: Sequence[Record], sample_name: str) -> None:
    """Raise unless `records` have the captured sample's shape: same fields, order and JSON types, same key form."""
    sample = json.loads((SAMPLES_DIR / f"{sample_name}.json").read_text())
    expected = _shape(json.loads(sample["value"]))
    for record in records:
        got = _shape(orjson.loads(record.value))
        if got != expected:
            raise AssertionError(f"a generated record does not have the shape of {sample_name}:\n{got}\n!=\n{expected}")
        if not record.key.isdigit() or not sample["key"].isdigit():
            raise AssertionError(f"key {record.key!r} is not an account id as JSON number bytes like {sample['key']!r}")
