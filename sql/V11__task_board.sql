-- The task room's additions for the dashboard and its REST endpoints (issue 13): the history of
-- each task's attempts, bulk actions by filter, and the fingerprint that groups dead tasks.
-- Numbered 20 to stay clear of the migrations being written beside it (catalog: V9 and up).

-- Every attempt that ended other than in success (retried, failed, dead, or its lease lost or
-- handed back): written by a trigger, so every path that ends an attempt (the dispatcher's
-- failure, both reapers, a stopping node's hand-back, a member that left) is recorded without
-- each statement having to say so. The successful (or current) attempt is the task row itself.
-- The trigger's WHEN is false for the hot path (running -> succeeded), so it costs nothing there.
CREATE TABLE task_attempts (
    task_id     BIGINT      NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt     INTEGER     NOT NULL,
    outcome     TEXT        NOT NULL,     -- what the task became: queued (to run again), failed, dead
    error       TEXT,
    node        TEXT,                     -- the node that held the lease
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (task_id, attempt)
);

CREATE FUNCTION task_attempt_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_attempts (task_id, attempt, outcome, error, node, started_at, finished_at)
    VALUES (NEW.id, OLD.attempts, NEW.status, NEW.last_error, OLD.leased_by, OLD.started_at, now())
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_attempt_ended AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.status = 'running' AND NEW.status IN ('queued', 'failed', 'dead'))
    EXECUTE FUNCTION task_attempt_ended();

-- An error message with what varies between occurrences (ids, numbers, hex, addresses) masked,
-- so that "timeout after 5012 ms on 10.0.0.7" and "... 4998 ms on 10.0.0.9" read the same.
CREATE FUNCTION task_error_pattern(error TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(regexp_replace(regexp_replace(regexp_replace(coalesce(error, ''),
        '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<uuid>', 'g'),
        '\m(0x)?[0-9a-fA-F]{8,}\M', '<hex>', 'g'),
        '[0-9]+', '#', 'g'), 300)
$$;

-- The group a dead task belongs to: its type and its error's pattern, as 12 hex digits.
CREATE FUNCTION task_error_fingerprint(type TEXT, error TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(md5(type || E'\n' || task_error_pattern(error)), 12)
$$;

-- A schedule's latest task (the dashboard shows its outcome): only tasks made by a schedule
-- have an entry, so the hot path of other tasks does not pay for it.
CREATE INDEX tasks_schedule ON tasks (schedule_id, id) WHERE schedule_id IS NOT NULL;

-- A bulk action by filter (retry, cancel or delete every task that matches), run on the server
-- in batches. It acts on tasks that existed when it started (id <= max_task_id) and still match
-- when their batch comes; last_task_id is where it has got to, so a job whose node died is taken
-- over and finished by another (updated_at shows it is alive: every batch touches it).
CREATE TABLE task_bulk_actions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id     BIGINT      NOT NULL,
    admin        BOOLEAN     NOT NULL,   -- started by an admin (all tasks) or a user (their own)
    action       TEXT        NOT NULL CHECK (action IN ('retry', 'cancel', 'delete')),
    filter       JSONB       NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    matching     BIGINT      NOT NULL,   -- counted when it started
    done         BIGINT      NOT NULL DEFAULT 0,
    max_task_id  BIGINT      NOT NULL,
    last_task_id BIGINT      NOT NULL DEFAULT 0,
    error        TEXT,
    node         TEXT,
    request_id   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ
);

CREATE INDEX task_bulk_actions_running ON task_bulk_actions (updated_at) WHERE status = 'running';
