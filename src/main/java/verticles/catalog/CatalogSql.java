package verticles.catalog;

/** The SQL of products and orders, each statement written out whole. */
final class CatalogSql {

  private CatalogSql() {
  }

  // ---- products ----

  /** $1 sku … $7 merchant; the image is pending when a URL is given. No row: the sku is taken. */
  static final String INSERT_PRODUCT = """
    INSERT INTO products (sku, name, description, price, currency, stock, merchant_id, image_url, image_status)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8::text IS NULL THEN 'none' ELSE 'pending' END)
    ON CONFLICT DO NOTHING
    RETURNING *
    """;

  /** A product, deleted or not (the cache keeps deletions as tombstones). */
  static final String FIND_PRODUCT = """
    SELECT * FROM products WHERE id = $1
    """;

  /**
   * Newest first; $1 name search (case-insensitive substring, null: all), $2 / $3 price bounds,
   * $4 only in stock, $5 cursor, $6 limit.
   */
  static final String PRODUCT_PAGE = """
    SELECT * FROM products
    WHERE deleted_at IS NULL
      AND ($1::text IS NULL OR lower(name) LIKE '%' || lower($1) || '%')
      AND ($2::bigint IS NULL OR price >= $2)
      AND ($3::bigint IS NULL OR price <= $3)
      AND (NOT $4 OR stock > 0)
      AND id < $5
    ORDER BY id DESC LIMIT $6
    """;

  /**
   * Changes a product if it is still at version $2 (If-Match): each field given replaces the
   * stored one ($3 … $8; null: unchanged, $9 says whether image_url was given, so null can clear
   * it). A new image URL makes the image pending again. No row: gone, or the version moved on.
   */
  static final String UPDATE_PRODUCT = """
    UPDATE products SET
      name = coalesce($3, name),
      description = coalesce($4, description),
      price = coalesce($5, price),
      currency = coalesce($6, currency),
      stock = coalesce($7, stock),
      image_url = CASE WHEN $9 THEN $8 ELSE image_url END,
      image_status = CASE WHEN NOT $9 OR $8::text IS NOT DISTINCT FROM image_url THEN image_status
                          WHEN $8::text IS NULL THEN 'none' ELSE 'pending' END,
      image_width = CASE WHEN $9 AND $8::text IS DISTINCT FROM image_url THEN NULL ELSE image_width END,
      image_height = CASE WHEN $9 AND $8::text IS DISTINCT FROM image_url THEN NULL ELSE image_height END,
      image_perimeter = CASE WHEN $9 AND $8::text IS DISTINCT FROM image_url THEN NULL ELSE image_perimeter END,
      image_error = CASE WHEN $9 AND $8::text IS DISTINCT FROM image_url THEN NULL ELSE image_error END,
      version = version + 1,
      updated_at = now()
    WHERE id = $1 AND version = $2 AND deleted_at IS NULL
    RETURNING *
    """;

  static final String DELETE_PRODUCT = """
    UPDATE products SET deleted_at = now(), version = version + 1, updated_at = now()
    WHERE id = $1 AND deleted_at IS NULL
    RETURNING *
    """;

  /**
   * A measured image lands on the product, if the product still has that URL ($2): the product's
   * image task and the product may have moved on since. $3 status, $4 width, $5 height, $6
   * perimeter, $7 error.
   */
  static final String IMAGE_MEASURED = """
    UPDATE products SET image_status = $3, image_width = $4, image_height = $5, image_perimeter = $6, image_error = $7,
      version = version + 1, updated_at = now()
    WHERE id = $1 AND image_url = $2 AND image_status = 'pending'
    RETURNING *
    """;

  // ---- orders: the saga's steps, each guarded by the state it leaves ----

  /**
   * $1 buyer, $2 product, $3 quantity, $4 idempotency key. No row: the key already made an order.
   * The sweep leaves it to its request for 10 s (each step pushes that on), so one driver at a time.
   */
  static final String INSERT_ORDER = """
    INSERT INTO orders (buyer_id, product_id, quantity, idempotency_key, next_step_at)
    VALUES ($1, $2, $3, $4, now() + interval '10 seconds')
    ON CONFLICT DO NOTHING
    RETURNING *
    """;

  static final String FIND_ORDER_BY_KEY = """
    SELECT * FROM orders WHERE buyer_id = $1 AND idempotency_key = $2
    """;

  static final String FIND_ORDER = """
    SELECT * FROM orders WHERE id = $1
    """;

  /** Newest first; $1 buyer (null: everyone's), $2 status (null: any), $3 cursor, $4 limit. */
  static final String ORDER_PAGE = """
    SELECT * FROM orders
    WHERE ($1::bigint IS NULL OR buyer_id = $1) AND ($2::text IS NULL OR status = $2) AND id < $3
    ORDER BY id DESC LIMIT $4
    """;

  /**
   * Step 1, reserve: takes the stock (never below zero) and prices the order, in one statement.
   * The product moves on a version (its cached copy is replaced). No row: out of stock, the
   * product is gone, or the order was already past this step.
   */
  static final String RESERVE = """
    WITH taken AS (
      UPDATE products p SET stock = p.stock - o.quantity, version = p.version + 1, updated_at = now()
      FROM orders o
      WHERE o.id = $1 AND o.status = 'pending' AND p.id = o.product_id AND p.deleted_at IS NULL AND p.stock >= o.quantity
      RETURNING p.version AS product_version, p.price * o.quantity AS amount, p.currency, p.merchant_id
    ), reserved AS (
      UPDATE orders o SET status = 'reserved', amount = taken.amount, currency = taken.currency, merchant_id = taken.merchant_id,
        steps = o.steps + 1, updated_at = now(), next_step_at = now() + interval '10 seconds'
      FROM taken
      WHERE o.id = $1
      RETURNING o.*
    )
    SELECT reserved.*, taken.product_version FROM reserved, taken
    """;

  /** Step 2 done, the payment made ($2 its transaction): confirmed. */
  static final String CONFIRM = """
    UPDATE orders SET status = 'confirmed', transaction_id = $2, steps = steps + 1, updated_at = now()
    WHERE id = $1 AND status = 'reserved'
    RETURNING *, NULL::integer AS product_version
    """;

  /**
   * Compensation: the order fails ($2 the reason) if it is still in the state $3 its driver saw,
   * and gives back the stock a reserved order held, in one statement. product_version is the
   * product's new version when stock came back.
   */
  static final String FAIL_ORDER = """
    WITH failed AS (
      UPDATE orders SET status = 'failed', reason = $2, steps = steps + 1, updated_at = now()
      WHERE id = $1 AND status = $3
      RETURNING *
    ), released AS (
      UPDATE products p SET stock = p.stock + failed.quantity, version = p.version + 1, updated_at = now()
      FROM failed
      WHERE p.id = failed.product_id AND $3 = 'reserved'
      RETURNING p.version
    )
    SELECT failed.*, (SELECT version FROM released) AS product_version FROM failed
    """;

  /** A refunded order: the payment reversed ($2 the reversal), the stock back, once. */
  static final String REFUND = """
    WITH refunded AS (
      UPDATE orders SET status = 'refunded', refund_transaction_id = $2, steps = steps + 1, updated_at = now()
      WHERE id = $1 AND status = 'confirmed'
      RETURNING *
    ), restocked AS (
      UPDATE products p SET stock = p.stock + refunded.quantity, version = p.version + 1, updated_at = now()
      FROM refunded WHERE p.id = refunded.product_id
      RETURNING p.version
    )
    SELECT refunded.*, (SELECT version FROM restocked) AS product_version FROM refunded
    """;

  /**
   * Orders a node left half way (still pending or reserved when their next step was due), claimed
   * for 10 s so that the sweeps of several nodes do not drive the same one together.
   */
  static final String UNSETTLED = """
    UPDATE orders o SET next_step_at = now() + interval '10 seconds'
    FROM (
      SELECT id FROM orders WHERE status IN ('pending', 'reserved') AND next_step_at < now()
      ORDER BY next_step_at LIMIT 100
      FOR UPDATE SKIP LOCKED
    ) due
    WHERE o.id = due.id
    RETURNING o.*
    """;
}
