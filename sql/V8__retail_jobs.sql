-- Owned by RetailJobsVerticle: the Retail Pulse store master, image jobs and their images.

-- Both public generations of the store master (RP00001… and S00339198…) are loaded: an id of
-- either is known. Names repeat; the id is the key.
CREATE TABLE stores (
    store_id   TEXT PRIMARY KEY,
    store_name TEXT        NOT NULL,
    area_code  TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A job is ongoing until every image is done (done = total), then completed or failed.
-- dispatched_at: every image of the job has its task (or its failure, for an unknown store);
-- a job a node died while dispatching is dispatched again by the housekeeping sweep (the
-- image tasks carry idempotency keys, so nothing runs twice).
CREATE TABLE image_jobs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id        BIGINT      NOT NULL,          -- 0: an anonymous Retail Pulse client
    status          TEXT        NOT NULL DEFAULT 'ongoing' CHECK (status IN ('ongoing', 'completed', 'failed')),
    total           INTEGER     NOT NULL CHECK (total > 0),
    done            INTEGER     NOT NULL DEFAULT 0,
    failed          INTEGER     NOT NULL DEFAULT 0,
    visits          INTEGER     NOT NULL,
    idempotency_key TEXT,
    request_id      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    dispatched_at   TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    CHECK (done <= total AND failed <= done)
);

CREATE UNIQUE INDEX image_jobs_idempotency ON image_jobs (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX image_jobs_owner ON image_jobs (owner_id, id);
CREATE INDEX image_jobs_undispatched ON image_jobs (created_at) WHERE dispatched_at IS NULL;

CREATE TABLE images (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        BIGINT      NOT NULL REFERENCES image_jobs (id),
    visit         INTEGER     NOT NULL,            -- the visit's position in the request, from 0
    store_id      TEXT        NOT NULL,
    url           TEXT        NOT NULL,
    visit_time    TEXT        NOT NULL,
    status        TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    width         INTEGER,
    height        INTEGER,
    perimeter     BIGINT,
    format        TEXT,
    error_message TEXT,
    attempts      INTEGER     NOT NULL DEFAULT 0,
    task_id       BIGINT,
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ
);

CREATE INDEX images_job ON images (job_id, id);
