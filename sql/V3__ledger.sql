-- Owned by LedgerVerticle. Money is BIGINT minor units with an ISO-4217 code.
-- Account 0 is the outside world (the system account): credits come from it, debits go to it.
-- It has entries but no balances row, so it never becomes a hot row that every credit locks;
-- its balance is minus the sum of everyone else's.

CREATE TABLE balances (
    user_id    BIGINT      NOT NULL,
    currency   CHAR(3)     NOT NULL,
    amount     BIGINT      NOT NULL CHECK (amount >= 0),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, currency),
    CHECK (user_id > 0)
);

CREATE TABLE transactions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type        TEXT        NOT NULL CHECK (type IN ('credit', 'debit', 'transfer', 'reversal')),
    currency    CHAR(3)     NOT NULL,
    amount      BIGINT      NOT NULL CHECK (amount > 0),
    from_user   BIGINT      NOT NULL,   -- 0: the outside world
    to_user     BIGINT      NOT NULL,   -- 0: the outside world
    description TEXT,
    -- A transaction is reversed at most once: the database says so, not a check-then-insert.
    reverses    BIGINT UNIQUE REFERENCES transactions (id),
    actor_id    BIGINT,
    request_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    CHECK (from_user <> to_user)
);

-- Double entry: each transaction writes two rows that sum to zero.
CREATE TABLE entries (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id BIGINT      NOT NULL REFERENCES transactions (id),
    account_id     BIGINT      NOT NULL,
    currency       CHAR(3)     NOT NULL,
    amount         BIGINT      NOT NULL,   -- signed: + into the account, - out of it
    balance_after  BIGINT,                 -- the account's balance after this entry (null for account 0)
    created_at     TIMESTAMPTZ NOT NULL
);

-- History, running balance and balance-at-time all walk one account's entries newest first.
CREATE INDEX entries_account ON entries (account_id, id);
CREATE INDEX entries_account_time ON entries (account_id, currency, created_at, id);
CREATE INDEX entries_transaction ON entries (transaction_id);

-- Idempotency-Key: the first response per (caller, key), kept at least 24 h. The primary key
-- makes concurrent repeats wait for the first and then read its answer.
CREATE TABLE idempotency_keys (
    scope        BIGINT      NOT NULL,   -- the caller's user id (0: the task platform)
    key          TEXT        NOT NULL,
    request_hash TEXT        NOT NULL,
    response     TEXT,         -- the first answer, byte for byte
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
