package verticles.ledger;

/**
 * The ledger's SQL. Money moves are applied in batches by the function ledger_apply (V10, its
 * body replaced by V13, V14 and V15), where each move is the guarded balance update (no row changes
 * when funds are short, so nothing else happens either), the other side, the transaction, its
 * two entries and its audit row.
 */
final class LedgerSql {

  private LedgerSql() {
  }

  /**
   * A batch of money moves in one transaction (group commit): the function ledger_apply (V13, V14, V15)
   * locks every balance row of the batch in one order, then applies the moves in arrival order,
   * each with its own verdict. One array per column, one element per move.
   */
  static final String APPLY = """
    SELECT move, verdict, answer
    FROM ledger_apply($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[],
                      $8::bigint[], $9::bigint[], $10::text[], $11::bigint[], $12::text[], $13::text[])
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
