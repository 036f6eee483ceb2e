package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The coalescing loop alone: who goes in which batch, and what a failed or careless batch answers. */
class GroupCommitTest {

  /** A writer whose batches stay open until the test completes them. */
  private final List<List<GroupCommit.Pending<Integer, String>>> batches = new ArrayList<>();
  private final List<Promise<Void>> written = new ArrayList<>();
  private final List<Integer> sizes = new ArrayList<>();
  private final GroupCommit<Integer, String> commit = new GroupCommit<>(3, sizes::add, batch -> {
    batches.add(batch);
    Promise<Void> done = Promise.promise();
    written.add(done);
    return done.future();
  });

  @Test
  void aLoneItemIsWrittenAtOnceAndTheRestWaitForTheBatchInFlight() {
    Future<String> first = commit.add(1);
    assertEquals(1, batches.size(), "a lone item does not wait");
    List<Future<String>> later = List.of(commit.add(2), commit.add(3), commit.add(4), commit.add(5));
    assertEquals(1, batches.size(), "nothing more is written while a batch is in flight");

    answerAll(0);
    assertEquals("1", first.result());
    assertEquals(List.of(2, 3, 4), items(1), "the next batch takes what waited, in arrival order, up to the cap");
    answerAll(1);
    assertEquals(List.of(5), items(2));
    answerAll(2);
    assertEquals(List.of("2", "3", "4", "5"), later.stream().map(Future::result).toList());
    assertEquals(List.of(1, 3, 1), sizes);

    commit.add(6);
    assertEquals(4, batches.size(), "once idle, the next item is written at once again");
  }

  @Test
  void aFailedBatchFailsEachOfItsItemsAndTheNextBatchStillGoes() {
    Future<String> first = commit.add(1);
    Future<String> second = commit.add(2);
    written.get(0).fail(new IllegalStateException("connection lost"));
    assertEquals("connection lost", first.cause().getMessage());
    assertEquals(List.of(2), items(1));
    answerAll(1);
    assertEquals("2", second.result());
  }

  @Test
  void anItemTheWriterLeftUnansweredFailsInsteadOfHanging() {
    Future<String> answered = commit.add(1);
    Future<String> forgotten = commit.add(2);
    answerAll(0);
    batches.get(1).get(0).answer().fail(new IllegalArgumentException("refused alone"));
    Future<String> third = commit.add(3);
    written.get(1).complete();
    assertEquals("1", answered.result());
    assertEquals("refused alone", forgotten.cause().getMessage(), "an answer given by the writer stands");
    assertEquals(List.of(3), items(2));
    written.get(2).complete();
    assertTrue(third.failed(), "left unanswered: failed, not pending forever");
  }

  @Test
  void aWriterThatThrowsFailsItsBatch() {
    GroupCommit<Integer, String> throwing = new GroupCommit<>(3, size -> { }, batch -> {
      throw new IllegalStateException("bad batch");
    });
    assertEquals("bad batch", throwing.add(1).cause().getMessage());
    assertEquals("bad batch", throwing.add(2).cause().getMessage(), "and the loop is not stuck");
  }

  private List<Integer> items(int batch) {
    return batches.get(batch).stream().map(GroupCommit.Pending::item).toList();
  }

  private void answerAll(int batch) {
    batches.get(batch).forEach(each -> each.answer().complete(String.valueOf(each.item())));
    written.get(batch).complete();
  }
}
