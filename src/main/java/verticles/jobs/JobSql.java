package verticles.jobs;

/** The SQL of stores, image jobs and images, each statement written out whole. */
final class JobSql {

  private JobSql() {
  }

  /** The store master: $1 ids, $2 names, $3 area codes. A repeated import updates names and areas. */
  static final String UPSERT_STORES = """
    INSERT INTO stores (store_id, store_name, area_code)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
    ON CONFLICT (store_id) DO UPDATE
    SET store_name = EXCLUDED.store_name, area_code = EXCLUDED.area_code, updated_at = now()
    WHERE (stores.store_name, stores.area_code) IS DISTINCT FROM (EXCLUDED.store_name, EXCLUDED.area_code)
    """;

  static final String COUNT_STORES = """
    SELECT count(*) AS stores FROM stores
    """;

  /** A job: $1 owner, $2 images in all, $3 visits, $4 idempotency key, $5 request id. No row: the key was used. */
  static final String INSERT_JOB = """
    INSERT INTO image_jobs (owner_id, total, visits, idempotency_key, request_id)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT DO NOTHING
    RETURNING *
    """;

  static final String FIND_JOB_BY_KEY = """
    SELECT * FROM image_jobs WHERE owner_id = $1 AND idempotency_key = $2
    """;

  /** A job's images, in request order: $1 job, then one array per column. */
  static final String INSERT_IMAGES = """
    INSERT INTO images (job_id, visit, store_id, url, visit_time)
    SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[])
    """;

  static final String FIND_JOB = """
    SELECT * FROM image_jobs WHERE id = $1
    """;

  /** Newest first; $1 owner (null: everyone's), $2 status (null: any), $3 cursor, $4 limit. */
  static final String PAGE = """
    SELECT * FROM image_jobs
    WHERE ($1::bigint IS NULL OR owner_id = $1) AND ($2::text IS NULL OR status = $2) AND id < $3
    ORDER BY id DESC LIMIT $4
    """;

  static final String IMAGES_OF_JOB = """
    SELECT * FROM images WHERE job_id = $1 ORDER BY id
    """;

  /** Each store of the job that failed, once, with the first reason it failed for (the contract's error list). */
  static final String FAILED_STORES = """
    SELECT DISTINCT ON (store_id) store_id, error_message FROM images
    WHERE job_id = $1 AND status = 'failed'
    ORDER BY store_id, id
    """;

  /** The pending images of a job that have no task yet, with whether their store is known. */
  static final String UNDISPATCHED_IMAGES = """
    SELECT i.id, i.store_id, i.url, (s.store_id IS NOT NULL) AS known_store
    FROM images i LEFT JOIN stores s ON s.store_id = i.store_id
    WHERE i.job_id = $1 AND i.status = 'pending' AND i.task_id IS NULL
    ORDER BY i.id
    """;

  /** Each image ($1) now has its task ($2). */
  static final String TASKS_OF_IMAGES = """
    UPDATE images i SET task_id = t.task_id
    FROM unnest($1::bigint[], $2::bigint[]) AS t (image_id, task_id)
    WHERE i.id = t.image_id AND i.task_id IS NULL
    """;

  static final String DISPATCHED = """
    UPDATE image_jobs SET dispatched_at = now() WHERE id = $1 AND dispatched_at IS NULL
    """;

  /** Jobs a node may have died while dispatching (a few seconds old, never marked dispatched). */
  static final String UNDISPATCHED_JOBS = """
    SELECT id, owner_id FROM image_jobs
    WHERE dispatched_at IS NULL AND created_at < now() - interval '10 seconds'
    ORDER BY created_at LIMIT 20
    """;

  /**
   * Folds a batch of image outcomes into their jobs, each image once: an image changes only while
   * it is pending (a repeated delivery changes nothing), and each job counts, in the same
   * statement, the images of the batch that changed; the last image decides whether the job
   * completed or failed. One array per column, ordered by image id. Returns the jobs that changed.
   */
  static final String FOLD = """
    WITH outcome AS (
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::text[], $7::text[], $8::int[])
        AS o (image_id, status, width, height, perimeter, format, error, attempts)
    ), image AS (
      UPDATE images i
      SET status = o.status, width = o.width, height = o.height, perimeter = o.perimeter, format = o.format,
          error_message = o.error, attempts = o.attempts, finished_at = now()
      FROM outcome o
      WHERE i.id = o.image_id AND i.status = 'pending'
      RETURNING i.job_id, i.status
    ), counted AS (
      SELECT job_id, count(*) AS done, count(*) FILTER (WHERE status = 'failed') AS failed FROM image GROUP BY job_id
    )
    UPDATE image_jobs j
    SET done = j.done + c.done,
        failed = j.failed + c.failed,
        status = CASE WHEN j.done + c.done < j.total THEN j.status
                      WHEN j.failed + c.failed > 0 THEN 'failed'
                      ELSE 'completed' END,
        finished_at = CASE WHEN j.done + c.done = j.total THEN now() END
    FROM counted c
    WHERE j.id = c.job_id
    RETURNING j.*
    """;
}
