"""agents/customers.py in process: customer changes and account updates (re-keyed by customer) folded
into customer_summary and the account pages; bad records dead-lettered.

The rows' shapes are asserted in one test only, through the projection functions
(projections/customers.py), so a change of the shape changes one place.
"""

from __future__ import annotations

from cdc.decode import decode_change
from projections.customers import apply_customer_change, fold_account_update
from tables.customers import customer_account_page_of, customer_account_pages, customer_summary
from topics import ACCOUNT_CHANGES, CUSTOMER_ACCOUNT_UPDATES, CUSTOMER_CHANGES

CUSTOMERS = CUSTOMER_CHANGES.name


def _updates_topic(driver) -> str:
    return f"{driver.app.conf.id}-{CUSTOMER_ACCOUNT_UPDATES.name}"


def test_the_overview_row_is_the_customer_change_and_account_updates_folded_by_the_projections(driver, changes):
    customer = changes.insert("customers", changes.customer(2, name="Ada Lovelace", email="ada@example.org"))
    account = changes.account(4, customer_id=2, balance="12.50")
    driver.pipe(CUSTOMERS, *customer)
    driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", account))
    driver.run()

    (update,) = [record.json() for record in driver.sent(_updates_topic(driver))]
    summaries = {2: apply_customer_change(None, decode_change(*customer[:2]))}
    pages: dict = {}
    page_of: dict = {}
    fold_account_update(summaries, pages, page_of, update)
    assert driver.rows(customer_summary) == summaries
    assert driver.rows(customer_account_pages) == pages
    assert driver.rows(customer_account_page_of) == page_of


def test_a_deleted_customer_loses_its_row(driver, changes):
    row = changes.customer(3, name="Grace Hopper")
    driver.pipe(CUSTOMERS, *changes.insert("customers", row))
    driver.run()
    assert 3 in driver.rows(customer_summary)
    driver.pipe(CUSTOMERS, *changes.delete("customers", row))
    driver.pipe(CUSTOMERS, *changes.tombstone(3))
    driver.run()
    assert 3 not in driver.rows(customer_summary)
    assert driver.dead_letters(CUSTOMERS) == []


def test_both_agents_share_the_partitions_cached_rows(driver, changes):
    # The customer row and the account update reach the same cached row in one round, before any flush.
    driver.pipe(CUSTOMERS, *changes.insert("customers", changes.customer(5, name="Emmy Noether")))
    driver.pipe(ACCOUNT_CHANGES.name, *changes.insert("accounts", changes.account(9, customer_id=5, balance="1.00")))
    driver.run(flush=False)
    assert driver.rows(customer_summary) == {}
    assert driver.rows(customer_summary) == {}
    cached = driver.latest(customer_summary, 5)
    assert cached is not None and cached["name"] == "Emmy Noether" and cached["account_count"] == 1


def test_a_bad_customer_change_is_dead_lettered_and_the_next_one_applied(driver, changes):
    bad = driver.pipe(CUSTOMERS, *changes.insert("customers", changes.customer(6, name=42)))
    driver.pipe(CUSTOMERS, *changes.insert("customers", changes.customer(7, name="Ada King")))
    driver.run()
    (letter,) = driver.dead_letters(CUSTOMERS)
    assert letter.agent == "project_customers" and "customers.name is 42, not text" in letter.reason
    assert letter.source_offset == bad.offset
    assert set(driver.rows(customer_summary)) == {7}


def test_a_malformed_account_update_is_dead_lettered_and_the_next_one_applied(driver, changes):
    topic = _updates_topic(driver)
    driver.pipe(topic, b"8", b'{"kind": "account"')                 # not JSON
    driver.pipe(topic, b"8", b'{"kind": "account", "customer_id": 8}')  # JSON, but not a whole update
    driver.pipe(CUSTOMERS, *changes.insert("customers", changes.customer(8, name="Mary Somerville")))
    driver.run()
    letters = driver.dead_letters(topic)
    assert [letter.agent for letter in letters] == ["fold_account_updates_into_customers"] * 2
    assert all(letter.reason.startswith("malformed account update") for letter in letters)
    assert set(driver.rows(customer_summary)) == {8}


def test_position_markers_from_every_accounts_partition_give_the_partition_a_position(driver):
    from faust.types import TP

    from engine.positions import Position
    topic = _updates_topic(driver)
    for source, lsn in ((0, 900), (1, 700), (2, 800)):
        driver.pipe(topic, None, b'{"kind": "position", "source_partition": %d, "lsn": %d, "ts_ms": 5}' % (source, lsn),
                    partition=1)
    driver.run()
    positions = driver.app.source_positions
    assert positions.reached(TP(topic, 1)) is None                      # partition 3 has said nothing yet
    driver.pipe(topic, None, b'{"kind": "position", "source_partition": 3, "lsn": 1000, "ts_ms": 5}', partition=1)
    driver.pipe(topic, None, b'{"kind": "position", "source_partition": 3, "lsn": "x"}', partition=1)  # malformed
    driver.run()
    assert positions.reached(TP(topic, 1)) == Position(700, 5)           # the lowest of the four
    assert [letter.reason.startswith("malformed account update") for letter in driver.dead_letters(topic)] == [True]
