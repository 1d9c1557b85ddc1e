"""The customer overview: customer changes and account updates re-keyed by customer."""

from __future__ import annotations

from faust.exceptions import DecodeError as FaustDecodeError

from app import app
from cdc.changes import Change, DecodeError
from engine.batching import PartitionBatch
from engine.positions import Position
from projections.customers import apply_customer_change, customer_key, fold_account_update, marker_position
from projections.keys import check_key_is_row_id
from tables.customers import customer_account_page_of, customer_account_pages, customer_summary
from topics import ACCOUNT_CHANGES, CUSTOMER_ACCOUNT_UPDATES, CUSTOMER_CHANGES, faust_topic

from .dead_letters import dead_letter_message
from .decoding import decoded_changes

__all__ = ["project_customers", "fold_account_updates_into_customers", "customer_account_updates"]

customer_changes = faust_topic(app, CUSTOMER_CHANGES)
customer_account_updates = faust_topic(app, CUSTOMER_ACCOUNT_UPDATES)

# Both agents are batch agents (batching/): they share customer_summary's cached rows of a
# partition, and nothing else may write the customer tables (domain events reach them through
# customer_account_updates).


@app.batch_agent(customer_changes)
async def project_customers(batch: PartitionBatch) -> None:
    """Input ledger.public.customers, keyed by customer id; writes customer_summary.

    Undecodable records go to ledger.public.customers.dlq.
    """
    overviews = batch.rows(customer_summary)

    def apply(change: Change):
        key = customer_key(change.key)
        row = apply_customer_change(overviews.get(key), change)
        check_key_is_row_id(change, key, "customers")  # after the row's own checks
        return key, row

    async for _, (key, row) in decoded_changes(batch, apply, agent="project_customers"):
        if row is not None:
            overviews[key] = row
        elif overviews.get(key) is not None:
            del overviews[key]


@app.batch_agent(customer_account_updates)
async def fold_account_updates_into_customers(batch: PartitionBatch) -> None:
    """Input <app>-customer-account-updates (sent by project_account_balances and the domain event
    handlers), keyed by customer id.

    Writes the account's balance and status into its page (customer_account_pages, found through
    customer_account_page_of) and the customer's totals, or the customer's latest activity, into
    customer_summary. Position markers (agents/position_markers.py) tell app.source_positions how far
    the updates of each accounts partition have been folded here. Our own agents write this topic; an
    update they got wrong goes to
    <app>-customer-account-updates.dlq rather than stopping the agent.
    """
    overviews = batch.rows(customer_summary)
    pages = batch.rows(customer_account_pages)
    page_of = batch.rows(customer_account_page_of)
    serializers = app.serializers
    for record in batch.records:
        try:
            # Decoded as Faust decodes this topic (topics.CUSTOMER_ACCOUNT_UPDATES: JSON key and value).
            update = serializers.loads_value(None, record.value,
                                             serializer=CUSTOMER_ACCOUNT_UPDATES.value_serializer)
            if update.get("kind") == "position":
                # Every update sent before it from that accounts partition was folded above (offset order).
                source, lsn, ts_ms = marker_position(update)
                app.source_positions.relay(batch.tp, source, Position(lsn, ts_ms), sources=ACCOUNT_CHANGES.partitions)
                continue
            customer_id = serializers.loads_key(None, record.key, serializer=CUSTOMER_ACCOUNT_UPDATES.key_serializer)
            if update.get("customer_id") != customer_id:
                raise ValueError(f"update of customer {update.get('customer_id')!r} keyed {customer_id!r}")
            fold_account_update(overviews, pages, page_of, update)
        except (FaustDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            await dead_letter_message(batch.message(record),
                                      DecodeError(f"malformed account update ({type(exc).__name__}: {exc})"),
                                      agent="fold_account_updates_into_customers")
            continue
