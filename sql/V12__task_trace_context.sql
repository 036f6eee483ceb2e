-- The trace of the request that submitted a task (a W3C traceparent, null when nothing was
-- traced), so that the task's execution, however much later and on whichever node, is recorded
-- in that same trace. Owned by the task room, like the rest of the row.
ALTER TABLE tasks ADD COLUMN trace_context TEXT;
