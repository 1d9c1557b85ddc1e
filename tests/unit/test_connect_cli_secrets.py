"""Unit tests of what the connector CLI may show: secret keys, masking, references, config diffs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.connectors.diffing import diff_configs
from ops.connectors.secrets import (
    MASK,
    Scrubber,
    is_secret_key,
    mask_value,
    references,
    secret_values,
    unknown_references,
)


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


# --------------------------------------------------------------------------- keys and passwords once missed

from dev.demo_ledger.connection import redact  # noqa: E402
from ops.connectors.secrets import mask_passwords  # noqa: E402


@pytest.mark.parametrize("key", ["ssl.keystore.key", "ssl.key", "ssl.truststore.key", "signing.key",
                                 "sasl.client.secret", "database.sslpassword", "private.key.file.password"])
def test_keys_that_hold_a_key_or_a_password_are_secret(key):
    assert is_secret_key(key)
    assert mask_value(key, "-----BEGIN PRIVATE KEY-----abc") == "****"


@pytest.mark.parametrize("key", ["transforms.outbox.table.field.event.key", "message.key.columns", "key.converter",
                                 "transforms.idKey.field", "ssl.keystore.type", "ssl.keystore.certificate.chain"])
def test_record_keys_and_certificates_are_not(key):
    assert not is_secret_key(key)


@pytest.mark.parametrize("value, masked", [
    ("jdbc:postgresql://db:5432/ledger?user=u&password=s3cr3t&ssl=true",
     "jdbc:postgresql://db:5432/ledger?user=u&password=****&ssl=true"),
    ("jdbc:postgresql://db/ledger?password=s3cr3t", "jdbc:postgresql://db/ledger?password=****"),
    ("postgresql://db/ledger?sslpassword=s3cr3t&sslmode=verify-full",
     "postgresql://db/ledger?sslpassword=****&sslmode=verify-full"),
    ("jdbc:sqlserver://db;user=u;password=s3cr3t;encrypt=true",
     "jdbc:sqlserver://db;user=u;password=****;encrypt=true"),
    ("host=db port=5432 user=u password=s3cr3t dbname=ledger", "host=db port=5432 user=u password=**** dbname=ledger"),
    ("host=db password = 's3 cr\\'3t' dbname=ledger", "host=db password = **** dbname=ledger"),
    ("postgresql://u:s3cr3t@db/ledger", "postgresql://u:****@db/ledger"),
])
def test_passwords_in_urls_and_libpq_keyword_strings_are_masked(value, masked):
    assert mask_value("connection.url", value) == masked
    assert "s3" not in Scrubber()(f"connect failed: {value}")


def test_references_in_password_parameters_are_kept():
    assert mask_passwords("jdbc:postgresql://db/ledger?password=${env:LEDGER_DB_PASSWORD}") \
        == "jdbc:postgresql://db/ledger?password=${env:LEDGER_DB_PASSWORD}"


@pytest.mark.parametrize("url", ["postgresql://u:s3cr3t@db/ledger?sslpassword=s3cr3t",
                                 "host=db user=u password=s3cr3t dbname=ledger",
                                 "postgresql://db/ledger?password=s3cr3t"])
def test_the_stack_and_the_demo_ledger_print_no_password_of_a_database_url(url):
    assert "s3cr3t" not in redact(url)
