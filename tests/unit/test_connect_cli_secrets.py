"""Unit tests of what the connector CLI may show: secret keys, masking, references, config diffs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.connectors.diffing import diff_configs
from ops.connectors.secrets import MASK, Scrubber, is_secret_key, mask_value, references, secret_values, unknown_references


@pytest.mark.parametrize("key", [
    "database.password", "database.sslpassword", "ssl.key.password", "ssl.keystore.password", "sasl.jaas.config",
    "basic.auth.user.info", "schema.registry.basic.auth.user.info", "client.secret", "aws.secret.access.key",
    "api.key", "auth.token", "producer.override.sasl.jaas.config", "PASSWORD",
])
def test_keys_that_hold_secrets(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "database.user", "database.hostname", "key.converter", "message.key.columns", "tasks.max", "slot.name",
    "transforms.outbox.table.field.event.key", "database.sslkey",
])
def test_keys_that_do_not(key):
    assert not is_secret_key(key)


def test_a_literal_secret_is_masked_and_a_reference_is_shown():
    assert mask_value("database.password", "hunter22") == MASK
    assert mask_value("database.password", "${env:LEDGER_DB_PASSWORD}") == "${env:LEDGER_DB_PASSWORD}"
    assert mask_value("database.password", " ${file:/run/secrets/db.properties:password} ") \
        == " ${file:/run/secrets/db.properties:password} "
    assert mask_value("database.user", "ledger") == "ledger"


def test_a_secret_value_mixing_text_and_a_reference_is_masked():
    jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="${env:PW}";'

    assert mask_value("sasl.jaas.config", jaas) == MASK


def test_a_password_inside_a_url_is_masked_in_any_key():
    assert mask_value("connection.url", "jdbc:postgresql://ledger:s3cret@db:5432/ledger") \
        == "jdbc:postgresql://ledger:****@db:5432/ledger"
    with_reference = "postgresql://ledger:${env:PW}@db/ledger"
    assert mask_value("connection.url", with_reference) == with_reference
    assert mask_value("connection.url", "http://db:5432/ledger") == "http://db:5432/ledger"


def test_references_are_found_and_placeholders_without_a_colon_are_not():
    config = {
        "database.password": "${env:LEDGER_DB_PASSWORD}",
        "database.user": "${file:/run/secrets/db.properties:user}",
        "transforms.outbox.route.topic.replacement": "outbox.event.${routedByValue}",
    }

    found = [(r.key, r.provider, r.path, r.name) for r in references(config)]

    assert found == [("database.password", "env", None, "LEDGER_DB_PASSWORD"),
                     ("database.user", "file", "/run/secrets/db.properties", "user")]


def test_unknown_references_name_the_reason_without_reading_values_out(tmp_path: Path):
    secrets_file = tmp_path / "db.properties"
    secrets_file.write_text("# db\nuser=ledger\npassword = s3cret\n")
    config = {
        "a": "${env:SET}", "b": "${env:UNSET}", "c": f"${{file:{secrets_file}:password}}",
        "d": f"${{file:{secrets_file}:nope}}", "e": f"${{file:{tmp_path / 'absent'}:k}}", "f": "${vault:x:y}",
    }

    unknown = {ref.key: reason for ref, reason in unknown_references(references(config), {"SET": ""}).items()}

    assert set(unknown) == {"b", "d", "e", "f"}
    assert unknown["b"] == "UNSET is not set"
    assert unknown["d"].endswith("has no key nope")
    assert "cannot be read" in unknown["e"]
    assert "vault" in unknown["f"]
    assert not any("s3cret" in reason for reason in unknown.values())


def test_secret_values_are_the_literal_ones():
    assert secret_values({"database.password": "x1y2", "api.key": "${env:K}", "database.user": "u"}) == ["x1y2"]


def test_the_scrubber_masks_known_values_and_url_passwords_in_any_text():
    scrub = Scrubber(["hunter22"]).add(["other-secret", None, ""])

    assert scrub("Invalid value hunter22 and other-secret at postgresql://u:pw@h/db") \
        == f"Invalid value {MASK} and {MASK} at postgresql://u:{MASK}@h/db"


# --------------------------------------------------------------------------- diffing


def test_diff_ignores_the_name_that_connect_adds():
    assert not diff_configs("a", {"k": "v"}, {"k": "v", "name": "a"}).differs


def test_diff_per_key():
    result = diff_configs("a", {"same": "1", "changed": "new", "added": "x"},
                          {"same": "1", "changed": "old", "removed": "y"})

    assert [(c.key, c.kind) for c in result.changes] == [
        ("added", "added"), ("changed", "changed"), ("removed", "removed")]
    assert result.render() == ["a: 3 differences", "  + added: x", "  ~ changed: old -> new", "  - removed: y"]


def test_diff_of_an_absent_connector_lists_every_key_as_added():
    result = diff_configs("a", {"k": "v"}, None)

    assert result.differs and not result.exists
    assert [c.render() for c in result.changes] == ["+ k: v"]
