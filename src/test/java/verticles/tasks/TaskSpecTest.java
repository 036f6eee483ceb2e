package verticles.tasks;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import verticles.common.Caller;
import verticles.common.Failure;
import verticles.common.ServiceFailure;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A submitted task is checked for what its schema cannot say, and leaves with every default filled in. */
class TaskSpecTest {

  private static final Caller ALICE = new Caller(7, Caller.USER);
  private static final Caller ADMIN = new Caller(1, Caller.ADMIN);

  /** A transfer task's JSON as it arrives: parsed from text, so numbers have the types a request gives them. */
  private static JsonObject transfer(String from, String to, String amount) {
    return new JsonObject("{\"type\": \"ledger.transfer\", \"payload\": {\"from_user_id\": " + from + ", \"to_user_id\": " + to
      + ", \"amount\": " + amount + ", \"currency\": \"EUR\"}}");
  }

  /** Fails as a validation failure naming {@code field}, as data and in the message. */
  private static ServiceFailure invalid(String field, Executable parse) {
    ServiceFailure failure = assertThrows(ServiceFailure.class, parse);
    assertEquals(Failure.VALIDATION, Failure.of(failure), failure.getMessage());
    assertEquals(field, failure.details().getJsonArray("errors").getJsonObject(0).getString("field"), failure.getMessage());
    assertTrue(failure.getMessage().startsWith(field + ": "), failure.getMessage());
    return failure;
  }

  @Test
  void anUnknownTypeIsRefusedNamingTheFieldWithItsPrefix() {
    ServiceFailure failure = invalid("tasks.3.type",
      () -> TaskSpec.parse(new JsonObject().put("type", "rm -rf"), ALICE, "tasks.3.", null));
    assertTrue(failure.getMessage().contains("known: http.request, image.perimeter, ledger.transfer, noop, product.image"), failure.getMessage());
  }

  @Test
  void aMissingTypeIsRefusedNamingIt() {
    invalid("type", () -> TaskSpec.parse(new JsonObject(), ALICE, "", null));
  }

  @Test
  void runAtAndDelayTogetherAreRefused() {
    invalid("task.run_at", () -> TaskSpec.parse(new JsonObject().put("type", "noop").put("run_at", "2030-01-01T00:00:00Z")
      .put("delay_ms", 1000), ALICE, "task.", null));
  }

  @Test
  void aLeapSecondRunAtIsRefusedNamingRunAt() {
    // RFC 3339 (and so the schema's date-time) allows second 60; java.time does not.
    invalid("run_at", () -> TaskSpec.parse(new JsonObject().put("type", "noop").put("run_at", "2016-12-31T23:59:60Z"), ALICE, "", null));
    invalid("run_at", () -> TaskSpec.parse(new JsonObject().put("type", "noop").put("run_at", "2030-01-01T00:00:00"), ALICE, "", null));
  }

  @Test
  void runAtKeepsItsInstantAndDelayCountsFromNow() {
    TaskSpec at = TaskSpec.parse(new JsonObject().put("type", "noop").put("run_at", "2030-01-01T02:00:00+02:00"), ALICE, "", null);
    assertEquals(OffsetDateTime.parse("2030-01-01T00:00:00Z").toInstant(), at.runAt().toInstant());

    OffsetDateTime before = OffsetDateTime.now(ZoneOffset.UTC);
    TaskSpec later = TaskSpec.parse(new JsonObject().put("type", "noop").put("delay_ms", 60_000), ALICE, "", null);
    Duration delay = Duration.between(before, later.runAt());
    assertTrue(delay.compareTo(Duration.ofSeconds(60)) >= 0 && delay.compareTo(Duration.ofSeconds(65)) < 0, delay.toString());
  }

  @Test
  void everyDefaultIsFilledIn() {
    OffsetDateTime before = OffsetDateTime.now(ZoneOffset.UTC);
    TaskSpec spec = TaskSpec.parse(new JsonObject().put("type", "noop"), ALICE, "", null);
    assertEquals("noop", spec.type());
    assertEquals("default", spec.queue());
    assertEquals(0, spec.priority());
    assertEquals(5, spec.maxAttempts());
    assertEquals(30_000, spec.timeoutMs());
    assertEquals(Backoff.DEFAULT, spec.backoff());
    assertEquals(new JsonObject(), spec.payload());
    assertNull(spec.idempotencyKey());
    assertTrue(!spec.runAt().isBefore(before) && spec.runAt().isBefore(before.plusSeconds(5)), "due now: " + spec.runAt());
  }

  @Test
  void givenValuesAreKept() {
    TaskSpec spec = TaskSpec.parse(new JsonObject("{\"type\": \"http.request\", \"queue\": \"hooks\", \"priority\": 9,"
      + " \"max_attempts\": 2, \"timeout_ms\": 1000, \"backoff\": {\"kind\": \"fixed\", \"base_ms\": 500},"
      + " \"payload\": {\"url\": \"https://example.com\"}}"), ALICE, "", "key-1");
    assertEquals("hooks", spec.queue());
    assertEquals(9, spec.priority());
    assertEquals(2, spec.maxAttempts());
    assertEquals(1000, spec.timeoutMs());
    assertEquals(new Backoff("fixed", 500, 300_000), spec.backoff());
    assertEquals("https://example.com", spec.payload().getString("url"));
    assertEquals("key-1", spec.idempotencyKey());
  }

  @Test
  void aTransferOfTheCallersOwnMoneyIsAccepted() {
    TaskSpec spec = TaskSpec.parse(transfer("7", "8", "2500"), ALICE, "", null);
    assertEquals("ledger.transfer", spec.type());
    assertEquals(2500, spec.payload().getLong("amount"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"null", "0", "-7", "7.5", "18446744073709551617", "9223372036854775808", "\"7\"", "1e19", "true", "[7]"})
  void aPayerThatIsNotAnExactIdIsRefusedNamingIt(String from) {
    invalid("payload.from_user_id", () -> TaskSpec.parse(transfer(from, "8", "100"), ADMIN, "", null));
    invalid("tasks.0.payload.from_user_id", () -> TaskSpec.parse(transfer(from, "8", "100"), ADMIN, "tasks.0.", null));
  }

  @ParameterizedTest
  @ValueSource(strings = {"null", "0", "8.25", "18446744073709551617", "\"8\"", "1e400"})
  void aPayeeThatIsNotAnExactIdIsRefusedNamingIt(String to) {
    invalid("payload.to_user_id", () -> TaskSpec.parse(transfer("7", to, "100"), ALICE, "", null));
  }

  @ParameterizedTest
  @ValueSource(strings = {"null", "0", "-1", "0.5", "1000000000000001", "18446744073709551617", "\"100\""})
  void anAmountOutsideOneCentToTenToTheFifteenIsRefused(String amount) {
    invalid("payload.amount", () -> TaskSpec.parse(transfer("7", "8", amount), ALICE, "", null));
  }

  @Test
  void aMissingPayloadNamesThePayer() {
    invalid("payload.from_user_id", () -> TaskSpec.parse(new JsonObject().put("type", "ledger.transfer"), ALICE, "", null));
  }

  @Test
  void aWholeNumberWrittenAsADecimalIsTheSameId() {
    TaskSpec spec = TaskSpec.parse(transfer("7.0", "8", "1000000000000000"), ALICE, "", null);
    assertEquals("ledger.transfer", spec.type());
  }

  @Test
  void onlyThePayerOrAnAdminMaySubmitATransfer() {
    ServiceFailure forbidden = assertThrows(ServiceFailure.class, () -> TaskSpec.parse(transfer("8", "7", "100"), ALICE, "", null));
    assertEquals(Failure.FORBIDDEN, Failure.of(forbidden));
    assertNull(forbidden.details());
    TaskSpec byAdmin = TaskSpec.parse(transfer("8", "7", "100"), ADMIN, "", null);
    assertEquals(8, byAdmin.payload().getLong("from_user_id"));
  }

  @Test
  void aTransferToThePayerIsRefusedEvenForAnAdmin() {
    invalid("payload.to_user_id", () -> TaskSpec.parse(transfer("7", "7", "100"), ALICE, "", null));
    invalid("payload.to_user_id", () -> TaskSpec.parse(transfer("8", "8", "100"), ADMIN, "", null));
  }

  @Test
  void badIdsAreNamedBeforeTheCallerIsChecked() {
    // Someone else's id, malformed: the answer is about the field, and says nothing about whose it is.
    invalid("payload.from_user_id", () -> TaskSpec.parse(transfer("8.5", "7", "100"), ALICE, "", null));
  }

  @Test
  void otherTypesAreNotCheckedForMoney() {
    TaskSpec spec = TaskSpec.parse(new JsonObject().put("type", "noop").put("payload", new JsonObject().put("from_user_id", "x")),
      ALICE, "", null);
    assertEquals("x", spec.payload().getString("from_user_id"));
  }
}
