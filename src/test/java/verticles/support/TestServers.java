package verticles.support;

import verticles.EmbeddedServers;
import verticles.common.Config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The real PostgreSQL and Redis the tests run against, started once per test JVM: the
 * servers named by TEST_DATABASE_URL / TEST_REDIS_URL when set, embedded ones otherwise.
 */
public final class TestServers {

  /** The tests' token secret (never a real one). */
  public static final String JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

  private static String databaseUrl;
  private static String redisUrl;

  private TestServers() {
  }

  public static synchronized String databaseUrl() {
    start();
    return databaseUrl;
  }

  public static synchronized String redisUrl() {
    start();
    return redisUrl;
  }

  /** A new, empty database on the test server; its URL. */
  public static String freshDatabase() {
    String name = "pulse_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    try (Connection connection = jdbc(databaseUrl()); Statement statement = connection.createStatement()) {
      statement.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    String url = databaseUrl();
    return url.substring(0, url.lastIndexOf('/') + 1) + name;
  }

  /** The first column of the first row of {@code query} on the database at {@code url}. */
  public static long scalar(String url, String query) {
    try (Connection db = jdbc(url); Statement statement = db.createStatement()) {
      java.sql.ResultSet rows = statement.executeQuery(query);
      rows.next();
      return rows.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(query, e);
    }
  }

  /** Polls {@code done} every 50 ms; fails naming {@code what} after {@code timeout}. */
  public static void await(String what, java.time.Duration timeout, java.util.function.BooleanSupplier done) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      NodeProcess.sleep(50);
    }
  }

  /** A JDBC connection to a postgresql:// URL (tests only; the application uses the reactive client). */
  public static Connection jdbc(String url) throws SQLException {
    java.net.URI uri = java.net.URI.create(url);
    String userInfo = uri.getUserInfo() == null ? "postgres" : uri.getUserInfo();
    String user = userInfo.contains(":") ? userInfo.substring(0, userInfo.indexOf(':')) : userInfo;
    String password = userInfo.contains(":") ? userInfo.substring(userInfo.indexOf(':') + 1) : "";
    return DriverManager.getConnection("jdbc:postgresql://" + uri.getHost() + ":" + uri.getPort() + uri.getPath(), user, password);
  }

  /**
   * Settings for a node under test: the test servers, loopback only, a free HTTP port, then
   * {@code overrides} (as environment variables would give them).
   */
  public static Config config(Map<String, String> overrides) {
    Map<String, String> env = new HashMap<>();
    env.put(Config.DATABASE_URL, databaseUrl());
    env.put(Config.REDIS_URL, redisUrl());
    env.put(Config.HTTP_HOST, "127.0.0.1");
    env.put(Config.HTTP_PORT, String.valueOf(freePort()));
    env.put(Config.HTTP_INSTANCES, "2");
    env.put(Config.CLUSTER_HOST, "127.0.0.1");
    env.put(Config.JWT_SECRET, JWT_SECRET);
    // The test JVM shares one Redis, whose rate-limit counters are keyed by user id and client IP, and
    // every database starts its users at 1: limits are high unless a test asks for its own.
    env.put(Config.RATE_LIMIT_AUTH_PER_MINUTE, "1000000");
    env.put(Config.RATE_LIMIT_USER_PER_MINUTE, "1000000");
    env.put(Config.RATE_LIMIT_RETAIL_PER_MINUTE, "1000000");
    env.put(Config.RATE_LIMIT_PUBLIC_PER_MINUTE, "1000000");
    env.putAll(overrides);
    return Config.load(env, Path.of("no-such-file.env"));
  }

  public static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void start() {
    if (databaseUrl != null) {
      return;
    }
    String externalDb = System.getenv("TEST_DATABASE_URL");
    String externalRedis = System.getenv("TEST_REDIS_URL");
    EmbeddedServers embedded = null;
    try {
      if (isBlank(externalDb) || isBlank(externalRedis)) {
        Path dir = Files.createTempDirectory("pulse-test-servers");
        embedded = EmbeddedServers.open(dir);
        EmbeddedServers servers = embedded;
        // The servers stop with the test JVM, and their data goes with them (a CI run starts a dozen).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          servers.close();
          deleteQuietly(dir);
        }));
        embedded.startWatchdog();
      }
      databaseUrl = isBlank(externalDb) ? embedded.startPostgres(0) : externalDb;
      redisUrl = isBlank(externalRedis) ? embedded.startRedis(0) : externalRedis;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static boolean isBlank(String value) {
    return value == null || value.isBlank();
  }

  /** Deletes a temp directory and everything in it, as far as it can. */
  static void deleteQuietly(Path dir) {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // best effort: it is a temp directory
    }
  }
}
