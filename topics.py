"""Every topic of the pipeline, declared once: name, partitions, key and value encoding."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TopicSpec", "faust_topic", "PARTITIONS", "CUSTOMER_CHANGES", "ACCOUNT_CHANGES", "TRANSACTION_CHANGES", "CDC_TOPICS"]

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


# Debezium change topics of the ledger (topic.prefix "ledger"). Keys are the account id
# for accounts and transactions, the customer id for customers (see the connector file).
CUSTOMER_CHANGES = TopicSpec("ledger.public.customers")
ACCOUNT_CHANGES = TopicSpec("ledger.public.accounts")
TRANSACTION_CHANGES = TopicSpec("ledger.public.transactions")

CDC_TOPICS = (CUSTOMER_CHANGES, ACCOUNT_CHANGES, TRANSACTION_CHANGES)


def faust_topic(app, spec: TopicSpec):
    """The Faust topic of a spec. Tombstones (null values) are let through: deletes matter."""
    return app.topic(
        spec.name,
        partitions=spec.partitions,
        key_serializer=spec.key_serializer,
        value_serializer=spec.value_serializer,
        allow_empty=True,
    )
