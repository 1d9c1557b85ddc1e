-- The core ledger: the operational database that ledgerstream captures changes from.
-- Other components and outside checks rely on these table and column names.

CREATE TABLE customers (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id           bigserial PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers,
    currency     char(3) NOT NULL DEFAULT 'EUR',
    balance      numeric(18,2) NOT NULL DEFAULT 0,
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'frozen', 'closed')),
    opened_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transactions (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts,
    kind        text NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
    amount      numeric(18,2) NOT NULL CHECK (amount > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX transactions_account_id_idx ON transactions (account_id);

-- Domain events, written in the same transaction as the change they describe
-- (transactional outbox); Debezium's outbox router publishes them.
CREATE TABLE outbox (
    id             uuid PRIMARY KEY,
    aggregatetype  text NOT NULL,
    aggregateid    text NOT NULL,
    type           text NOT NULL,
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Full row images in update and delete events, so a consumer sees what a row was,
-- not only its key. transactions is append-only and keeps the default.
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE accounts REPLICA IDENTITY FULL;
