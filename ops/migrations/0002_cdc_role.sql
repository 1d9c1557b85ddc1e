-- Debezium's own role: it may log in, replicate and read the captured tables, nothing else
-- (no superuser, no writes). No password here: `python -m ops.migrations` sets it from
-- CDC_PASSWORD; the local stack's cluster trusts local connections.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledgerstream_cdc') THEN
        CREATE ROLE ledgerstream_cdc WITH LOGIN REPLICATION;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO ledgerstream_cdc;
GRANT SELECT ON customers, accounts, transactions, outbox TO ledgerstream_cdc;

-- The publications the connectors read (ops/connectors/*.yaml, publication.autocreate.mode:
-- disabled): created here by the tables' owner, since the role may not create them. A
-- publication Debezium created earlier (autocreate) has the same tables and is kept.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'ledgerstream') THEN
        CREATE PUBLICATION ledgerstream FOR TABLE customers, accounts, transactions;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'ledgerstream_outbox') THEN
        CREATE PUBLICATION ledgerstream_outbox FOR TABLE outbox;
    END IF;
END
$$;
