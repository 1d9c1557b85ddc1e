"""Unit tests of the envelope API and its Faust codec: wrap, encode, decode across MoneyWithdrawn v1 and v2."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from faust.exceptions import ValueDecodeError
from faust.serializers import codecs
from faust.serializers.registry import Registry

from schemas.catalog import default_catalog
from schemas.codec.envelope import DecodedEvent, decode_envelope, encode_envelope, wrap
from schemas.codec.errors import AvroDecodeError, AvroEncodeError
from schemas.codec.faust_codec import CODEC_NAME, EnvelopeCodec, register_codecs
from schemas.codec.single_object import encode_single_object
from schemas.records import (
    Envelope,
    MoneyDepositedV1,
    MoneyWithdrawnV1,
    MoneyWithdrawnV2,
    WithdrawalAlertV1,
)

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
ID1 = UUID("00000000-0000-4000-8000-000000000001")
ID2 = UUID("00000000-0000-4000-8000-000000000002")

WITHDRAWN_V1 = MoneyWithdrawnV1(account_id=7, transaction_id=123, amount="250.00", balance_after="50.00",
                                currency="EUR")
WITHDRAWN_V2 = MoneyWithdrawnV2(account_id=7, transaction_id=124, amount="250.00", balance_after="50.00",
                                currency="EUR", channel="atm")
ALERT = WithdrawalAlertV1(
    alert_id="rapid-large-withdrawals:124", rule="rapid-large-withdrawals", account_id=7, trigger_txn_id=124,
    count=3, total="750.00", window_start=T0 - timedelta(minutes=2), window_end=T0, txn_ids=[122, 123, 124],
    detected_at=T0,
)


def withdrawal(record=WITHDRAWN_V1, version=1, **kwargs) -> Envelope:
    options = dict(source="ledger.outbox", partition_key="7", event_id=ID1, recorded_at=T0)
    return wrap(record, "MoneyWithdrawn", version, **{**options, **kwargs})


def vars_of(record) -> dict:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


# --------------------------------------------------------------------------- wrap


def test_wrap_is_deterministic_given_ids_and_times():
    assert encode_envelope(withdrawal()) == encode_envelope(withdrawal())
    first = withdrawal()
    assert (first.event_id, first.recorded_at, first.occurred_at) == (ID1, T0, T0)
    assert (first.event_type, first.event_version, first.source, first.partition_key) == (
        "MoneyWithdrawn", 1, "ledger.outbox", "7")


def test_wrap_defaults_to_a_new_id_now_and_occurred_equals_recorded():
    before = datetime.now(timezone.utc)
    a = wrap(WITHDRAWN_V1, "MoneyWithdrawn", 1, source="s", partition_key="7")
    b = wrap(WITHDRAWN_V1, "MoneyWithdrawn", 1, source="s", partition_key="7")
    assert a.event_id != b.event_id and a.event_id.version == 4
    assert before <= a.recorded_at <= datetime.now(timezone.utc) and a.occurred_at == a.recorded_at


def test_a_first_cause_correlates_by_its_own_id_and_effects_carry_cause_and_correlation():
    cause = withdrawal()
    assert cause.correlation_id == str(ID1) and cause.causation_id is None
    effect = wrap(ALERT, "WithdrawalAlert", 1, source="ledgerstream.fraud", partition_key="7", caused_by=cause,
                  event_id=ID2, occurred_at=T0 - timedelta(seconds=1), recorded_at=T0)
    assert effect.correlation_id == cause.correlation_id and effect.causation_id == cause.event_id
    assert effect.occurred_at == T0 - timedelta(seconds=1)
    later = wrap(ALERT, "WithdrawalAlert", 1, source="s", partition_key="7", caused_by=effect)
    assert later.correlation_id == str(ID1) and later.causation_id == ID2


def test_an_explicit_correlation_id_is_used_and_may_not_contradict_the_cause():
    assert withdrawal(correlation_id="request-42").correlation_id == "request-42"
    cause = withdrawal(correlation_id="request-42")
    assert withdrawal(caused_by=cause, correlation_id="request-42").correlation_id == "request-42"
    with pytest.raises(ValueError, match="contradicts the cause's 'request-42'"):
        withdrawal(caused_by=cause, correlation_id="other")


def test_wrap_refuses_a_record_of_another_event_an_unknown_version_and_a_payload_that_does_not_fit():
    with pytest.raises(ValueError, match="a MoneyWithdrawnV1 is MoneyWithdrawn v1, not MoneyWithdrawn v2"):
        withdrawal(WITHDRAWN_V1, 2)
    with pytest.raises(LookupError, match="no schema MoneyWithdrawn v9"):
        withdrawal({}, 9)
    with pytest.raises(AvroEncodeError, match="MoneyWithdrawn v1: amount: expected string, got float 250.0"):
        withdrawal(dataclasses.replace(WITHDRAWN_V1, amount=250.0))
    with pytest.raises(AvroEncodeError, match="occurred_at: 2026-03-01T00:00:00 has no timezone"):
        encode_envelope(withdrawal(occurred_at=datetime(2026, 3, 1)))


def test_a_dict_payload_is_wrapped_like_its_record():
    as_dict = {name: getattr(WITHDRAWN_V1, name) for name in WITHDRAWN_V1.__dataclass_fields__}
    assert withdrawal(as_dict) == withdrawal()


# --------------------------------------------------------------------------- decode


def test_an_envelope_round_trips_with_its_payload_record():
    envelope = withdrawal()
    assert decode_envelope(encode_envelope(envelope), {"MoneyWithdrawn": 1}) == DecodedEvent(envelope, WITHDRAWN_V1)


def test_v1_writer_v2_reader_fills_the_new_field_with_its_default():
    event = decode_envelope(encode_envelope(withdrawal(WITHDRAWN_V1, 1)), {"MoneyWithdrawn": 2})
    assert event.envelope.event_version == 1
    assert event.payload == MoneyWithdrawnV2(**{**vars_of(WITHDRAWN_V1), "channel": "branch"})


def test_v2_writer_v1_reader_skips_the_field_it_does_not_know():
    event = decode_envelope(encode_envelope(withdrawal(WITHDRAWN_V2, 2)), {"MoneyWithdrawn": 1})
    assert event.envelope.event_version == 2
    assert event.payload == MoneyWithdrawnV1(**{k: v for k, v in vars_of(WITHDRAWN_V2).items() if k != "channel"})


def test_v2_writer_v2_reader_keeps_the_channel_and_the_newest_version_is_the_default_reader():
    assert decode_envelope(encode_envelope(withdrawal(WITHDRAWN_V2, 2))).payload == WITHDRAWN_V2
    assert isinstance(decode_envelope(encode_envelope(withdrawal())).payload, MoneyWithdrawnV2)


def test_a_payload_that_contradicts_its_envelope_is_a_decode_error():
    deposit = MoneyDepositedV1(**vars_of(WITHDRAWN_V1))
    deposited = encode_single_object(deposit, default_catalog().get("MoneyDeposited", 1))
    forged = dataclasses.replace(withdrawal(), payload=deposited)
    with pytest.raises(AvroDecodeError, match=f"payload of event {ID1}: the envelope says MoneyWithdrawn v1 but its"
                                              " payload was written with MoneyDeposited v1"):
        decode_envelope(encode_envelope(forged))


def test_a_corrupt_payload_inside_a_sound_envelope_is_a_decode_error_naming_the_event():
    broken = dataclasses.replace(withdrawal(), payload=withdrawal().payload[:-3])
    with pytest.raises(AvroDecodeError, match=f"payload of event {ID1}: MoneyWithdrawn v1 body is corrupt"):
        decode_envelope(encode_envelope(broken))


def test_a_bare_payload_is_not_an_envelope():
    with pytest.raises(AvroDecodeError, match="written as MoneyWithdrawn v1, but Envelope was expected"):
        decode_envelope(withdrawal().payload)


def test_unknown_fingerprint_missing_marker_and_truncation_are_decode_errors():
    encoded = encode_envelope(withdrawal())
    with pytest.raises(AvroDecodeError, match="unknown writer schema fingerprint 0000000000000000"):
        decode_envelope(encoded[:2] + bytes(8) + encoded[10:])
    with pytest.raises(AvroDecodeError, match="not the marker c3 01"):
        decode_envelope(b"\x00" + encoded[1:])
    with pytest.raises(AvroDecodeError, match="Envelope v1 body is corrupt or truncated"):
        decode_envelope(encoded[:-1])


def test_a_reader_version_that_does_not_exist_is_the_consumers_bug_not_the_records():
    with pytest.raises(LookupError, match="no schema MoneyWithdrawn v3"):
        decode_envelope(encode_envelope(withdrawal()), {"MoneyWithdrawn": 3})


# --------------------------------------------------------------------------- Faust codec


@pytest.fixture
def registered():
    """The codec registered for one test, and Faust's registry as it was afterwards."""
    saved = dict(codecs.codecs)
    register_codecs()
    yield codecs.codecs[CODEC_NAME]
    codecs.codecs.clear()
    codecs.codecs.update(saved)


def test_topics_can_name_the_codec_once_registered(registered):
    envelope = withdrawal(WITHDRAWN_V2, 2)
    registry = Registry()
    data = registry.dumps_value(None, envelope, serializer=CODEC_NAME)
    assert data == encode_envelope(envelope)
    assert registry.loads_value(None, data, serializer=CODEC_NAME) == DecodedEvent(envelope, WITHDRAWN_V2)
    assert codecs.dumps(CODEC_NAME, DecodedEvent(envelope, WITHDRAWN_V2)) == data


def test_faust_reports_an_undecodable_record_with_the_decode_error_as_cause(registered):
    with pytest.raises(ValueDecodeError, match="not the marker c3 01") as caught:
        Registry().loads_value(None, b'{"json": 1}', serializer=CODEC_NAME)
    assert isinstance(caught.value.__cause__, AvroDecodeError)


def test_the_codec_reads_with_its_reader_versions_and_encodes_only_envelopes():
    codec = EnvelopeCodec(reader_versions={"MoneyWithdrawn": 1})
    assert codec.loads(encode_envelope(withdrawal(WITHDRAWN_V2, 2))).payload == MoneyWithdrawnV1(
        **{k: v for k, v in vars_of(WITHDRAWN_V2).items() if k != "channel"})
    assert codec.clone().kwargs == {"reader_versions": {"MoneyWithdrawn": 1}}
    with pytest.raises(TypeError, match="encodes an Envelope"):
        codec.dumps({"account_id": 7})


def test_registering_with_a_reader_version_that_does_not_exist_fails_at_once():
    with pytest.raises(LookupError, match="no schema MoneyWithdrawn v5"):
        register_codecs({"MoneyWithdrawn": 5})


def test_importing_the_app_and_the_codec_module_registers_nothing():
    script = (
        "import app, schemas.codec.faust_codec as f; from faust.serializers import codecs;"
        " print(f.CODEC_NAME in codecs.codecs)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
