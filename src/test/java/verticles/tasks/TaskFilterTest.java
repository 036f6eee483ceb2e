package verticles.tasks;

import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.Test;
import verticles.common.Caller;
import verticles.common.ServiceFailure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A filter becomes one parameterised condition; a user's is always their own; bad values name their field. */
class TaskFilterTest {

  private static final Caller ADMIN = new Caller(1, Caller.ADMIN);
  private static final Caller USER = new Caller(7, Caller.USER);

  @Test
  void everyValueIsAParameterAndTheStateAKnownLiteral() {
    TaskFilter filter = TaskFilter.of(new JsonObject().put("status", "dead").put("queue", "q'); DROP TABLE tasks; --")
      .put("payload", "customer.id=4'2").put("error", "50%_off\\").put("fingerprint", "0123456789ab"), ADMIN, "");
    Tuple args = Tuple.tuple();
    String condition = filter.condition(args);
    assertEquals("status = 'dead' AND queue = $1 AND payload #>> $2::text[] = $3 AND last_error ILIKE $4"
      + " AND task_error_fingerprint(type, last_error) = $5", condition);
    assertEquals("q'); DROP TABLE tasks; --", args.getString(0));
    assertEquals("4'2", args.getString(2));
    assertEquals("%50\\%\\_off\\\\%", args.getString(3), "LIKE's wildcards and escape are literal");
  }

  @Test
  void aUsersFilterIsTheirOwnTasksWhateverTheySend() {
    Tuple args = Tuple.tuple();
    assertEquals("owner_id = $1", TaskFilter.of(new JsonObject().put("owner_id", 1), USER, "").condition(args));
    assertEquals(7L, args.getLong(0));
    assertEquals("true", TaskFilter.of(new JsonObject(), ADMIN, "").condition(Tuple.tuple()), "an admin's empty filter is everything");
  }

  @Test
  void badValuesAreRefusedNamingTheField() {
    ServiceFailure payload = assertThrows(ServiceFailure.class,
      () -> TaskFilter.of(new JsonObject().put("payload", "no-equals"), ADMIN, "filter."));
    assertTrue(payload.getMessage().startsWith("filter.payload:"), payload.getMessage());
    assertThrows(ServiceFailure.class, () -> TaskFilter.of(new JsonObject().put("status", "lost"), ADMIN, ""));
    assertThrows(ServiceFailure.class, () -> TaskFilter.of(new JsonObject().put("fingerprint", "XYZ"), ADMIN, ""));
    assertThrows(ServiceFailure.class, () -> TaskFilter.of(new JsonObject().put("from", "yesterday"), ADMIN, ""));
  }
}
