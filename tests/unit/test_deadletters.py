"""Unit tests of dead letters: the headers the agents write, replay headers, size limits, the command line."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from ops.deadletters.cli import UsageError, _choose, build_parser, main
from ops.deadletters.kafka import dlq_names
from ops.deadletters.letters import (
    RECORD_OVERHEAD,
    DeadLetter,
    Position,
    dead_letter_headers,
    fit_record,
    parse_position,
    replay_headers,
    source_topic_name,
)


def letter(headers, *, topic="ledger.public.accounts.dlq", partition=2, offset=17, key=b"42", value=b"{bad"):
    record = SimpleNamespace(topic=topic, partition=partition, offset=offset, key=key, value=value, headers=headers)
    return DeadLetter.from_record(record)


def written(original=(), error=None, **kw):
    args = dict(topic="ledger.public.accounts", partition=2, offset=123, agent="project_account_balances",
                now_ms=1_700_000_000_000)
    args.update(kw)
    return dead_letter_headers(list(original), error or ValueError("value is not valid JSON"), **args)


def test_the_headers_say_what_went_wrong_and_where_after_the_records_own():
    headers = written([("id", b"e-1"), ("eventType", b"MoneyDeposited")])

    assert headers == [
        ("id", b"e-1"), ("eventType", b"MoneyDeposited"),
        ("dlq.error.class", b"ValueError"), ("dlq.error.reason", b"value is not valid JSON"),
        ("dlq.source.topic", b"ledger.public.accounts"), ("dlq.source.partition", b"2"),
        ("dlq.source.offset", b"123"), ("dlq.agent", b"project_account_balances"),
        ("dlq.timestamp_ms", b"1700000000000"),
    ]


def test_dead_letter_headers_already_on_the_record_are_not_repeated():
    headers = written([("dlq.agent", b"someone else"), ("trace", None)])

    assert [name for name, _ in headers].count("dlq.agent") == 1
    assert ("trace", b"") in headers


def test_a_long_reason_is_cut_and_a_non_utf8_one_kept_readable():
    headers = dict(written(error=ValueError("x" * 10_000)))
    assert len(headers["dlq.error.reason"]) == 4000
    headers = dict(written(error=ValueError("\udcff broken")))
    assert headers["dlq.error.reason"] == b"? broken"


def test_a_letter_reads_back_what_the_agent_wrote():
    dead = letter(written([("id", b"e-1")]))

    assert dead.position == "ledger.public.accounts.dlq/2@17"
    assert dead.source_position == "ledger.public.accounts/2@123"
    assert (dead.agent, dead.error_class, dead.reason) == ("project_account_balances", "ValueError",
                                                          "value is not valid JSON")
    assert dead.dead_lettered_at.isoformat() == "2023-11-14T22:13:20+00:00"
    assert dead.line() == ("ledger.public.accounts.dlq/2@17  from ledger.public.accounts/2@123  "
                           "project_account_balances  ValueError: value is not valid JSON")
    assert dead.as_json() == {
        "dlq_topic": "ledger.public.accounts.dlq", "dlq_partition": 2, "dlq_offset": 17,
        "source_topic": "ledger.public.accounts", "source_partition": 2, "source_offset": 123,
        "agent": "project_account_balances", "error_class": "ValueError", "reason": "value is not valid JSON",
        "dead_lettered_at": "2023-11-14T22:13:20+00:00", "key": "42", "value_bytes": 4, "omitted": None,
    }


def test_a_letter_without_headers_still_reads():
    dead = letter(None, key=b"\xff", value=None)

    assert dead.source_topic == "ledger.public.accounts"
    assert dead.source_position == "ledger.public.accounts/?@?"
    assert dead.line().endswith("?  ?: ")
    assert dead.as_json()["key"] == "base64:/w=="


def test_a_multi_line_reason_is_one_line():
    dead = letter(written(error=ValueError("first\nsecond\n  third")))
    assert dead.line().endswith("ValueError: first second third")


def test_a_replay_carries_the_records_own_headers_and_says_where_it_came_from():
    dead = letter(written([("id", b"e-1"), ("replayed-from", b"an earlier letter")]))

    assert replay_headers(dead) == [("id", b"e-1"), ("replayed-from", b"ledger.public.accounts.dlq/2@17")]


def test_a_record_within_the_limit_is_kept_whole():
    headers = written()
    assert fit_record(b"k", b"v" * 1000, headers, 1_000_000) == (b"k", b"v" * 1000, headers)


def test_a_record_over_the_limit_loses_its_value_and_says_so():
    headers = written()
    key, value, fitted = fit_record(b"42", b"v" * 1_200_000, headers, 1_000_000)

    assert (key, value) == (b"42", None)
    assert fitted[:-1] == headers
    assert fitted[-1] == ("dlq.omitted", b"value (1200000 bytes) left out: over the producer's limit of "
                                         b"1000000 bytes per record")
    assert letter(fitted, value=None).omitted.startswith("value (1200000 bytes) left out")


def test_a_key_over_the_limit_goes_too():
    key, value, fitted = fit_record(b"k" * 2000, b"v", [], 1000 + RECORD_OVERHEAD)
    assert (key, value) == (None, None)
    assert dict(fitted)["dlq.omitted"].startswith(b"value (1 bytes) and key (2000 bytes) left out")


@pytest.mark.parametrize("text, expected", [("17", Position(None, 17)), ("2@17", Position(2, 17)),
                                            (" 0@0 ", Position(0, 0))])
def test_positions_parse(text, expected):
    assert parse_position(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "2@", "@3", "a@1", "1:2", "1.5"])
def test_a_bad_position_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="PARTITION@OFFSET"):
        parse_position(text)


def test_topic_names():
    assert source_topic_name("ledger.public.accounts.dlq") == "ledger.public.accounts"
    assert dlq_names(["a", "a.dlq", "b.dlq", "a"]) == ["a.dlq", "b.dlq"]


def test_choosing_letters_by_position():
    letters = [letter([], partition=0, offset=0), letter([], partition=2, offset=0), letter([], partition=2, offset=1)]

    assert _choose(letters, [Position(None, 1), Position(2, 0), Position(2, 1)], "t.dlq") == letters[2:0:-1]
    with pytest.raises(UsageError, match=r"Offset 0 is in partitions 0 and 2 of t.dlq; .* --offset 0@0"):
        _choose(letters, [Position(None, 0)], "t.dlq")
    with pytest.raises(UsageError, match="t.dlq has no dead letter at offset 1@0"):
        _choose(letters, [Position(1, 0)], "t.dlq")


def test_replay_wants_offsets_or_all_not_both(capsys):
    parser = build_parser()
    assert parser.parse_args(["replay", "t.dlq", "--offset", "1", "--offset", "2@3"]).offsets == [
        Position(None, 1), Position(2, 3)]
    for argv in (["replay", "t.dlq"], ["replay", "t.dlq", "--all", "--offset", "1"],
                 ["replay", "t.dlq", "--offset", "x"]):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 2


def test_a_malformed_setting_is_one_sentence(monkeypatch):
    import settings

    monkeypatch.setattr(settings, "_loaded", None)
    monkeypatch.setenv("WEB_PORT", "six")
    err = io.StringIO()

    assert main(["list"], out=io.StringIO(), err=err) == 2
    assert err.getvalue() == "error: WEB_PORT='six' is not a number; set WEB_PORT to a number or unset it.\n"


# --------------------------------------------------------------------------- where a replay may send, what list prints

from ops.deadletters.cli import _refuse_foreign_letters, _replay_target  # noqa: E402
from ops.deadletters.letters import foreign_source_reason, printable, protected_topic_reason  # noqa: E402


@pytest.mark.parametrize("topic", ["ledgerstream-accounts-changelog", "ledgerstream-customer-account-updates",
                                   "alerts.withdrawals", "alerts.shadow", "accounts.balance-low", "_connect-offsets",
                                   "ledgerstream-connect-configs", "__consumer_offsets", "x-repartition", "y.dlq"])
def test_topics_the_worker_or_connect_own_are_protected(topic):
    assert protected_topic_reason(topic) is not None


@pytest.mark.parametrize("topic", ["ledger.public.accounts", "ledger.public.transactions", "outbox.event.customer",
                                   "replay-test-1234"])
def test_the_pipelines_source_topics_are_not(topic):
    assert protected_topic_reason(topic) is None


def test_a_replay_goes_to_the_dlqs_own_source_topic_unless_another_is_named():
    assert _replay_target("ledger.public.accounts.dlq", None) == "ledger.public.accounts"
    assert _replay_target("ledger.public.accounts.dlq", "elsewhere") == "elsewhere"


def test_a_dlq_of_a_changelog_replays_only_when_the_changelog_is_named():
    with pytest.raises(UsageError) as refused:
        _replay_target("ledgerstream-accounts-changelog.dlq", None)
    assert str(refused.value) == ("ledgerstream-accounts-changelog is a table's changelog, which a replay writes to "
                                  "only when named; add --to ledgerstream-accounts-changelog if that is really meant.")
    assert _replay_target("ledgerstream-accounts-changelog.dlq", "ledgerstream-accounts-changelog") \
        == "ledgerstream-accounts-changelog"


def test_a_letter_whose_headers_name_another_source_is_refused():
    forged = letter(written(topic="ledgerstream-accounts-changelog"))
    own = letter(written())
    assert foreign_source_reason(own, "ledger.public.accounts") is None
    assert foreign_source_reason(forged, "ledger.public.accounts") == \
        "its headers name 'ledgerstream-accounts-changelog' as its source"
    with pytest.raises(UsageError, match=r"^The dead letter ledger\.public\.accounts\.dlq/2@17 is refused: its headers "
                                         r"name 'ledgerstream-accounts-changelog' as its source, not "
                                         r"ledger\.public\.accounts; nothing was sent"):
        _refuse_foreign_letters([own, forged], "ledger.public.accounts")


def test_a_line_carries_no_terminal_control_character():
    evil = letter(written(error=ValueError("bad\x1b]0;owned\x07 \x1b[2J\r\x9b31m"), agent="a\x1b[8m"))
    line = evil.line()
    assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f for ch in line), repr(line)
    assert "\\x1b]0;owned\\x07" in line and "a\\x1b[8m" in line


def test_printable_keeps_ordinary_text():
    assert printable("ledger.public.accounts.dlq/2@17  ß € ✓") == "ledger.public.accounts.dlq/2@17  ß € ✓"


def test_list_takes_a_limit_of_at_least_one():
    parser = build_parser()
    assert parser.parse_args(["list", "--limit", "5"]).limit == 5
    assert parser.parse_args(["list"]).limit is None
    for bad in ("0", "-1", "x"):
        with pytest.raises(SystemExit):
            parser.parse_args(["list", "--limit", bad])
