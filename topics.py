"""Every topic of the pipeline, declared once: name, partitions, key and value encoding."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "TopicSpec", "faust_topic", "PARTITIONS", "CUSTOMER_CHANGES", "ACCOUNT_CHANGES", "TRANSACTION_CHANGES",
    "CDC_TOPICS", "ACCOUNT_EVENTS", "CUSTOMER_EVENTS", "DOMAIN_EVENT_TOPICS", "WITHDRAWAL_ALERTS", "SHADOW_ALERTS",
    "BALANCE_LOW", "CUSTOMER_ACCOUNT_UPDATES", "HEARTBEATS", "topic_name",
]

#: Partitions of every topic. Tables, their changelogs and the CDC topics must agree so that
#: one account's changes and state live in the same partition; connectors/ledger-postgres.yaml
#: (topic.creation.default.partitions) says the same, and a unit test holds them together.
PARTITIONS = 4


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = PARTITIONS
    #: Faust serializer names; "raw" means the agent gets bytes and decodes them itself,
    #: so an undecodable record can be dead-lettered instead of crashing the stream.
    key_serializer: str = "raw"
    value_serializer: str = "raw"
    #: Internal topics belong to one app: their name gets the app id as prefix.
    internal: bool = False
    #: Created by the worker (with these partitions) rather than by Kafka Connect or `make up`.
    declared_by_worker: bool = False


# Debezium change topics of the ledger (topic.prefix "ledger"). Keys are the account id
# for accounts and transactions, the customer id for customers (see the connector file).
CUSTOMER_CHANGES = TopicSpec("ledger.public.customers")
ACCOUNT_CHANGES = TopicSpec("ledger.public.accounts")
TRANSACTION_CHANGES = TopicSpec("ledger.public.transactions")

CDC_TOPICS = (CUSTOMER_CHANGES, ACCOUNT_CHANGES, TRANSACTION_CHANGES)

# The ledger connector's logical decoding messages: its heartbeats (cdc/heartbeat.py), each at the WAL
# position the connector has read to. Read by every worker (agents/heartbeats.py), not by a group.
HEARTBEATS = TopicSpec("ledger.message")

# Domain events from the outbox router (connectors/ledger-outbox.yaml): key the aggregate id as
# text, value the JSON payload, headers `id` and `eventType`.
ACCOUNT_EVENTS = TopicSpec("outbox.event.account")
CUSTOMER_EVENTS = TopicSpec("outbox.event.customer")
DOMAIN_EVENT_TOPICS = (ACCOUNT_EVENTS, CUSTOMER_EVENTS)

# Derived events, Avro single-object encoded in the event envelope (schemas/), keyed by account id.
WITHDRAWAL_ALERTS = TopicSpec("alerts.withdrawals", declared_by_worker=True)
#: The alerts of shadow rules (detection/catalog.yaml, mode: shadow): never on the live topic or view.
SHADOW_ALERTS = TopicSpec("alerts.shadow", declared_by_worker=True)
BALANCE_LOW = TopicSpec("accounts.balance-low", declared_by_worker=True)

# Account updates re-keyed by customer id, feeding the customer overview (JSON).
CUSTOMER_ACCOUNT_UPDATES = TopicSpec("customer-account-updates", key_serializer="json", value_serializer="json",
                                     internal=True, declared_by_worker=True)


def topic_name(app, spec: TopicSpec) -> str:
    """The topic's name on the broker: an internal topic's has the app id as prefix."""
    return f"{app.conf.id}-{spec.name}" if spec.internal else spec.name


def faust_topic(app, spec: TopicSpec):
    """The Faust topic of a spec. Tombstones (null values) are let through: deletes matter."""
    return app.topic(
        topic_name(app, spec),
        partitions=spec.partitions,
        key_serializer=spec.key_serializer,
        value_serializer=spec.value_serializer,
        allow_empty=True,
        # Faust creates "internal" topics itself; the name is ours either way.
        internal=spec.declared_by_worker,
    )
