-- Owned by DispatchVerticle. PostgreSQL is the truth about every task; the Redis backlog
-- (ready / delayed / leased sets per queue) is only the fast path to it.

CREATE TABLE tasks (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id        BIGINT      NOT NULL,
    type            TEXT        NOT NULL,
    queue           TEXT        NOT NULL DEFAULT 'default',
    priority        SMALLINT    NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),
    payload         JSONB       NOT NULL DEFAULT '{}'::jsonb,
    status          TEXT        NOT NULL CHECK (status IN
                      ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    -- attempts is also the fencing token: only the holder of the current attempt may finish it.
    attempts        INTEGER     NOT NULL DEFAULT 0,
    max_attempts    INTEGER     NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    backoff         JSONB       NOT NULL,
    timeout_ms      INTEGER     NOT NULL DEFAULT 30000,
    run_at          TIMESTAMPTZ NOT NULL,       -- not before this instant
    lease_until     TIMESTAMPTZ,                -- while running: the holder's lease
    leased_by       TEXT,
    last_error      TEXT,
    result          JSONB,
    progress        JSONB,
    idempotency_key TEXT,
    schedule_id     BIGINT,
    occurrence      TEXT UNIQUE,                -- 'schedule:<id>:<fire-time>': one task per cron occurrence
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    queued_at       TIMESTAMPTZ,                -- when it last became ready (for enqueue-to-start latency)
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    UNIQUE (owner_id, idempotency_key)
);

CREATE INDEX tasks_waiting ON tasks (run_at) WHERE status IN ('scheduled', 'queued');
CREATE INDEX tasks_leased ON tasks (lease_until) WHERE status = 'running';
CREATE INDEX tasks_owner ON tasks (owner_id, id);
CREATE INDEX tasks_status ON tasks (status, id);

CREATE TABLE schedules (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id      BIGINT      NOT NULL,
    name          TEXT        NOT NULL,
    cron          TEXT        NOT NULL,
    timezone      TEXT        NOT NULL,
    task          JSONB       NOT NULL,
    enabled       BOOLEAN     NOT NULL DEFAULT true,
    next_fire_at  TIMESTAMPTZ,
    last_fired_at TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE enabled;

-- Limits that hold across the cluster; the Redis backlog reads a copy of each row.
CREATE TABLE queues (
    name        TEXT PRIMARY KEY,
    concurrency INTEGER CHECK (concurrency > 0),
    rate_per_s  INTEGER CHECK (rate_per_s > 0),
    paused      BOOLEAN NOT NULL DEFAULT false,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
