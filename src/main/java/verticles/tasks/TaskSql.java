package verticles.tasks;

/**
 * The SQL of tasks, schedules and queues, each statement written out whole.
 *
 * <p>Statements that take a list of ids join it through {@code unnest} and test the status as
 * what it is <em>not</em> ({@code status NOT IN (...)}), so that no partial index (tasks_waiting,
 * tasks_leased) matches them: the planner then looks each id up by primary key. Written
 * plainly, it would walk the whole partial index, because its statistics say the index is
 * nearly empty just when the backlog is large. Multi-row updates take their ids in ascending
 * order (see Dispatch's lock order), so two of them never lock rows in opposite orders.
 */
final class TaskSql {

  private TaskSql() {
  }

  /**
   * $1 owner … $10 idempotency key, $11 schedule id, $12 occurrence, $13 notify address, $14 the
   * submitter's trace context; status from run_at. No row: the key or occurrence exists.
   */
  static final String INSERT = """
    INSERT INTO tasks (owner_id, type, queue, priority, payload, max_attempts, backoff, timeout_ms, run_at,
                       idempotency_key, schedule_id, occurrence, notify, trace_context, status, queued_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
            CASE WHEN $9 > now() THEN 'scheduled' ELSE 'queued' END,
            CASE WHEN $9 > now() THEN NULL ELSE now() END)
    ON CONFLICT DO NOTHING
    RETURNING *
    """;

  /**
   * Many tasks in one statement (a batch submit, or the single submits that arrived together):
   * one array per column, in order, each item with its owner and the trace context of the request
   * that made it. Ids are drawn from the sequence before the insert, so each answer row says
   * which item it is and whether that item made a task (its columns null: its idempotency key
   * already had one, maybe an earlier item of the same statement). Only the items with a key go
   * through ON CONFLICT: its speculative insertion cost an item without one ~4 µs and a WAL record
   * more (such an item cannot conflict: its id is new, its key and occurrence null). The sequence
   * is the one V4's identity column made, named: looking it up with pg_get_serial_sequence cost
   * ~7 µs per row, a catalog search each time.
   */
  static final String INSERT_MANY = """
    WITH input AS (
      SELECT nextval('tasks_id_seq'::regclass) AS id, i.*,
             CASE WHEN i.run_at > now() THEN 'scheduled' ELSE 'queued' END AS status,
             CASE WHEN i.run_at > now() THEN NULL ELSE now() END AS queued_at
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::int[], $7::text[], $8::int[],
                  $9::timestamptz[], $10::text[], $11::text[], $12::text[])
        WITH ORDINALITY AS i (owner_id, type, queue, priority, payload, max_attempts, backoff, timeout_ms, run_at,
                              idempotency_key, notify, trace_context, ord)
    ), keyed AS (
      INSERT INTO tasks (id, owner_id, type, queue, priority, payload, max_attempts, backoff, timeout_ms, run_at,
                         idempotency_key, notify, trace_context, status, queued_at)
      OVERRIDING SYSTEM VALUE
      SELECT id, owner_id, type, queue, priority, payload::jsonb, max_attempts, backoff::jsonb, timeout_ms, run_at,
             idempotency_key, notify, trace_context, status, queued_at
      FROM input WHERE idempotency_key IS NOT NULL ORDER BY ord
      ON CONFLICT DO NOTHING
      RETURNING *
    ), unkeyed AS (
      INSERT INTO tasks (id, owner_id, type, queue, priority, payload, max_attempts, backoff, timeout_ms, run_at,
                         idempotency_key, notify, trace_context, status, queued_at)
      OVERRIDING SYSTEM VALUE
      SELECT id, owner_id, type, queue, priority, payload::jsonb, max_attempts, backoff::jsonb, timeout_ms, run_at,
             idempotency_key, notify, trace_context, status, queued_at
      FROM input WHERE idempotency_key IS NULL ORDER BY ord
      RETURNING *
    )
    SELECT input.ord, inserted.*
    FROM input LEFT JOIN (SELECT * FROM keyed UNION ALL SELECT * FROM unkeyed) AS inserted USING (id)
    ORDER BY input.ord
    """;

  /** The tasks that already hold these (owner, idempotency key) pairs: the replays of a batch. */
  static final String FIND_BY_KEYS = """
    SELECT t.* FROM tasks t JOIN unnest($1::bigint[], $2::text[]) AS k (owner_id, key)
      ON t.owner_id = k.owner_id AND t.idempotency_key = k.key
    """;

  static final String FIND = """
    SELECT * FROM tasks WHERE id = $1
    """;

  /**
   * Takes the tasks Redis handed out ($1), if PostgreSQL agrees they are waiting and due: the
   * attempt count goes up by one and becomes this holder's fencing token.
   */
  static final String CLAIM = """
    UPDATE tasks t
    SET status = 'running', attempts = attempts + 1, lease_until = now() + $2 * interval '1 millisecond',
        leased_by = $3, started_at = now(), finished_at = NULL, updated_at = now()
    FROM unnest($1::bigint[]) AS c (id)
    WHERE t.id = c.id
      AND t.status NOT IN ('running', 'succeeded', 'failed', 'dead', 'cancelled')
      AND t.run_at <= now()
    RETURNING t.*
    """;

  /** Which of these ids PostgreSQL still has waiting: unclaimable ones that go back, and the reconciler's second look. */
  static final String STILL_WAITING = """
    SELECT t.id, t.priority, t.run_at
    FROM tasks t JOIN unnest($1::bigint[]) AS c (id) ON t.id = c.id
    WHERE t.status NOT IN ('running', 'succeeded', 'failed', 'dead', 'cancelled')
    """;

  /** Extends this holder's ($3) leases on running tasks ($1). */
  static final String RENEW = """
    UPDATE tasks t SET lease_until = now() + $2 * interval '1 millisecond'
    FROM unnest($1::bigint[]) AS c (id)
    WHERE t.id = c.id
      AND t.status NOT IN ('scheduled', 'queued', 'succeeded', 'failed', 'dead', 'cancelled')
      AND t.leased_by = $3
    """;

  /**
   * Successes, many per statement (one commit for a batch): $1 ids, $2 attempts, $3 results as
   * JSON text. Fenced: only the holder of the current attempt may finish a task.
   */
  static final String SUCCEED = """
    UPDATE tasks t
    SET status = 'succeeded', result = d.result::jsonb, lease_until = NULL, leased_by = NULL,
        finished_at = now(), updated_at = now(), last_error = NULL
    FROM unnest($1::bigint[], $2::int[], $3::text[]) AS d (id, attempt, result)
    WHERE t.id = d.id AND t.attempts = d.attempt
      AND t.status NOT IN ('scheduled', 'queued', 'succeeded', 'failed', 'dead', 'cancelled')
    RETURNING t.*
    """;

  /** Fenced like SUCCEED. $3 status (queued for a retry, failed, dead), $4 error, $5 next run_at. */
  static final String FAIL = """
    UPDATE tasks
    SET status = $3, last_error = $4, run_at = coalesce($5, run_at), lease_until = NULL, leased_by = NULL,
        queued_at = CASE WHEN $3 = 'queued' THEN now() ELSE queued_at END,
        finished_at = CASE WHEN $3 = 'queued' THEN NULL ELSE now() END, updated_at = now()
    WHERE id = $1 AND attempts = $2 AND status = 'running'
    RETURNING *
    """;

  /** Every expired lease PostgreSQL has, whether or not Redis still knows it: it walks the partial index of running tasks. */
  static final String REAP = """
    UPDATE tasks
    SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, run_at = now(), queued_at = now(),
        finished_at = CASE WHEN attempts >= max_attempts THEN now() END, lease_until = NULL, leased_by = NULL, updated_at = now(),
        last_error = 'lease expired: the worker holding attempt ' || attempts || ' stopped answering'
    WHERE id IN (SELECT id FROM tasks WHERE status = 'running' AND lease_until < now() LIMIT 500 FOR UPDATE SKIP LOCKED)
    RETURNING *
    """;

  /** The leases Redis saw expire ($1), if PostgreSQL sees them expired too: primary-key lookups. */
  static final String REAP_IDS = """
    UPDATE tasks t
    SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, run_at = now(), queued_at = now(),
        finished_at = CASE WHEN attempts >= max_attempts THEN now() END, lease_until = NULL, leased_by = NULL, updated_at = now(),
        last_error = 'lease expired: the worker holding attempt ' || attempts || ' stopped answering'
    FROM unnest($1::bigint[]) AS c (id)
    WHERE t.id = c.id
      AND t.status NOT IN ('scheduled', 'queued', 'succeeded', 'failed', 'dead', 'cancelled')
      AND t.lease_until < now()
    RETURNING t.*
    """;

  /** A stopping node ($2) hands its running tasks ($1) back at once, without spending their attempt. */
  static final String RETURN_LEASES = """
    UPDATE tasks t
    SET status = 'queued', run_at = now(), queued_at = now(), lease_until = NULL, leased_by = NULL, updated_at = now()
    FROM unnest($1::bigint[]) AS c (id)
    WHERE t.id = c.id
      AND t.status NOT IN ('scheduled', 'queued', 'succeeded', 'failed', 'dead', 'cancelled')
      AND t.leased_by = $2
    RETURNING t.*
    """;

  /** Due scheduled tasks that Redis moved to ready: now queued. */
  static final String MARK_QUEUED = """
    UPDATE tasks t SET status = 'queued', queued_at = now(), updated_at = now()
    FROM unnest($1::bigint[]) AS c (id)
    WHERE t.id = c.id
      AND t.status NOT IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')
    RETURNING t.*
    """;

  /** Everything waiting, for the reconciler; the newest second is skipped (its push may be in flight). */
  static final String WAITING = """
    SELECT id, queue, priority, run_at FROM tasks
    WHERE status IN ('queued', 'scheduled') AND updated_at < now() - interval '1 second'
    ORDER BY id LIMIT 10000
    """;

  /** Fenced like SUCCEED. */
  static final String PROGRESS = """
    UPDATE tasks SET progress = $3, updated_at = now()
    WHERE id = $1 AND attempts = $2 AND status = 'running'
    RETURNING *
    """;

  /** Seconds the oldest ready task of each queue has waited (the partial index keeps this cheap). */
  static final String OLDEST_READY = """
    SELECT queue, extract(epoch FROM now() - min(coalesce(queued_at, created_at)))::float8 AS age
    FROM tasks WHERE status = 'queued' AND run_at <= now() GROUP BY queue
    """;

  static final String CANCEL = """
    UPDATE tasks SET status = 'cancelled', finished_at = now(), updated_at = now()
    WHERE id = $1 AND status IN ('scheduled', 'queued')
    RETURNING *
    """;

  static final String RETRY = """
    UPDATE tasks
    SET status = 'queued', run_at = now(), queued_at = now(), max_attempts = greatest(max_attempts, attempts + 1),
        finished_at = NULL, notified_at = NULL, notify_after = NULL, updated_at = now()
    WHERE id = $1 AND status IN ('failed', 'dead')
    RETURNING *
    """;

  static final String ENSURE_QUEUE = """
    INSERT INTO queues (name) VALUES ($1) ON CONFLICT DO NOTHING
    """;

  static final String QUEUES = """
    SELECT name, concurrency, rate_per_s, paused FROM queues ORDER BY name
    """;

  /** $1 name, $2 concurrency, $3 rate, $4 paused (null: unchanged); $5 and $6 say whether $2 and $3 were given. */
  static final String UPDATE_QUEUE = """
    INSERT INTO queues (name, concurrency, rate_per_s, paused) VALUES ($1, $2, $3, coalesce($4, false))
    ON CONFLICT (name) DO UPDATE
    SET concurrency = CASE WHEN $5 THEN $2 ELSE queues.concurrency END,
        rate_per_s = CASE WHEN $6 THEN $3 ELSE queues.rate_per_s END,
        paused = coalesce($4, queues.paused),
        updated_at = now()
    RETURNING name, concurrency, rate_per_s, paused
    """;

  static final String QUEUE_COUNTS = """
    SELECT queue,
           count(*) FILTER (WHERE status = 'dead') AS dead,
           count(*) FILTER (WHERE status = 'succeeded' AND finished_at > now() - interval '1 minute') AS done_last_minute,
           min(queued_at) FILTER (WHERE status = 'queued' AND run_at <= now()) AS oldest_ready
    FROM tasks GROUP BY queue
    """;

  // ---- the notify delivery ----

  /** The owner acknowledged the outcome of these tasks ($1). */
  static final String NOTIFIED = """
    UPDATE tasks t SET notified_at = now()
    FROM unnest($1::bigint[]) AS c (id)
    WHERE t.id = c.id AND t.notified_at IS NULL
    """;

  /**
   * Finished tasks whose owner has not acknowledged the outcome, a few seconds after the first
   * delivery was due: claimed for 10 s (SKIP LOCKED and notify_after), so the housekeepers of
   * several nodes do not send the same one together.
   */
  static final String NOTIFY_DUE = """
    UPDATE tasks t SET notify_after = now() + interval '10 seconds'
    FROM (
      SELECT id FROM tasks
      WHERE notify IS NOT NULL AND notified_at IS NULL
        AND status IN ('succeeded', 'failed', 'dead', 'cancelled')
        AND coalesce(notify_after, finished_at + interval '3 seconds') < now()
      ORDER BY finished_at LIMIT 500
      FOR UPDATE SKIP LOCKED
    ) due
    WHERE t.id = due.id
    RETURNING t.*
    """;

  // ---- schedules ----

  static final String SCHEDULE_INSERT = """
    INSERT INTO schedules (owner_id, name, cron, timezone, task, enabled, next_fire_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    RETURNING *
    """;

  static final String SCHEDULE_FIND = """
    SELECT * FROM schedules WHERE id = $1
    """;

  static final String SCHEDULE_PAGE = """
    SELECT * FROM schedules WHERE ($1::bigint IS NULL OR owner_id = $1) AND id > $2 ORDER BY id LIMIT $3
    """;

  static final String SCHEDULE_UPDATE = """
    UPDATE schedules SET cron = $2, enabled = $3, next_fire_at = $4, updated_at = now()
    WHERE id = $1
    RETURNING *
    """;

  static final String SCHEDULE_DELETE = """
    DELETE FROM schedules WHERE id = $1 RETURNING id
    """;

  /** Due schedules; SKIP LOCKED lets every node's scheduler run without two firing the same one. */
  static final String SCHEDULES_DUE = """
    SELECT * FROM schedules WHERE enabled AND next_fire_at <= now()
    ORDER BY next_fire_at LIMIT 100
    FOR UPDATE SKIP LOCKED
    """;

  static final String SCHEDULE_FIRED = """
    UPDATE schedules SET last_fired_at = $2, next_fire_at = $3, updated_at = now() WHERE id = $1
    """;
}
