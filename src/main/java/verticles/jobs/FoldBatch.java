package verticles.jobs;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import verticles.common.RequestContext;

import java.util.ArrayList;
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

  private record Waiting(Outcome outcome, Promise<Void> folded) {
  }

  private final Pool pool;
  private final Consumer<JsonObject> progressed;
  private final List<Waiting> waiting = new ArrayList<>();
  private boolean writing;

  FoldBatch(Pool pool, Consumer<JsonObject> progressed) {
    this.pool = pool;
    this.progressed = progressed;
  }

  Future<Void> add(Outcome outcome) {
    Promise<Void> folded = Promise.promise();
    waiting.add(new Waiting(outcome, folded));
    if (!writing) {
      write();
    }
    return RequestContext.here(folded.future());
  }

  private void write() {
    if (waiting.isEmpty()) {
      writing = false;
      return;
    }
    writing = true;
    List<Waiting> batch = new ArrayList<>(waiting.subList(0, Math.min(MOST, waiting.size())));
    waiting.subList(0, batch.size()).clear();
    batch.sort(Comparator.comparingLong(each -> each.outcome().imageId()));  // rows locked in one order
    fold(batch, 1).onComplete(done -> {
      if (done.succeeded()) {
        done.result().forEach(row -> progressed.accept(JobJson.job(row)));
        batch.forEach(each -> each.folded().complete());
      } else {
        // Not acknowledged: the notify delivery sends these outcomes again.
        batch.forEach(each -> each.folded().fail(done.cause()));
      }
      write();
    });
  }

  /** Two folds on other nodes may lock the same jobs in another order: a deadlock is tried again, twice. */
  private Future<RowSet<Row>> fold(List<Waiting> batch, int attempt) {
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
      Outcome outcome = batch.get(i).outcome();
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
