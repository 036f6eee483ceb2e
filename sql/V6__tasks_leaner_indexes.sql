-- Every task row is written three times within milliseconds (queued, running, succeeded), and
-- none of those updates can be HOT (status is in the partial indexes' predicates), so each new
-- row version costs one entry in every index whose predicate it matches. Before this migration
-- that was seven indexes for every version; now it is the primary key, tasks_owner and at most
-- one partial index.

-- Unique only where there is a key: tasks without one (nearly all) no longer get an index entry.
ALTER TABLE tasks DROP CONSTRAINT tasks_occurrence_key;
CREATE UNIQUE INDEX tasks_occurrence ON tasks (occurrence) WHERE occurrence IS NOT NULL;

ALTER TABLE tasks DROP CONSTRAINT tasks_owner_id_idempotency_key_key;
CREATE UNIQUE INDEX tasks_idempotency ON tasks (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Listing by status: the waiting and running states have their partial indexes already, and
-- succeeded is most of the table (a walk down the primary key finds them at once). The rare
-- end states get their own small index, so "show me the dead tasks" stays cheap.
DROP INDEX tasks_status;
CREATE INDEX tasks_unhappy ON tasks (status, id) WHERE status IN ('failed', 'dead', 'cancelled');
