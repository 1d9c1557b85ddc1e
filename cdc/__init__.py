"""Change data capture, the worker's side: Debezium records decoded exactly into typed changes.

`cdc.decode.decode_change` is the one entry point. Per record it tells the shape (a Debezium
envelope, a row flattened by ExtractNewRecordState, a null value) and chooses the typing once:
`Typing.WIRE` (the JSON as written), `Typing.CONNECT` (typed by the record's own schema) or
`Typing.SQL` (typed by declared PostgreSQL column types).

The worker uses one path: envelopes without schemas, without declared types, so WIRE
(agents/decoding.py; the benchmark's job too). The ledger's connector writes them so
(ops/connectors/ledger-postgres.yaml: schemas.enable=false, decimal.handling.mode=string): every
value is already exact JSON, money is decimal text that the projections parse, and no value is
converted twice. The other paths stay because they are how the same records are read under the
connector's other settings, each recorded from a real Debezium (tests/fixtures/debezium) and held
to the SQL values by tests/unit/test_cdc_fixtures.py: a record schema (CONNECT) or declared types
(SQL; the only exact reading of a schemaless `precise` decimal, whose scale is not in the record),
flattened rows and tombstone-mode deletes. Changing the connector's converter settings then means
passing `columns=` (or nothing), not writing a second decoder.

Modules: changes (what a decode returns), decode (shape, typing), flattened (ExtractNewRecordState's
metadata), position (where a change comes from), columns (declared types), types (Connect schemas
and Debezium logical types to Python values).
"""
