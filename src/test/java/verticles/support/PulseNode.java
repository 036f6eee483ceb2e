package verticles.support;

import io.vertx.core.Vertx;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import verticles.EmbeddedServers;
import verticles.Node;
import verticles.common.Config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One in-process Pulse node shared by the tests of a class: started before the first, stopped
 * after the last, on a fresh database of the test servers, with rate limits out of the way unless
 * the class sets them. Register it on a static field:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final PulseNode node = PulseNode.withAdmin("ops", "ops-password-1").with("TASK_LEASE_MS", "2000");
 * }</pre>
 */
public final class PulseNode implements BeforeAllCallback, AfterAllCallback {

  private static final String HIGH_LIMIT = "100000";

  private final String adminUsername;
  private final String adminPassword;
  private final Map<String, String> settings = new LinkedHashMap<>();
  private boolean ownRedis;

  /** The context that started the node: a @Nested class runs the callbacks again, and must not start a second. */
  private String startedBy;
  private Path redisDir;
  private EmbeddedServers redis;
  private int redisPort;
  private String databaseUrl;
  private Config config;
  private Node node;
  private Api api;
  private String adminToken;

  private PulseNode(String adminUsername, String adminPassword) {
    this.adminUsername = adminUsername;
    this.adminPassword = adminPassword;
    settings.put(Config.RATE_LIMIT_AUTH_PER_MINUTE, HIGH_LIMIT);
    settings.put(Config.RATE_LIMIT_USER_PER_MINUTE, HIGH_LIMIT);
  }

  /** A node without an admin. */
  public static PulseNode create() {
    return new PulseNode(null, null);
  }

  /** A node whose admin is bootstrapped from ADMIN_USERNAME / ADMIN_PASSWORD, logged in once it runs. */
  public static PulseNode withAdmin(String username, String password) {
    PulseNode node = new PulseNode(username, password);
    node.settings.put(Config.ADMIN_USERNAME, username);
    node.settings.put(Config.ADMIN_PASSWORD, password);
    return node;
  }

  /** A setting as the environment would give it; overrides the defaults here and in {@link TestServers#config}. */
  public PulseNode with(String key, String value) {
    settings.put(key, value);
    return this;
  }

  /**
   * A Redis of this class's own (in a temporary directory), so its tests may stop and restart it
   * ({@link #redis()}) or flush it without disturbing other classes.
   */
  public PulseNode withOwnRedis() {
    ownRedis = true;
    return this;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    if (startedBy != null) {
      return;
    }
    startedBy = context.getUniqueId();
    Map<String, String> env = new LinkedHashMap<>(settings);
    databaseUrl = env.computeIfAbsent(Config.DATABASE_URL, key -> TestServers.freshDatabase());
    if (ownRedis) {
      redisDir = Files.createTempDirectory("pulse-node-redis");
      redis = EmbeddedServers.open(redisDir);
      String url = redis.startRedis(0);
      redis.startWatchdog();
      redisPort = URI.create(url).getPort();
      env.put(Config.REDIS_URL, url);
    }
    config = TestServers.config(env);
    try {
      node = Node.start(config).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception cause ? cause : e;
    }
    api = new Api(port());
    if (adminUsername != null) {
      adminToken = api.login(adminUsername, adminPassword);
    }
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    if (!context.getUniqueId().equals(startedBy)) {
      return;
    }
    startedBy = null;
    try {
      if (node != null) {
        node.stop().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
      }
    } finally {
      node = null;
      if (redis != null) {
        redis.close();
        redis = null;
        deleteTree(redisDir);
      }
    }
  }

  public Node node() {
    return running(node);
  }

  public Vertx vertx() {
    return node().vertx();
  }

  /** The settings the node started with (after the test servers' and this class's). */
  public Config config() {
    return running(config);
  }

  public int port() {
    return config().integer(Config.HTTP_PORT);
  }

  public Api api() {
    return running(api);
  }

  /** A token of the admin, logged in when the node started. */
  public String adminToken() {
    if (adminUsername == null) {
      throw new IllegalStateException("this node has no admin: make it with PulseNode.withAdmin(username, password)");
    }
    return running(adminToken);
  }

  /** The node's own database (fresh unless DATABASE_URL was given). */
  public String databaseUrl() {
    return running(databaseUrl);
  }

  /** The class's own Redis; only with {@link #withOwnRedis()}. */
  public EmbeddedServers redis() {
    if (!ownRedis) {
      throw new IllegalStateException("this node uses the shared test Redis: ask for withOwnRedis()");
    }
    return running(redis);
  }

  public int redisPort() {
    redis();
    return redisPort;
  }

  private static <T> T running(T value) {
    if (value == null) {
      throw new IllegalStateException("the node is not running: register PulseNode with @RegisterExtension on a static field");
    }
    return value;
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
