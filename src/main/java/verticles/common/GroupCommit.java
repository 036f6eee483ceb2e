package verticles.common;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Group commit: the items that arrive while a batch is being written go together as the next
 * batch. A lone item is written at once, with no timer; batches grow only under load, up to a
 * cap. The writer answers each item of its batch; when it fails, or leaves an item unanswered,
 * that item fails with it. One per verticle instance, used on its event loop (not thread-safe).
 *
 * @param <I> what is written
 * @param <O> each item's answer
 */
public final class GroupCommit<I, O> {

  /** An item waiting for its batch, and its answer. */
  public record Pending<I, O>(I item, Promise<O> answer) {
  }

  /** Writes one batch and answers each of its items. */
  @FunctionalInterface
  public interface Writer<I, O> {
    Future<?> write(List<Pending<I, O>> batch);
  }

  private final int most;
  private final IntConsumer sizes;
  private final Writer<I, O> writer;
  private final List<Pending<I, O>> waiting = new ArrayList<>();
  private boolean writing;

  /** At most {@code most} items a batch; {@code sizes} hears each batch's size. */
  public GroupCommit(int most, IntConsumer sizes, Writer<I, O> writer) {
    this.most = most;
    this.sizes = sizes;
    this.writer = writer;
  }

  /** A batch-size histogram (p50, p90, p99) to pass as {@code sizes}; nothing is recorded without a registry. */
  public static IntConsumer sizes(MeterRegistry registry, String name, String description) {
    if (registry == null) {
      return size -> { };
    }
    DistributionSummary summary = DistributionSummary.builder(name).description(description)
      .publishPercentiles(0.5, 0.9, 0.99).register(registry);
    return summary::record;
  }

  public Future<O> add(I item) {
    Promise<O> answer = Promise.promise();
    waiting.add(new Pending<>(item, answer));
    if (!writing) {
      writeNext();
    }
    return RequestContext.here(answer.future());
  }

  private void writeNext() {
    if (waiting.isEmpty()) {
      writing = false;
      return;
    }
    writing = true;
    List<Pending<I, O>> batch = new ArrayList<>(waiting.subList(0, Math.min(most, waiting.size())));
    waiting.subList(0, batch.size()).clear();
    sizes.accept(batch.size());
    Future<?> written;
    try {
      written = writer.write(batch);
    } catch (RuntimeException e) {
      written = Future.failedFuture(e);
    }
    written.onComplete(done -> {
      for (Pending<I, O> each : batch) {
        if (!each.answer().future().isComplete()) {
          each.answer().fail(done.failed() ? done.cause() : new IllegalStateException("the batch left this item unanswered"));
        }
      }
      writeNext();
    });
  }
}
