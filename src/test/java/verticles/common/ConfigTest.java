package verticles.common;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigTest {

  @Test
  void defaultsComeFromConfJson() {
    Config config = Config.load(Map.of(), Path.of("no-such.env"));
    assertEquals(8080, config.integer(Config.HTTP_PORT));
    assertEquals("json", config.string(Config.LOG_FORMAT));
    assertFalse(config.flag(Config.CLUSTER));
    assertEquals(EnumSet.allOf(Role.class), config.roles());
    assertTrue(config.embeddedPostgres(), "no DATABASE_URL means embedded PostgreSQL");
  }

  @Test
  void dotEnvOverridesDefaultsAndEnvironmentOverridesBoth(@TempDir Path dir) throws IOException {
    Path dotEnv = dir.resolve(".env");
    Files.writeString(dotEnv, String.join("\n",
      "# a comment",
      "export HTTP_PORT=9000",
      "LOG_FORMAT=\"text\"",
      "CLUSTER_MEMBERS='10.0.0.1:5701,10.0.0.2'",
      "",
      "ROLES=http,ledger"));

    Config config = Config.load(Map.of("HTTP_PORT", "9100", "PATH", "/usr/bin"), dotEnv);

    assertEquals(9100, config.integer(Config.HTTP_PORT), "the environment beats .env");
    assertEquals("text", config.string(Config.LOG_FORMAT), ".env beats conf/config.json");
    assertEquals("10.0.0.1:5701,10.0.0.2", config.string(Config.CLUSTER_MEMBERS));
    assertEquals(EnumSet.of(Role.HTTP, Role.LEDGER), config.roles());
    assertEquals(16, config.integer(Config.DB_POOL_SIZE), "untouched keys keep their defaults");
  }

  @Test
  void itIsKnownWhichKeysWereSetAndWhereARefusalNamesTheirSource(@TempDir Path dir) throws IOException {
    Path dotEnv = dir.resolve(".env");
    Files.writeString(dotEnv, "EMBEDDED_REDIS_PORT=16380\n");
    Config config = Config.load(Map.of("EMBEDDED_PG_PORT", "15432"), dotEnv);

    assertTrue(config.explicit(Config.EMBEDDED_PG_PORT), "set in the environment, even to its default value");
    assertTrue(config.explicit(Config.EMBEDDED_REDIS_PORT), "set in .env");
    assertFalse(config.explicit(Config.HTTP_PORT), "left at its default");
    assertTrue(config.with(Config.DATABASE_URL, "postgresql://db/x").explicit(Config.EMBEDDED_PG_PORT), "copies keep it");
    assertEquals("EMBEDDED_PG_PORT (from the environment) is '15432', expected a free port",
      config.refuse(Config.EMBEDDED_PG_PORT, "a free port").getMessage());
    assertEquals("EMBEDDED_REDIS_PORT (from .env) is '16380', expected a free port",
      config.refuse(Config.EMBEDDED_REDIS_PORT, "a free port").getMessage());
    assertEquals("HTTP_PORT (from conf/config.json) is '8080', expected a free port",
      config.refuse(Config.HTTP_PORT, "a free port").getMessage());
  }

  @ParameterizedTest(name = "{0}={1} is refused")
  @CsvSource(delimiter = '|', value = {
    "HTTP_PORT|abc",
    "HTTP_PORT|0",
    "HTTP_PORT|70000",
    "HTTP_INSTANCES|-1",
    "DB_POOL_SIZE|0",
    "DATABASE_URL|not a url",
    "DATABASE_URL|mysql://db:3306/pulse",
    "DATABASE_URL|postgresql:///no-host",
    "REDIS_URL|localhost:6379",
    "CLUSTER|maybe",
    "CLUSTER_PORT|five",
    "CLUSTER_MEMBERS|10.0.0.1:notaport",
    "CLUSTER_MEMBERS|:5701",
    "ROLES|http,billing",
    "LOG_FORMAT|xml",
    "LOG_LEVEL|LOUD",
    "BUS_TIMEOUT_MS|soon",
    "IMAGE_MAX_BYTES|0",
    "RETAIL_SIMULATED_PROCESSING_MS|400-100",
    "RETAIL_SIMULATED_PROCESSING_MS|-5",
    "RETAIL_SIMULATED_PROCESSING_MS|1-2-3",
    "RETAIL_SIMULATED_PROCESSING_MS|soon",
  })
  void aBadValueIsRefusedWithOneLineNamingTheKey(String key, String value) {
    Config.ConfigException error = assertThrows(Config.ConfigException.class,
      () -> Config.load(Map.of(key, value), Path.of("no-such.env")));
    assertTrue(error.getMessage().startsWith(key + " (from the environment)"), error.getMessage());
    assertFalse(error.getMessage().contains("\n"), "one line");
    assertEquals(0, error.getStackTrace().length, "nothing to print but the message");
  }

  @Test
  void aSimulatedProcessingRangeIsTypedOrOff() {
    assertEquals(null, Config.load(Map.of(), Path.of("no-such.env")).json().getValue(Config.RETAIL_SIMULATED_PROCESSING_MS), "off by default");
    assertEquals(new JsonObject().put("min", 100).put("max", 400),
      Config.load(Map.of("RETAIL_SIMULATED_PROCESSING_MS", " 100 - 400 "), Path.of("no-such.env")).json().getJsonObject(Config.RETAIL_SIMULATED_PROCESSING_MS));
    assertEquals(new JsonObject().put("min", 250).put("max", 250),
      Config.load(Map.of("RETAIL_SIMULATED_PROCESSING_MS", "250"), Path.of("no-such.env")).json().getJsonObject(Config.RETAIL_SIMULATED_PROCESSING_MS));
  }

  @Test
  void aBadUrlIsReportedWithoutItsPassword() {
    Config.ConfigException error = assertThrows(Config.ConfigException.class,
      () -> Config.load(Map.of("DATABASE_URL", "mysql://admin:hunter2@db:3306/x"), Path.of("no-such.env")));
    assertFalse(error.getMessage().contains("hunter2"), error.getMessage());
    assertTrue(error.getMessage().contains("DATABASE_URL"));
  }

  @Test
  void aMalformedDotEnvLineNamesTheLine(@TempDir Path dir) throws IOException {
    Path dotEnv = dir.resolve(".env");
    Files.writeString(dotEnv, "HTTP_PORT=9000\njust some words\n");
    Config.ConfigException error = assertThrows(Config.ConfigException.class, () -> Config.load(Map.of(), dotEnv));
    assertTrue(error.getMessage().contains("line 2"), error.getMessage());
  }

  @Test
  void anUnknownKeyInTheDefaultsIsRefused() {
    JsonObject defaults = new JsonObject().put("HTTP_PORTT", 8080);
    assertThrows(Config.ConfigException.class, () -> Config.from(defaults, Map.of(), Map.of()));
  }

  @Test
  void urlsAndFlagsAreAcceptedInTheirUsualSpellings() {
    Config config = Config.load(Map.of(
      "DATABASE_URL", "postgres://pulse:secret@db.internal:5432/pulse",
      "JWT_SECRET", "0123456789abcdef0123456789abcdef",
      "REDIS_URL", "rediss://:pw@cache:6380/2",
      "CLUSTER", "yes",
      "LOG_LEVEL", "debug"), Path.of("no-such.env"));
    assertFalse(config.embeddedPostgres());
    assertFalse(config.embeddedRedis());
    assertTrue(config.flag(Config.CLUSTER));
    assertEquals("DEBUG", config.string(Config.LOG_LEVEL));
  }

  @Test
  void aTokenSecretIsNeverDefaultedOutsideZeroSetupMode() {
    Map<String, String> production = Map.of("DATABASE_URL", "postgresql://pulse@db:5432/pulse");
    Config.ConfigException missing = assertThrows(Config.ConfigException.class,
      () -> Config.load(production, Path.of("no-such.env")));
    assertTrue(missing.getMessage().startsWith("JWT_SECRET is not set"), missing.getMessage());

    Config.ConfigException shortSecret = assertThrows(Config.ConfigException.class,
      () -> Config.load(Map.of("JWT_SECRET", "too-short"), Path.of("no-such.env")));
    assertTrue(shortSecret.getMessage().contains("at least 32"), shortSecret.getMessage());
    assertFalse(shortSecret.getMessage().contains("too-short"), "the secret itself is never echoed");

    Config.ConfigException noKeys = assertThrows(Config.ConfigException.class,
      () -> Config.load(Map.of("JWT_ALGORITHM", "RS256"), Path.of("no-such.env")));
    assertTrue(noKeys.getMessage().startsWith("JWT_PUBLIC_KEY_FILE"), noKeys.getMessage());

    assertThrows(Config.ConfigException.class, () -> Config.load(Map.of("JWT_ALGORITHM", "none"), Path.of("no-such.env")));
    assertEquals("", Config.load(Map.of(), Path.of("no-such.env")).string(Config.JWT_SECRET),
      "zero-setup mode: the node makes a development secret itself");
  }
}
