package verticles.tasks;

import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;

/**
 * A cron expression in a time zone (cron-utils): five fields (Unix: minute hour day month
 * weekday) or six (seconds first, Spring style). Daylight-saving gaps and repeats follow
 * cron-utils' rules for that zone.
 */
final class CronSchedule {

  private static final CronParser UNIX = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));
  private static final CronParser WITH_SECONDS = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.SPRING));

  private final ExecutionTime times;
  private final ZoneId zone;

  private CronSchedule(ExecutionTime times, ZoneId zone) {
    this.times = times;
    this.zone = zone;
  }

  /** Throws IllegalArgumentException naming "cron" or "timezone" when either is not valid. */
  static CronSchedule parse(String expression, String timezone) {
    ZoneId zone;
    try {
      zone = ZoneId.of(timezone);
    } catch (DateTimeException e) {
      throw new IllegalArgumentException("timezone: '" + timezone + "' is not a time zone (e.g. Europe/Paris)");
    }
    String trimmed = expression.trim();
    CronSchedule schedule;
    try {
      CronParser parser = trimmed.split("\\s+").length == 6 ? WITH_SECONDS : UNIX;
      schedule = new CronSchedule(ExecutionTime.forCron(parser.parse(trimmed).validate()), zone);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("cron: '" + expression + "' is not a valid cron expression (" + e.getMessage() + ")");
    }
    // Valid field by field, yet no date matches (30 February): refused now, not found at the first fire.
    if (schedule.times.nextExecution(ZonedDateTime.now(zone)).isEmpty()) {
      throw new IllegalArgumentException("cron: '" + expression + "' never fires");
    }
    return schedule;
  }

  /** The first occurrence strictly after {@code instant}. */
  Instant next(Instant instant) {
    return times.nextExecution(ZonedDateTime.ofInstant(instant, zone)).map(ZonedDateTime::toInstant)
      .orElseThrow(() -> new IllegalArgumentException("cron: the expression never fires again"));
  }

  /** The latest occurrence at or before {@code instant}, if any. */
  Instant latestAtOrBefore(Instant instant) {
    return times.lastExecution(ZonedDateTime.ofInstant(instant.plusMillis(1), zone)).map(ZonedDateTime::toInstant).orElse(null);
  }
}
