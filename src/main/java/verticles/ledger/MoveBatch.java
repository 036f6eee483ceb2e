package verticles.ledger;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import verticles.common.GroupCommit;
import verticles.common.Failure;

import java.util.List;
import java.util.Locale;

/**
 * Group commit for money moves: the moves that arrive while a batch is being written are
 * applied together as the next batch, in one transaction and one round trip
 * ({@code ledger_apply}, V10, V13, V14, V15), each with its own outcome. A lone move is written at
 * once: batches grow only under load, up to {@value #MOST} moves.
 */
final class MoveBatch {

  static final int MOST = 256;
  private static final int TRIES = 3;

  /** A move's answer, and whether it is the first answer of its idempotency key given again. */
  record Outcome(JsonObject transaction, boolean replayed) {
  }

  /** One move, with who asked (actor, request id) and its idempotency key's scope, key and hash. */
  private record Queued(Move move, Long actor, String requestId, long scope, String key, String hash) {
  }

  private final Pool pool;
  private final GroupCommit<Queued, Outcome> moves;

  MoveBatch(Pool pool, MeterRegistry registry) {
    this.pool = pool;
    this.moves = new GroupCommit<>(MOST, GroupCommit.sizes(registry, "pulse.ledger.batch.size", "money moves per transaction"), this::write);
  }

  Future<Outcome> add(Move move, Long actor, String requestId, long scope, String key, String hash) {
    return moves.add(new Queued(move, actor, requestId, scope, key, hash));
  }

  /** Nothing of a batch that fails was applied. */
  private Future<?> write(List<GroupCommit.Pending<Queued, Outcome>> batch) {
    return apply(batch.stream().map(GroupCommit.Pending::item).toList(), 1).onSuccess(rows -> {
      for (Row row : rows) {
        GroupCommit.Pending<Queued, Outcome> pending = batch.get(row.getInteger("move") - 1);
        settle(pending.item().move(), pending.answer(), row.getString("verdict"), row.getString("answer"));
      }
    });
  }

  private static void settle(Move move, Promise<Outcome> done, String verdict, String answer) {
    switch (verdict) {
      case "ok" -> done.complete(new Outcome(new JsonObject(answer), false));
      case "replayed" -> done.complete(new Outcome(new JsonObject(answer), true));
      case "insufficient" -> done.fail(Failure.INSUFFICIENT_FUNDS.exception("insufficient funds: the balance in "
        + move.currency() + " is below " + move.amount()));
      case "key_reused" -> done.fail(Failure.IDEMPOTENCY_KEY_REUSED.exception("this Idempotency-Key was used with a different request"));
      case "already_reversed" -> done.fail(Failure.WRONG_STATE.exception("this transaction was already reversed"));
      default -> done.fail(new IllegalStateException("ledger_apply answered " + verdict));
    }
  }

  /**
   * The batch in one statement. A deadlock cannot come from the balance rows (locked in one
   * order), but two batches reversing the same transaction can collide on its unique index, and a
   * serialization failure is always possible: those try the whole batch again, nothing of it
   * having been applied.
   */
  private Future<RowSet<Row>> apply(List<Queued> batch, int attempt) {
    int n = batch.size();
    String[] kinds = new String[n];
    String[] types = new String[n];
    Long[] froms = new Long[n];
    Long[] tos = new Long[n];
    Long[] amounts = new Long[n];
    String[] currencies = new String[n];
    String[] descriptions = new String[n];
    Long[] reverses = new Long[n];
    Long[] actors = new Long[n];
    String[] requestIds = new String[n];
    Long[] scopes = new Long[n];
    String[] keys = new String[n];
    String[] hashes = new String[n];
    for (int i = 0; i < n; i++) {
      Queued queued = batch.get(i);
      Move move = queued.move();
      kinds[i] = move.kind().name().toLowerCase(Locale.ROOT);
      types[i] = move.type();
      froms[i] = move.from();
      tos[i] = move.to();
      amounts[i] = move.amount();
      currencies[i] = move.currency();
      descriptions[i] = move.description();
      reverses[i] = move.reverses();
      actors[i] = queued.actor();
      requestIds[i] = queued.requestId();
      scopes[i] = queued.scope();
      keys[i] = queued.key();
      hashes[i] = queued.hash();
    }
    Tuple args = Tuple.of(kinds, types, froms, tos, amounts, currencies).addValue(descriptions).addValue(reverses)
      .addValue(actors).addValue(requestIds).addValue(scopes).addValue(keys).addValue(hashes);
    return pool.preparedQuery(LedgerSql.APPLY).execute(args).recover(error -> {
      boolean again = error instanceof PgException pg && List.of("40001", "40P01", "23505").contains(pg.getSqlState());
      return again && attempt < TRIES ? apply(batch, attempt + 1) : Future.failedFuture(error);
    });
  }
}
