package verticles.ledger;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import verticles.Migrations;
import verticles.support.TestServers;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * ledger_apply (V10), the group commit's one statement, on real PostgreSQL with batches made by
 * hand: each move has its own outcome in arrival order, keys replay inside one batch, and
 * batches locking the same accounts in opposite orders do not deadlock.
 */
class LedgerBatchTest {

  private static String url;

  /** One move of a hand-made batch. */
  private record M(String kind, long from, long to, long amount, String currency, Long reverses, String key, String hash) {
    static M transfer(long from, long to, long amount) {
      return new M("transfer", from, to, amount, "USD", null, null, null);
    }

    static M debit(long from, long amount) {
      return new M("debit", from, 0, amount, "USD", null, null, null);
    }

    static M credit(long to, long amount) {
      return new M("credit", 0, to, amount, "USD", null, null, null);
    }

    M keyed(String key, String hash) {
      return new M(kind, from, to, amount, currency, reverses, key, hash);
    }

    M in(String otherCurrency) {
      return new M(kind, from, to, amount, otherCurrency, reverses, key, hash);
    }
  }

  /** A verdict and its answer. */
  private record Verdict(String verdict, String answer) {
  }

  @BeforeAll
  static void schema() {
    url = TestServers.freshDatabase();
    Migrations.migrate(url);
  }

  private static List<Verdict> apply(Connection db, List<M> moves) throws SQLException {
    int n = moves.size();
    String[] kinds = new String[n];
    String[] types = new String[n];
    Long[] froms = new Long[n];
    Long[] tos = new Long[n];
    Long[] amounts = new Long[n];
    String[] currencies = new String[n];
    Long[] reverses = new Long[n];
    Long[] scopes = new Long[n];
    String[] keys = new String[n];
    String[] hashes = new String[n];
    for (int i = 0; i < n; i++) {
      M move = moves.get(i);
      kinds[i] = move.kind();
      types[i] = move.reverses() != null ? "reversal" : move.kind();
      froms[i] = move.from();
      tos[i] = move.to();
      amounts[i] = move.amount();
      currencies[i] = move.currency();
      reverses[i] = move.reverses();
      scopes[i] = 1L;
      keys[i] = move.key();
      hashes[i] = move.hash();
    }
    try (PreparedStatement call = db.prepareStatement("SELECT move, verdict, answer FROM ledger_apply(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      call.setArray(1, db.createArrayOf("text", kinds));
      call.setArray(2, db.createArrayOf("text", types));
      call.setArray(3, db.createArrayOf("bigint", froms));
      call.setArray(4, db.createArrayOf("bigint", tos));
      call.setArray(5, db.createArrayOf("bigint", amounts));
      call.setArray(6, db.createArrayOf("text", currencies));
      call.setArray(7, db.createArrayOf("text", new String[n]));
      call.setArray(8, db.createArrayOf("bigint", reverses));
      call.setArray(9, db.createArrayOf("bigint", new Long[n]));
      call.setArray(10, db.createArrayOf("text", new String[n]));
      call.setArray(11, db.createArrayOf("bigint", scopes));
      call.setArray(12, db.createArrayOf("text", keys));
      call.setArray(13, db.createArrayOf("text", hashes));
      List<Verdict> verdicts = new ArrayList<>();
      try (ResultSet rows = call.executeQuery()) {
        while (rows.next()) {
          assertEquals(verdicts.size() + 1, rows.getInt("move"), "in arrival order");
          verdicts.add(new Verdict(rows.getString("verdict"), rows.getString("answer")));
        }
      }
      return verdicts;
    }
  }

  private static long balance(long user) {
    return TestServers.scalar(url, "SELECT coalesce(sum(amount), 0) FROM balances WHERE user_id = " + user);
  }

  private static long balance(long user, String currency) {
    return TestServers.scalar(url, "SELECT amount FROM balances WHERE user_id = " + user + " AND currency = '" + currency + "'");
  }

  /**
   * The lock query (V15) takes a party's balance in every currency of the batch, also one its moves
   * do not touch: that row is locked, not written, and each move spends from its own currency.
   */
  @Test
  void aBatchInTwoCurrenciesChangesOnlyTheBalancesItsMovesTouch() throws Exception {
    try (Connection db = TestServers.jdbc(url)) {
      apply(db, List.of(M.credit(601, 100), M.credit(601, 50).in("EUR"), M.credit(603, 40).in("EUR")));
      String written = "SELECT (extract(epoch FROM updated_at) * 1000000)::bigint FROM balances WHERE user_id = 601 AND currency = 'EUR'";
      long eurWrittenAt = TestServers.scalar(url, written);
      List<Verdict> verdicts = apply(db, List.of(M.transfer(601, 602, 30), M.transfer(603, 604, 15).in("EUR"),
        M.debit(601, 60).in("EUR")));
      assertEquals(List.of("ok", "ok", "insufficient"), verdicts.stream().map(Verdict::verdict).toList(),
        "601 holds 70 USD but only 50 EUR");
      assertEquals(70, balance(601, "USD"));
      assertEquals(30, balance(602, "USD"));
      assertEquals(50, balance(601, "EUR"));
      assertEquals(eurWrittenAt, TestServers.scalar(url, written), "601's EUR row was locked, not written");
      assertEquals(25, balance(603, "EUR"));
      assertEquals(15, balance(604, "EUR"));
      assertEquals(0, TestServers.scalar(url, "SELECT count(*) FROM balances b WHERE b.user_id BETWEEN 601 AND 604 AND b.amount <> "
        + "(SELECT sum(e.amount) FROM entries e WHERE e.account_id = b.user_id AND e.currency = b.currency)"),
        "every balance is the sum of its entries in its currency");
    }
  }

  @Test
  void aRefusedMoveChangesNothingAndTheNextMoveStillRuns() throws Exception {
    try (Connection db = TestServers.jdbc(url)) {
      apply(db, List.of(M.credit(101, 100)));
      List<Verdict> verdicts = apply(db, List.of(M.debit(101, 60), M.debit(101, 60), M.debit(101, 30), M.transfer(101, 102, 20)));
      assertEquals(List.of("ok", "insufficient", "ok", "insufficient"), verdicts.stream().map(Verdict::verdict).toList());
      assertEquals(10, balance(101), "100 - 60 - 30; the refused 60 and 20 changed nothing");
      assertEquals(0, balance(102));
      assertEquals(0, TestServers.scalar(url, "SELECT sum(amount) FROM entries"), "every entry pairs with another");
      JsonObject debit = new JsonObject(verdicts.get(0).answer());
      assertEquals(60, debit.getLong("amount"));
      assertEquals(101, debit.getLong("from_user_id"));
      assertEquals(null, debit.getValue("to_user_id"), "the outside world is null, as the API shows it");
      assertNotNull(java.time.OffsetDateTime.parse(debit.getString("created_at")));
    }
  }

  /** ledger_time (V14) writes an answer's created_at: UTC, whole seconds, milliseconds or microseconds, as Java's Instant. */
  @Test
  void answerTimesAreWrittenAsJavaWritesInstants() throws Exception {
    List<String> instants = List.of("2026-11-30T08:00:00Z", "2026-11-30T08:00:00.500Z", "2026-11-30T08:00:00.123Z",
      "2026-11-30T08:00:00.000123Z", "2026-11-30T23:59:59.999999Z", "1999-01-01T00:00:00.010Z", "2026-03-01T12:34:56.700100Z");
    try (Connection db = TestServers.jdbc(url); Statement session = db.createStatement();
         PreparedStatement call = db.prepareStatement("SELECT ledger_time(?::timestamptz)")) {
      session.execute("SET TimeZone = 'Asia/Kolkata'");
      for (String instant : instants) {
        call.setString(1, java.time.Instant.parse(instant).atOffset(java.time.ZoneOffset.ofHours(2)).toString());
        try (ResultSet rows = call.executeQuery()) {
          rows.next();
          assertEquals(java.time.Instant.parse(instant).toString(), rows.getString(1), "given at +02:00, in a session at +05:30");
        }
      }
    }
  }

  @Test
  void aKeyReplaysInsideOneBatchAndAnotherBodyIsRefused() throws Exception {
    try (Connection db = TestServers.jdbc(url)) {
      apply(db, List.of(M.credit(201, 1_000)));
      List<Verdict> verdicts = apply(db, List.of(M.transfer(201, 202, 5).keyed("k1", "h1"), M.transfer(201, 202, 5).keyed("k1", "h1"),
        M.transfer(201, 202, 7).keyed("k1", "h2"), M.debit(201, 5_000).keyed("k2", "h3"), M.debit(201, 50).keyed("k2", "h3")));
      assertEquals(List.of("ok", "replayed", "key_reused", "insufficient", "ok"), verdicts.stream().map(Verdict::verdict).toList());
      assertEquals(verdicts.get(0).answer(), verdicts.get(1).answer(), "the replay is the first answer, byte for byte");
      assertEquals(945, balance(201), "5 moved once, then 50: the refused first use of k2 left the key free");
      List<Verdict> later = apply(db, List.of(M.transfer(201, 202, 5).keyed("k1", "h1")));
      assertEquals("replayed", later.get(0).verdict());
      assertEquals(verdicts.get(0).answer(), later.get(0).answer(), "and so is a replay in a later batch");
    }
  }

  @Test
  void anAccountMadeInABatchIsSpentFromInItWithItsRunningBalance() throws Exception {
    try (Connection db = TestServers.jdbc(url)) {
      List<Verdict> verdicts = apply(db, List.of(M.credit(501, 100), M.transfer(501, 502, 30), M.transfer(502, 501, 10),
        M.debit(501, 80), M.debit(502, 21)));
      assertEquals(List.of("ok", "ok", "ok", "ok", "insufficient"), verdicts.stream().map(Verdict::verdict).toList());
      assertEquals(0, balance(501));
      assertEquals(20, balance(502));
      try (ResultSet rows = db.createStatement().executeQuery(
        "SELECT string_agg(amount || '=' || balance_after, ' ' ORDER BY id) FROM entries WHERE account_id = 501")) {
        rows.next();
        assertEquals("100=100 -30=70 10=80 -80=0", rows.getString(1), "each entry's balance_after is the running sum, in move order");
      }
      assertEquals(4, TestServers.scalar(url, "SELECT count(*) FROM audit_logs WHERE entity_type = 'transaction' AND entity_id IN ("
        + "SELECT id::text FROM transactions WHERE 501 IN (from_user, to_user))"), "one audit row per applied move");
    }
  }

  @Test
  void aTransactionIsReversedOncePerBatchAndAcrossBatches() throws Exception {
    try (Connection db = TestServers.jdbc(url)) {
      apply(db, List.of(M.credit(301, 500)));
      long paid = new JsonObject(apply(db, List.of(M.transfer(301, 302, 200))).get(0).answer()).getLong("id");
      M back = new M("transfer", 302, 301, 200, "USD", paid, null, null);
      assertEquals(List.of("ok", "already_reversed"), apply(db, List.of(back, back)).stream().map(Verdict::verdict).toList());
      assertEquals("already_reversed", apply(db, List.of(back)).get(0).verdict());
      assertEquals(500, balance(301));
    }
  }

  @Test
  void batchesLockingTheSameAccountsInOppositeOrdersNeverDeadlock() throws Exception {
    try (Connection db = TestServers.jdbc(url)) {
      List<M> funding = new ArrayList<>();
      for (long user = 401; user <= 420; user++) {
        funding.add(M.credit(user, 1_000_000));
      }
      apply(db, funding);
    }
    List<CompletableFuture<Void>> runs = new ArrayList<>();
    for (int worker = 0; worker < 4; worker++) {
      boolean upward = worker % 2 == 0;
      runs.add(CompletableFuture.runAsync(() -> {
        try (Connection db = TestServers.jdbc(url)) {
          for (int round = 0; round < 40; round++) {
            List<M> moves = new ArrayList<>();
            for (long user = 401; user < 420; user++) {
              moves.add(upward ? M.transfer(user, user + 1, 3) : M.transfer(user + 1, user, 3));
            }
            apply(db, moves);
          }
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      }));
    }
    CompletableFuture.allOf(runs.toArray(new CompletableFuture[0])).get(120, TimeUnit.SECONDS);
    assertEquals(20 * 1_000_000, TestServers.scalar(url, "SELECT sum(amount) FROM balances WHERE user_id BETWEEN 401 AND 420"));
    try (Connection db = TestServers.jdbc(url); Statement check = db.createStatement()) {
      ResultSet wrong = check.executeQuery("SELECT count(*) FROM balances b WHERE b.user_id BETWEEN 401 AND 420 AND b.amount <> "
        + "(SELECT sum(e.amount) FROM entries e WHERE e.account_id = b.user_id)");
      wrong.next();
      assertEquals(0, wrong.getLong(1), "every balance is the sum of its entries");
    }
  }
}
