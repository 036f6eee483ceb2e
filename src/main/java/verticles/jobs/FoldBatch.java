package verticles.jobs;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import verticles.common.GroupCommit;

import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;

/**
 * Image outcomes folded into their jobs many at a time: whatever arrived while the previous
 * batch was being written (up to 500) goes in one statement and one commit, instead of one
 * commit per image all queueing on the same job row. A lone outcome is written at once. Each
 * outcome's future completes when its batch is committed (then its delivery is acknowledged).
 */
final class FoldBatch {

  private static final int MOST = 500;

  /** One image's outcome: the image, its new status, and what was measured or what went wrong. */
  record Outcome(long imageId, String status, Integer width, Integer height, Long perimeter, String format, String error,
                 int attempts) {
  }

  private final Pool pool;
  private final Consumer<JsonObject> progressed;
  private final GroupCommit<Outcome, Void> outcomes;

  FoldBatch(Pool pool, MeterRegistry registry, Consumer<JsonObject> progressed) {
    this.pool = pool;
    this.progressed = progressed;
    this.outcomes = new GroupCommit<>(MOST, GroupCommit.sizes(registry, "pulse.jobs.fold.batch.size", "image outcomes folded in one statement"),
      this::write);
  }

  Future<Void> add(Outcome outcome) {
    return outcomes.add(outcome);
  }

  /** A batch that fails is not acknowledged: the notify delivery sends its outcomes again. */
  private Future<?> write(List<GroupCommit.Pending<Outcome, Void>> batch) {
    List<Outcome> sorted = batch.stream().map(GroupCommit.Pending::item)
      .sorted(Comparator.comparingLong(Outcome::imageId)).toList();  // rows locked in one order
    return fold(sorted, 1).onSuccess(rows -> {
      rows.forEach(row -> progressed.accept(JobJson.job(row)));
      batch.forEach(each -> each.answer().complete());
    });
  }

  /** Two folds on other nodes may lock the same jobs in another order: a deadlock is tried again, twice. */
  private Future<RowSet<Row>> fold(List<Outcome> batch, int attempt) {
    int n = batch.size();
    Long[] images = new Long[n];
    String[] statuses = new String[n];
    Integer[] widths = new Integer[n];
    Integer[] heights = new Integer[n];
    Long[] perimeters = new Long[n];
    String[] formats = new String[n];
    String[] errors = new String[n];
    Integer[] attempts = new Integer[n];
    for (int i = 0; i < n; i++) {
      Outcome outcome = batch.get(i);
      images[i] = outcome.imageId();
      statuses[i] = outcome.status();
      widths[i] = outcome.width();
      heights[i] = outcome.height();
      perimeters[i] = outcome.perimeter();
      formats[i] = outcome.format();
      errors[i] = outcome.error();
      attempts[i] = outcome.attempts();
    }
    Tuple args = Tuple.of(images, statuses, widths, heights, perimeters, formats).addValue(errors).addValue(attempts);
    return pool.preparedQuery(JobSql.FOLD).execute(args).recover(error ->
      error instanceof PgException pg && "40P01".equals(pg.getSqlState()) && attempt < 3 ? fold(batch, attempt + 1) : Future.failedFuture(error));
  }
}
