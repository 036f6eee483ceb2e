package verticles.identity;

/** The SQL of the users table, in one place. */
final class UserSql {

  private UserSql() {
  }

  static final String COLUMNS = "id, username, email, role, status, token_version, created_at, updated_at";

  static final String INSERT =
    "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING " + COLUMNS;

  static final String UPSERT_ADMIN =
    "INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, 'admin') "
      + "ON CONFLICT ((lower(username))) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
      + "role = 'admin', status = 'active', updated_at = now() RETURNING " + COLUMNS;

  /** Login by username or email; only active users may log in. */
  static final String FIND_FOR_LOGIN =
    "SELECT id, role, token_version, password_hash FROM users "
      + "WHERE (lower(username) = lower($1) OR lower(email) = lower($1)) AND status = 'active' LIMIT 1";

  static final String PRINCIPAL = "SELECT role, status, token_version FROM users WHERE id = $1";

  static final String LOOKUP = "SELECT id, role, status, token_version FROM users WHERE id = ANY($1::bigint[])";

  static final String FIND = "SELECT " + COLUMNS + " FROM users WHERE id = $1";

  static final String FIND_WITH_HASH = "SELECT " + COLUMNS + ", password_hash FROM users WHERE id = $1";

  static final String FIND_FOR_UPDATE = FIND_WITH_HASH + " FOR UPDATE";

  static final String PAGE = "SELECT " + COLUMNS + " FROM users WHERE id > $1 ORDER BY id LIMIT $2";

  static final String UPDATE =
    "UPDATE users SET email = $2, password_hash = $3, role = $4, status = $5, token_version = $6, updated_at = now() "
      + "WHERE id = $1 RETURNING " + COLUMNS;

  static final String DELETE =
    "UPDATE users SET status = 'deleted', token_version = token_version + 1, updated_at = now() "
      + "WHERE id = $1 AND status <> 'deleted' RETURNING id";
}
