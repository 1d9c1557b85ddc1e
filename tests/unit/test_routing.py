"""Unit tests of views.routing.partition_of (Kafka's default partitioner) and views.params.parse_id."""

from __future__ import annotations

import json

import pytest
from faust.serializers import codecs

from topics import PARTITIONS
from views.params import BadParameter, parse_id
from views.routing import partition_of


def java_murmur2(data: bytes) -> int:
    """org.apache.kafka.common.utils.Utils.murmur2, written out with 32-bit wrap-around."""
    mask = 0xFFFFFFFF
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = data[length & ~3 :]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def kafka_default_partition(key: bytes, partitions: int) -> int:
    """DefaultPartitioner / BuiltInPartitioner for a keyed record: toPositive(murmur2(key)) % n."""
    return (java_murmur2(key) & 0x7FFFFFFF) % partitions


class ChangelogTopic:
    def prepare_key(self, key, key_serializer):
        return json.dumps(key).encode(), None


class TableStandIn:
    """The two things partition_of reads from a Faust table: its changelog topic and partitions."""

    def __init__(self, partitions: int = PARTITIONS) -> None:
        self.changelog_topic = ChangelogTopic()
        self.partitions = partitions


def test_stand_in_serialises_keys_like_faust_json_codec():
    # balance_by_account keys are ints in JSON: the stand-in must produce the same bytes.
    for key in (1, 42, 2**63 - 1):
        assert TableStandIn().changelog_topic.prepare_key(key, None)[0] == codecs.dumps("json", key)


def test_reference_murmur2_known_java_values():
    # Known values of Utils.murmur2 from the Kafka test suite (signed ints as Java prints them).
    assert java_murmur2(b"21") == (-973932308) & 0xFFFFFFFF
    assert java_murmur2(b"foobar") == (-790332482) & 0xFFFFFFFF
    assert java_murmur2(b"a-little-bit-long-string") == (-985981536) & 0xFFFFFFFF
    assert java_murmur2(b"a-little-bit-longer-string") == (-1486304829) & 0xFFFFFFFF
    assert java_murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == (-58897971) & 0xFFFFFFFF
    assert java_murmur2(b"abc") == 479470107


@pytest.mark.parametrize("key, partition", [(1, 3), (2, 0), (3, 3), (4, 1), (5, 2)])
def test_known_partitions_of_account_keys(key, partition):
    # Account 1 was seen in partition 3 of ledger.public.accounts from the real Debezium.
    assert partition_of(TableStandIn(4), key) == partition


def test_reference_partitioner_gives_the_same_known_partitions():
    assert [kafka_default_partition(str(k).encode(), 4) for k in range(1, 6)] == [3, 0, 3, 1, 2]


def test_partition_of_agrees_with_the_kafka_default_partitioner_for_keys_1_to_50():
    table = TableStandIn(4)

    ours = {key: partition_of(table, key) for key in range(1, 51)}
    kafka = {key: kafka_default_partition(str(key).encode(), 4) for key in range(1, 51)}

    assert ours == kafka
    assert set(ours.values()) == {0, 1, 2, 3}


@pytest.mark.parametrize("key", [123, 1234, 12345, 1234567, 2**31, 2**63 - 1])
@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_partition_of_longer_keys_and_other_partition_counts(key, partitions):
    # Keys of 3..19 bytes go through murmur2's 4-byte loop and each tail length.
    assert partition_of(TableStandIn(partitions), key) == kafka_default_partition(str(key).encode(), partitions)


# --------------------------------------------------------------------------- parse_id


@pytest.mark.parametrize("raw, expected", [("1", 1), ("42", 42), ("9223372036854775807", 2**63 - 1)])
def test_parse_id_accepts_positive_64_bit_ids(raw, expected):
    assert parse_id(raw, "account_id") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "9223372036854775808",  # 2**63: past bigserial
        "99999999999999999999",  # 20 digits
        "0",
        "-1",
        "+1",
        "abc",
        "1.0",
        " 1",
        "1e3",
        "１",  # fullwidth digit one: isdigit() but not ASCII
        "١",  # Arabic-Indic digit one
        "",
    ],
)
def test_parse_id_rejects_anything_else_with_400(raw):
    with pytest.raises(BadParameter) as excinfo:
        parse_id(raw, "account_id")

    assert excinfo.value.code == 400
    assert "account_id" in excinfo.value.detail
    assert excinfo.value.extra_context == {"parameter": "account_id"}
