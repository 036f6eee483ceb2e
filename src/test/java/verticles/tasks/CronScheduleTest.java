package verticles.tasks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When a schedule fires: five or six fields, in a time zone, across daylight-saving changes. */
class CronScheduleTest {

  private static final ZoneId PARIS = ZoneId.of("Europe/Paris");

  private static Instant at(String instant) {
    return Instant.parse(instant);
  }

  @Test
  void fiveFieldsStartWithTheMinute() {
    CronSchedule quarterly = CronSchedule.parse("*/15 * * * *", "UTC");
    assertEquals(at("2026-01-01T00:15:00Z"), quarterly.next(at("2026-01-01T00:07:00Z")));
    assertEquals(at("2026-01-01T00:30:00Z"), quarterly.next(at("2026-01-01T00:15:00Z")), "strictly after");
  }

  @Test
  void sixFieldsStartWithTheSecond() {
    CronSchedule everyTenSeconds = CronSchedule.parse("*/10 * * * * *", "UTC");
    assertEquals(at("2026-01-01T00:00:10Z"), everyTenSeconds.next(at("2026-01-01T00:00:03Z")));
    CronSchedule nineThirty = CronSchedule.parse("15 30 9 * * *", "UTC");
    assertEquals(at("2026-01-01T09:30:15Z"), nineThirty.next(at("2026-01-01T00:00:00Z")));
  }

  @Test
  void theExpressionIsReadInItsTimeZone() {
    CronSchedule nineInParis = CronSchedule.parse("  0 9 * * 1-5 ", "Europe/Paris");
    assertEquals(at("2026-01-05T08:00:00Z"), nineInParis.next(at("2026-01-03T12:00:00Z")), "Monday 09:00 in winter is 08:00 UTC");
    assertEquals(at("2026-07-06T07:00:00Z"), nineInParis.next(at("2026-07-04T12:00:00Z")), "and 07:00 UTC in summer");
  }

  @ParameterizedTest
  @ValueSource(strings = {"not a cron", "* * * *", "61 * * * *", "0 25 * * *", "0 0 * * 8", "@daily", "0 0 0 * * * 2026", "0 60 * * * *", ""})
  void anInvalidExpressionIsRefusedNamingCron(String expression) {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> CronSchedule.parse(expression, "UTC"));
    assertTrue(error.getMessage().startsWith("cron: "), error.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"Mars/Olympus_Mons", "", "Europe/paris/x", "+25:00"})
  void anInvalidZoneIsRefusedNamingTimezone(String zone) {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> CronSchedule.parse("0 9 * * *", zone));
    assertTrue(error.getMessage().startsWith("timezone: "), error.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"0 0 30 2 *", "0 0 31 4 *", "0 0 0 30 2 *"})
  void anExpressionThatNeverFiresIsRefusedWhenParsed(String expression) {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> CronSchedule.parse(expression, "UTC"));
    assertEquals("cron: '" + expression + "' never fires", error.getMessage());
  }

  @Test
  void theTwentyNinthOfFebruaryFiresInLeapYearsOnly() {
    CronSchedule leapDay = CronSchedule.parse("0 0 29 2 *", "UTC");
    assertEquals(at("2028-02-29T00:00:00Z"), leapDay.next(at("2026-03-01T00:00:00Z")));
  }

  @Test
  void aDailyJobInTheHourSpringForwardSkipsDoesNotFireThatDay() {
    // 2026-03-29 in Paris: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist. cron-utils
    // neither fires it at 03:00 nor at 03:30 (as Vixie cron would): the day has no occurrence.
    CronSchedule daily = CronSchedule.parse("30 2 * * *", "Europe/Paris");
    Instant saturday = daily.next(at("2026-03-27T12:00:00Z"));
    assertEquals(at("2026-03-28T01:30:00Z"), saturday, "02:30 CET");
    Instant monday = daily.next(saturday);
    assertEquals(at("2026-03-30T00:30:00Z"), monday, "02:30 CEST; nothing on the Sunday");
    assertEquals(monday, daily.next(at("2026-03-29T01:00:00Z")), "asked from the very change, still Monday");
  }

  @Test
  void aDailyJobInTheHourFallBackRepeatsFiresOnceThatDay() {
    // 2026-10-25 in Paris: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice (00:30Z, 01:30Z).
    CronSchedule daily = CronSchedule.parse("30 2 * * *", "Europe/Paris");
    Instant saturday = daily.next(at("2026-10-23T12:00:00Z"));
    Instant sunday = daily.next(saturday);
    Instant monday = daily.next(sunday);
    assertEquals(at("2026-10-24T00:30:00Z"), saturday);
    assertEquals(at("2026-10-25T00:30:00Z"), sunday, "the first 02:30, still in summer time");
    assertEquals(at("2026-10-26T01:30:00Z"), monday, "chained from the first, the repeat is skipped");
    // What the scheduler never does, but a schedule created or changed in the repeated hour gets:
    // asked from between the two, cron-utils gives the second 02:30.
    assertEquals(at("2026-10-25T01:30:00Z"), daily.next(at("2026-10-25T00:45:00Z")));
  }

  @Test
  void aYearOfDailyOccurrencesIsStrictlyIncreasingAndAtMostOnePerDay() {
    CronSchedule daily = CronSchedule.parse("30 2 * * *", "Europe/Paris");
    List<Instant> occurrences = new ArrayList<>();
    Set<LocalDate> days = new HashSet<>();
    Instant previous = at("2025-12-31T23:00:00Z");  // 2026-01-01 00:00 in Paris
    for (Instant next = daily.next(previous); next.isBefore(at("2026-12-31T23:00:00Z")); next = daily.next(next)) {
      assertTrue(next.isAfter(previous), next + " after " + previous);
      ZonedDateTime local = next.atZone(PARIS);
      assertEquals(LocalTime.of(2, 30), local.toLocalTime(), next.toString());
      assertTrue(days.add(local.toLocalDate()), "a second fire on " + local.toLocalDate());
      occurrences.add(next);
      previous = next;
    }
    assertEquals(364, occurrences.size(), "every day of 2026 but the spring-forward Sunday");
    assertFalse(days.contains(LocalDate.of(2026, 3, 29)));
    assertTrue(days.contains(LocalDate.of(2026, 10, 25)));
  }

  @Test
  void latestAtOrBeforeIncludesTheInstantItself() {
    CronSchedule hourly = CronSchedule.parse("0 * * * *", "UTC");
    assertEquals(at("2026-05-01T10:00:00Z"), hourly.latestAtOrBefore(at("2026-05-01T10:00:00Z")), "an occurrence is at or before itself");
    assertEquals(at("2026-05-01T09:00:00Z"), hourly.latestAtOrBefore(at("2026-05-01T09:59:59.999Z")));
    assertEquals(at("2026-05-01T10:00:00Z"), hourly.latestAtOrBefore(at("2026-05-01T10:42:00Z")));
  }

  @Test
  void latestAtOrBeforeAcrossTheDaylightSavingChanges() {
    CronSchedule daily = CronSchedule.parse("30 2 * * *", "Europe/Paris");
    assertEquals(at("2026-03-28T01:30:00Z"), daily.latestAtOrBefore(at("2026-03-29T12:00:00Z")), "the skipped day has none");
    assertEquals(at("2026-10-25T00:30:00Z"), daily.latestAtOrBefore(at("2026-10-25T01:00:00Z")));
    assertEquals(at("2026-10-25T01:30:00Z"), daily.latestAtOrBefore(at("2026-10-25T01:30:00Z")),
      "the repeated 02:30 counts as an occurrence when looking back");
  }
}
