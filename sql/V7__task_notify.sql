-- The notify delivery (see DESIGN): a submitter that must act on a task's outcome names a bus
-- address; the outcome is delivered there once the task is finished, again and again until the
-- owner acknowledges it (notified_at). notify_after spaces the housekeepers' redeliveries and
-- keeps two nodes from sending the same one at once.
ALTER TABLE tasks
    ADD COLUMN notify       TEXT,
    ADD COLUMN notified_at  TIMESTAMPTZ,
    ADD COLUMN notify_after TIMESTAMPTZ;

CREATE INDEX tasks_to_notify ON tasks (finished_at) WHERE notify IS NOT NULL AND notified_at IS NULL;
