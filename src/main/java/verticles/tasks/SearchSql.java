package verticles.tasks;

/**
 * The SQL of task search, attempts, dead groups, recent latency and bulk actions (see
 * {@link TaskSearch} and {@link BulkActions}). A {@code %s} is a {@link TaskFilter}'s condition,
 * whose parameters come first ($1...); the statement's own parameters follow, numbered by the
 * caller with {@link #numbered}.
 */
final class SearchSql {

  private SearchSql() {
  }

  /** Newest first: a filter, then ?cursor (ids below it), ?limit. */
  static final String SEARCH = """
    SELECT * FROM tasks WHERE %s AND id < ? ORDER BY id DESC LIMIT ?
    """;

  static final String ATTEMPTS = """
    SELECT attempt, outcome, error, node, started_at, finished_at FROM task_attempts WHERE task_id = $1 ORDER BY attempt
    """;

  /**
   * Dead (or failed) tasks grouped by type and error pattern, biggest groups first: a filter
   * (the state is part of it), nothing else.
   */
  static final String DEAD_GROUPS = """
    SELECT left(md5(type || E'\\n' || pattern), 12) AS fingerprint, type, pattern, count(*) AS count,
           max(last_error) AS sample_error, array_agg(DISTINCT queue) AS queues,
           min(finished_at) AS first_at, max(finished_at) AS last_at, max(id) AS latest_task_id
    FROM (SELECT id, type, queue, last_error, finished_at, task_error_pattern(last_error) AS pattern FROM tasks WHERE %s) dead
    GROUP BY type, pattern
    ORDER BY count(*) DESC, max(finished_at) DESC
    LIMIT 100
    """;

  /**
   * Wait (ready to started) and run (started to finished) percentiles per queue, over the last
   * 20,000 tasks by id that succeeded within the hour: a walk down the primary key, however large
   * the table.
   */
  static final String LATENCY = """
    SELECT queue, count(*) AS tasks,
           percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP
             (ORDER BY extract(epoch FROM started_at - coalesce(queued_at, created_at)) * 1000) AS wait_ms,
           percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP
             (ORDER BY extract(epoch FROM finished_at - started_at) * 1000) AS run_ms
    FROM tasks
    WHERE id > (SELECT coalesce(max(id), 0) - 20000 FROM tasks)
      AND status = 'succeeded' AND finished_at > now() - interval '1 hour' AND started_at IS NOT NULL
    GROUP BY queue
    """;

  /** Running tasks per lease holder (node name); the partial index of running tasks answers it. */
  static final String RUNNING_BY_NODE = """
    SELECT leased_by AS node, count(*) AS running FROM tasks WHERE status = 'running' GROUP BY leased_by
    """;

  /** The latest task of each schedule ($1 ids); the partial index of scheduled tasks answers it. */
  static final String SCHEDULE_LAST_TASKS = """
    SELECT s.id AS schedule_id, t.id, t.status, t.finished_at, t.last_error
    FROM unnest($1::bigint[]) AS s (id)
    CROSS JOIN LATERAL (SELECT id, status, finished_at, last_error FROM tasks WHERE schedule_id = s.id ORDER BY id DESC LIMIT 1) t
    """;

  // ---- bulk actions ----

  static final String MAX_ID = """
    SELECT coalesce(max(id), 0) AS max_id FROM tasks
    """;

  /** How many tasks a bulk action would touch: a filter, the action's states, then ?max id. */
  static final String COUNT = """
    SELECT count(*) AS matching FROM tasks WHERE %s AND %s AND id <= ?
    """;

  /** The tasks each action may touch (bulk retry and cancel are the single ones', by filter). */
  static final String RETRYABLE = "status IN ('failed', 'dead')";
  static final String CANCELLABLE = "status IN ('scheduled', 'queued')";
  /** Finished, and no owner still waiting for the outcome (a notify not yet acknowledged). */
  static final String DELETABLE = "status IN ('succeeded', 'failed', 'dead', 'cancelled') AND (notify IS NULL OR notified_at IS NOT NULL)";

  /**
   * One batch: up to ?limit matching tasks after ?last and up to ?max id, in id order, locked
   * (SKIP LOCKED: a task someone else is changing is left to them). The action's statement
   * follows ("batch" is the ids).
   */
  private static final String BATCH = """
    WITH batch AS (
      SELECT id FROM tasks WHERE %s AND %s AND id > ? AND id <= ? ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED
    )
    """;

  static final String RETRY_BATCH = BATCH + """
    UPDATE tasks t
    SET status = 'queued', run_at = now(), queued_at = now(), max_attempts = greatest(max_attempts, attempts + 1),
        finished_at = NULL, notified_at = NULL, notify_after = NULL, updated_at = now()
    FROM batch WHERE t.id = batch.id
    RETURNING t.id, t.queue, t.priority
    """;

  static final String CANCEL_BATCH = BATCH + """
    UPDATE tasks t SET status = 'cancelled', finished_at = now(), updated_at = now()
    FROM batch WHERE t.id = batch.id
    RETURNING t.*
    """;

  static final String DELETE_BATCH = BATCH + """
    DELETE FROM tasks t USING batch WHERE t.id = batch.id
    RETURNING t.id
    """;

  static final String BULK_INSERT = """
    INSERT INTO task_bulk_actions (owner_id, admin, action, filter, matching, max_task_id, node, request_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    RETURNING *
    """;

  static final String BULK_FIND = """
    SELECT * FROM task_bulk_actions WHERE id = $1
    """;

  /** A batch done: $2 more tasks, up to id $3 (in the batch's transaction). */
  static final String BULK_PROGRESS = """
    UPDATE task_bulk_actions SET done = done + $2, last_task_id = greatest(last_task_id, $3), node = $4, updated_at = now()
    WHERE id = $1
    RETURNING *
    """;

  /** $2 done or failed, $3 the error. */
  static final String BULK_END = """
    UPDATE task_bulk_actions SET status = $2, error = $3, finished_at = now(), updated_at = now()
    WHERE id = $1 AND status = 'running'
    RETURNING *
    """;

  /** Running jobs nobody has moved on for 30 s (their node died): taken over by this node ($1). */
  static final String BULK_STALLED = """
    UPDATE task_bulk_actions SET node = $1, updated_at = now()
    WHERE id IN (SELECT id FROM task_bulk_actions WHERE status = 'running' AND updated_at < now() - interval '30 seconds'
                 LIMIT 5 FOR UPDATE SKIP LOCKED)
    RETURNING *
    """;

  /** A statement whose {@code ?} placeholders become $n, numbered on from {@code used} parameters. */
  static String numbered(String sql, int used) {
    StringBuilder out = new StringBuilder(sql.length() + 16);
    int n = used;
    for (int i = 0; i < sql.length(); i++) {
      char c = sql.charAt(i);
      if (c == '?') {
        out.append('$').append(++n);
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }
}
