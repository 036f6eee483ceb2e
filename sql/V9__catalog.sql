-- Owned by CatalogVerticle: products (read through a Redis cache) and orders (a saga across
-- the catalog and the ledger).

-- version moves on with every change (ETag / If-Match, and the cache's guard against writing an
-- older product over a newer one). A deleted product is kept (deleted_at) for its orders.
CREATE TABLE products (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku             TEXT        NOT NULL,
    name            TEXT        NOT NULL,
    description     TEXT,
    price           BIGINT      NOT NULL CHECK (price >= 0),          -- minor units
    currency        CHAR(3)     NOT NULL,
    stock           INTEGER     NOT NULL CHECK (stock >= 0),          -- never below zero, whatever runs at once
    merchant_id     BIGINT      NOT NULL,                             -- who is paid for it: the admin who listed it
    image_url       TEXT,
    image_status    TEXT        NOT NULL DEFAULT 'none' CHECK (image_status IN ('none', 'pending', 'measured', 'failed')),
    image_width     INTEGER,
    image_height    INTEGER,
    image_perimeter BIGINT,
    image_error     TEXT,
    version         INTEGER     NOT NULL DEFAULT 1,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ
);

CREATE UNIQUE INDEX products_sku ON products (sku) WHERE deleted_at IS NULL;

-- The saga: pending → reserved (stock taken) → confirmed (paid: transaction_id), or failed (the
-- stock given back, reason said), or refunded (an admin reversed the payment and the stock came
-- back). next_step_at spaces the recovery sweep's attempts at an order a node left half way.
CREATE TABLE orders (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    buyer_id              BIGINT      NOT NULL,
    product_id            BIGINT      NOT NULL REFERENCES products (id),
    merchant_id           BIGINT,
    quantity              INTEGER     NOT NULL CHECK (quantity > 0),
    amount                BIGINT,
    currency              CHAR(3),
    status                TEXT        NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'reserved', 'confirmed', 'failed', 'refunded')),
    reason                TEXT,
    transaction_id        BIGINT,
    refund_transaction_id BIGINT,
    idempotency_key       TEXT,
    steps                 INTEGER     NOT NULL DEFAULT 0,
    next_step_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX orders_idempotency ON orders (buyer_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_buyer ON orders (buyer_id, id);
CREATE INDEX orders_unsettled ON orders (next_step_at) WHERE status IN ('pending', 'reserved');
