package verticles.ledger;

/**
 * The ledger's SQL. Each money move is one statement of data-modifying CTEs: the guarded
 * balance update (no row changes when funds are short, so nothing else happens either), the
 * transaction, its two entries and its audit row, all or nothing. The three moves are spelled
 * out whole, so each can be checked by eye from top to bottom.
 */
final class LedgerSql {

  private LedgerSql() {
  }

  /** $1 to_user, $2 amount, $3 currency, $4 type, $5 description, $6 reverses, $7 actor, $8 request id. */
  static final String CREDIT = """
    WITH credit AS (
      INSERT INTO balances AS b (user_id, currency, amount, updated_at)
      VALUES ($1, $3, $2, clock_timestamp())
      ON CONFLICT (user_id, currency) DO UPDATE SET amount = b.amount + EXCLUDED.amount, updated_at = EXCLUDED.updated_at
      RETURNING amount - $2 AS before, amount AS after
    ), tx AS (
      INSERT INTO transactions (type, currency, amount, from_user, to_user, description, reverses, actor_id, request_id, created_at)
      SELECT $4, $3, $2, 0, $1, $5, $6, $7, $8, clock_timestamp() FROM credit
      RETURNING id, type, currency, amount, from_user, to_user, description, reverses, created_at
    ), entry AS (
      INSERT INTO entries (transaction_id, account_id, currency, amount, balance_after, created_at)
      SELECT tx.id, 0, $3, -$2, NULL, tx.created_at FROM tx
      UNION ALL
      SELECT tx.id, $1, $3, $2, credit.after, tx.created_at FROM tx, credit
    ), audit AS (
      INSERT INTO audit_logs (entity_type, entity_id, action, actor_id, details, request_id)
      SELECT 'transaction', tx.id::text, $4, $7, jsonb_build_object(
          'currency', $3::text, 'amount', $2::bigint, 'from_user', 0, 'to_user', $1::bigint,
          'from_balance', NULL, 'to_balance', jsonb_build_object('before', credit.before, 'after', credit.after)),
        $8
      FROM tx, credit
    )
    SELECT tx.*, credit.after AS balance FROM tx, credit
    """;

  /** $1 from_user, $2 amount, $3 currency, $4 type, $5 description, $6 reverses, $7 actor, $8 request id. */
  static final String DEBIT = """
    WITH debit AS (
      UPDATE balances SET amount = amount - $2, updated_at = clock_timestamp()
      WHERE user_id = $1 AND currency = $3 AND amount >= $2
      RETURNING amount + $2 AS before, amount AS after
    ), tx AS (
      INSERT INTO transactions (type, currency, amount, from_user, to_user, description, reverses, actor_id, request_id, created_at)
      SELECT $4, $3, $2, $1, 0, $5, $6, $7, $8, clock_timestamp() FROM debit
      RETURNING id, type, currency, amount, from_user, to_user, description, reverses, created_at
    ), entry AS (
      INSERT INTO entries (transaction_id, account_id, currency, amount, balance_after, created_at)
      SELECT tx.id, $1, $3, -$2, debit.after, tx.created_at FROM tx, debit
      UNION ALL
      SELECT tx.id, 0, $3, $2, NULL, tx.created_at FROM tx
    ), audit AS (
      INSERT INTO audit_logs (entity_type, entity_id, action, actor_id, details, request_id)
      SELECT 'transaction', tx.id::text, $4, $7, jsonb_build_object(
          'currency', $3::text, 'amount', $2::bigint, 'from_user', $1::bigint, 'to_user', 0,
          'from_balance', jsonb_build_object('before', debit.before, 'after', debit.after), 'to_balance', NULL),
        $8
      FROM tx, debit
    )
    SELECT tx.*, debit.after AS balance FROM tx, debit
    """;

  /** Locks both balance rows in one fixed order (by user id) before a transfer: no deadlock between opposite transfers. */
  static final String LOCK_PAIR = """
    SELECT user_id FROM balances WHERE currency = $3 AND user_id IN ($1, $2) ORDER BY user_id FOR UPDATE
    """;

  /** $1 from, $2 to, $3 amount, $4 currency, $5 type, $6 description, $7 reverses, $8 actor, $9 request id. */
  static final String TRANSFER = """
    WITH debit AS (
      UPDATE balances SET amount = amount - $3, updated_at = clock_timestamp()
      WHERE user_id = $1 AND currency = $4 AND amount >= $3
      RETURNING amount + $3 AS before, amount AS after
    ), credit AS (
      INSERT INTO balances AS b (user_id, currency, amount, updated_at)
      SELECT $2, $4, $3, clock_timestamp() FROM debit
      ON CONFLICT (user_id, currency) DO UPDATE SET amount = b.amount + EXCLUDED.amount, updated_at = EXCLUDED.updated_at
      RETURNING amount - $3 AS before, amount AS after
    ), tx AS (
      INSERT INTO transactions (type, currency, amount, from_user, to_user, description, reverses, actor_id, request_id, created_at)
      SELECT $5, $4, $3, $1, $2, $6, $7, $8, $9, clock_timestamp() FROM credit
      RETURNING id, type, currency, amount, from_user, to_user, description, reverses, created_at
    ), entry AS (
      INSERT INTO entries (transaction_id, account_id, currency, amount, balance_after, created_at)
      SELECT tx.id, $1, $4, -$3, debit.after, tx.created_at FROM tx, debit
      UNION ALL
      SELECT tx.id, $2, $4, $3, credit.after, tx.created_at FROM tx, credit
    ), audit AS (
      INSERT INTO audit_logs (entity_type, entity_id, action, actor_id, details, request_id)
      SELECT 'transaction', tx.id::text, $5, $8, jsonb_build_object(
          'currency', $4::text, 'amount', $3::bigint, 'from_user', $1::bigint, 'to_user', $2::bigint,
          'from_balance', jsonb_build_object('before', debit.before, 'after', debit.after),
          'to_balance', jsonb_build_object('before', credit.before, 'after', credit.after)),
        $9
      FROM tx, debit, credit
    )
    SELECT tx.*, debit.after AS balance FROM tx, debit, credit
    """;

  static final String CLAIM_KEY = """
    INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING key
    """;

  static final String READ_KEY = """
    SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2
    """;

  static final String ANSWER_KEY = """
    UPDATE idempotency_keys SET response = $3 WHERE scope = $1 AND key = $2
    """;

  /** Keys are kept 48 hours (the API document says so). */
  static final String FORGET_OLD_KEYS = """
    DELETE FROM idempotency_keys WHERE created_at < now() - interval '48 hours'
    """;

  static final String FIND = """
    SELECT id, type, currency, amount, from_user, to_user, description, reverses, created_at,
           (SELECT r.id FROM transactions r WHERE r.reverses = t.id) AS reversed_by
    FROM transactions t WHERE id = $1
    """;

  static final String CURRENT = """
    SELECT currency, amount, updated_at FROM balances WHERE user_id = $1 ORDER BY currency
    """;

  /** One account's entries, newest first, with their transaction: history and running balance. */
  static final String ENTRIES = """
    SELECT e.id AS entry_id, e.amount AS change, e.balance_after, e.currency, e.created_at,
           t.id, t.type, t.amount, t.from_user, t.to_user, t.description, t.reverses
    FROM entries e JOIN transactions t ON t.id = e.transaction_id
    WHERE e.account_id = $1 AND e.id < $2
      AND ($3::text IS NULL OR t.type = $3)
      AND ($4::timestamptz IS NULL OR e.created_at >= $4)
      AND ($5::timestamptz IS NULL OR e.created_at < $5)
    ORDER BY e.id DESC LIMIT $6
    """;

  /** The balance per currency after the last entry at or before $2. */
  static final String AT_TIME = """
    SELECT DISTINCT ON (currency) currency, balance_after AS amount, created_at AS as_of
    FROM entries WHERE account_id = $1 AND created_at <= $2 ORDER BY currency, created_at DESC, id DESC
    """;
}
