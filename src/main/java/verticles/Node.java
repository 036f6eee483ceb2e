package verticles;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.spi.cluster.NodeListener;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.Match;
import io.vertx.micrometer.MatchType;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.catalog.CatalogVerticle;
import verticles.common.Addresses;
import verticles.common.Config;
import verticles.common.Role;
import verticles.common.ServiceFailure;
import verticles.common.Tracing;
import verticles.http.HttpVerticle;
import verticles.identity.IdentityVerticle;
import verticles.images.ImageWorkerVerticle;
import verticles.jobs.RetailJobsVerticle;
import verticles.ledger.LedgerVerticle;
import verticles.nodes.NodesVerticle;
import verticles.tasks.DispatchVerticle;
import verticles.tasks.HousekeeperVerticle;
import verticles.tasks.TaskApiVerticle;
import verticles.tasks.HttpRequestTask;
import verticles.tasks.NoopTask;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One Pulse node: its servers (embedded or not), its Vert.x instance (clustered or not), the
 * schema, and the verticles of its roles; started and stopped in that order and its reverse.
 */
public final class Node {

  private static final Logger log = LoggerFactory.getLogger(Node.class);
  private static final AtomicInteger SEQUENCE = new AtomicInteger();

  private final Config config;
  /** Tracing given by the caller (tests: an in-memory exporter), or null: then from the configuration. */
  private final OpenTelemetry telemetry;
  private String name;
  private EmbeddedServers embedded;
  private Vertx vertx;
  /** The dispatchers' deployment, undeployed before the rest: see stop(). */
  private volatile String dispatchDeployment;

  private Node(Config config, OpenTelemetry telemetry) {
    this.config = config;
    this.telemetry = telemetry;
  }

  /**
   * Starts a node and completes when every verticle serves. Embedded servers start on the
   * calling thread, before Vert.x exists (there is no event loop to block yet).
   */
  public static Future<Node> start(Config config) {
    return start(config, null);
  }

  /** As {@link #start(Config)}, tracing with {@code telemetry} whatever the configuration says (tests). */
  public static Future<Node> start(Config config, OpenTelemetry telemetry) {
    long began = System.nanoTime();
    Node node = new Node(config, telemetry);
    Config resolved;
    try {
      BusSecurity.check(config);
      node.name = nodeName();
      resolved = withDevelopmentSecret(node.startServers(config.with(Config.NODE_NAME, node.name)));
    } catch (IOException | RuntimeException e) {
      node.stopServers();
      return Future.failedFuture(e);
    }
    return node.startVertx(resolved)
      .compose(vertx -> {
        node.vertx = vertx;
        return node.migrate(resolved);
      })
      .compose(node::deploy)
      .map(ignored -> {
        log.info("Pulse node {} ready in {} ms: roles {}, {}, HTTP port {}, {}",
          resolved.string(Config.NODE_NAME), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began),
          resolved.string(Config.ROLES), config.flag(Config.CLUSTER) ? "clustered" : "standalone", config.integer(Config.HTTP_PORT),
          transport(node.vertx));
        return node;
      })
      .recover(error -> node.stop().transform(ignored -> Future.failedFuture(error)));
  }

  /** Which sockets the node runs on: Linux's native epoll, or NIO where it cannot load (and why). */
  private static String transport(Vertx vertx) {
    if (vertx.isNativeTransportEnabled()) {
      return "native transport";
    }
    Throwable cause = vertx.unavailableNativeTransportCause();
    return "NIO transport (native: " + (cause == null ? "not available" : cause.getMessage()) + ")";
  }

  /** How this node names itself (health answers, task leases, metrics registry). */
  public String name() {
    return name;
  }

  public Vertx vertx() {
    return vertx;
  }

  /** The embedded servers, or null when the node uses external ones. */
  public EmbeddedServers embedded() {
    return embedded;
  }

  /**
   * Undeploys every verticle (the HTTP servers finish in-flight requests first), leaves the
   * cluster, then stops the embedded servers. Never fails.
   */
  public Future<Void> stop() {
    if (vertx == null) {
      stopServers();
      return Future.succeededFuture();
    }
    // The dispatchers first, while the pools and clients they hand their leases back through are
    // still open: closing Vert.x closes those alongside the verticles that use them. Then Vert.x,
    // from a thread of its own (not one of the event loops it is about to stop).
    Future<Void> dispatchers = dispatchDeployment == null ? Future.succeededFuture() : vertx.undeploy(dispatchDeployment).otherwiseEmpty();
    return Future.fromCompletionStage(dispatchers.toCompletionStage()
      .thenComposeAsync(ignored -> vertx.close().otherwiseEmpty().toCompletionStage())
      .whenComplete((ignored, error) -> stopServers()));
  }

  /** Starts embedded servers for what the node's roles need and no URL provides. */
  private Config startServers(Config config) throws IOException {
    boolean needsPostgres = config.embeddedPostgres() && config.roles().stream().anyMatch(Role::usesDatabase);
    boolean needsRedis = config.embeddedRedis() && config.roles().stream().anyMatch(Role::usesRedis);
    if (!needsPostgres && !needsRedis) {
      return config;
    }
    Path dataDir = Path.of(config.string(Config.DATA_DIR));
    embedded = EmbeddedServers.open(dataDir);
    // Checked once open() has stopped the servers a crashed run left on DATA_DIR (they hold the ports).
    int pgPort = needsPostgres ? embeddedPort(config, Config.EMBEDDED_PG_PORT) : 0;
    int redisPort = needsRedis ? embeddedPort(config, Config.EMBEDDED_REDIS_PORT) : 0;
    log.info("embedded mode: data kept in {} (set DATABASE_URL and REDIS_URL to use your own servers)",
      dataDir.toAbsolutePath().normalize());
    embedded.startWatchdog();
    Config resolved = config;
    if (needsPostgres) {
      resolved = resolved.with(Config.DATABASE_URL, embedded.startPostgres(pgPort));
    }
    if (needsRedis) {
      resolved = resolved.with(Config.REDIS_URL, embedded.startRedis(redisPort));
    }
    return resolved;
  }

  /**
   * An embedded server's port: the configured one when it is free. When it is in use, a port
   * set explicitly stops the start (a configuration error), while a default gives way to any
   * free port (another Pulse on this machine has it): the server's URL is logged either way.
   */
  private static int embeddedPort(Config config, String key) {
    int port = config.integer(key);
    if (EmbeddedServers.portFree(port)) {
      return port;
    }
    if (config.explicit(key)) {
      throw config.refuse(key, "a free port (it is in use)");
    }
    log.warn("{} is not set and its default port {} is in use (another Pulse on this machine?): taking a free port",
      key, port);
    return 0;
  }

  /**
   * Zero-setup mode only (Config refuses a missing JWT_SECRET otherwise): a random secret kept
   * in DATA_DIR, so tokens survive restarts; said loudly, since other nodes cannot verify them.
   */
  private static Config withDevelopmentSecret(Config config) throws IOException {
    if (!config.string(Config.JWT_SECRET).isEmpty() || !"HS256".equals(config.string(Config.JWT_ALGORITHM))) {
      return config;
    }
    Path file = Path.of(config.string(Config.DATA_DIR)).resolve("jwt-secret");
    if (!Files.exists(file)) {
      byte[] secret = new byte[48];
      new SecureRandom().nextBytes(secret);
      Files.createDirectories(file.getParent());
      Files.writeString(file, Base64.getEncoder().encodeToString(secret));
      try {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
      } catch (UnsupportedOperationException ignored) {
        // not a POSIX file system
      }
    }
    log.warn("JWT_SECRET is not set: using a development secret kept in {}. Set JWT_SECRET (32+ bytes) "
      + "in production and on every node of a cluster", file.toAbsolutePath().normalize());
    return config.with(Config.JWT_SECRET, Files.readString(file).trim());
  }

  private void stopServers() {
    if (embedded != null) {
      embedded.close();
      embedded = null;
    }
  }

  private Future<Vertx> startVertx(Config config) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    MetricsSettings.histograms(registry);
    MicrometerMetricsOptions metrics = new MicrometerMetricsOptions()
      .setEnabled(true)
      .setRegistryName(config.string(Config.NODE_NAME))
      .setJvmMetricsEnabled(true)
      .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))
      .setLabels(EnumSet.of(Label.HTTP_METHOD, Label.HTTP_CODE, Label.HTTP_ROUTE, Label.EB_ADDRESS,
        Label.EB_FAILURE, Label.EB_SIDE, Label.POOL_TYPE, Label.POOL_NAME))
      // One address per user would make one time series per user: they are counted together.
      .addLabelMatch(new Match().setDomain(MetricsDomain.EVENT_BUS).setLabel(Label.EB_ADDRESS.toString())
        .setType(MatchType.REGEX).setValue("events\\.user\\..*").setAlias("events.user.*"))
      // Likewise each dispatcher's own address (a new one at every start).
      .addLabelMatch(new Match().setDomain(MetricsDomain.EVENT_BUS).setLabel(Label.EB_ADDRESS.toString())
        .setType(MatchType.REGEX).setValue("tasks\\.dispatcher\\..*").setAlias("tasks.dispatcher.*"));
    // One event loop per core by default (Vert.x's is two): no verticle here blocks its loop, so
    // fewer threads compete for the cores and more bus messages stay on the thread that sent them.
    // On Linux every socket (HTTP, PostgreSQL, Redis, the bus) runs on Netty's native epoll: fewer
    // system calls a request than NIO, which falls in where it cannot load (logged when ready).
    int loops = config.integer(Config.EVENT_LOOPS);
    VertxOptions options = new VertxOptions().setMetricsOptions(metrics)
      .setEventLoopPoolSize(loops > 0 ? loops : Runtime.getRuntime().availableProcessors())
      .setPreferNativeTransport(true);
    var builder = Vertx.builder().withMetrics(new MicrometerMetricsFactory(registry));
    TracingSettings.Setup tracing = TracingSettings.from(config, telemetry);
    if (tracing != null) {
      builder.withTracer(tracing.factory());
    }
    if (!config.flag(Config.CLUSTER)) {
      Vertx local = builder.with(options).build();
      ServiceFailure.registerCodec(local.eventBus());
      if (tracing != null) {
        Tracing.register(local, tracing.telemetry());
      }
      return Future.succeededFuture(local);
    }
    String host = config.string(Config.CLUSTER_HOST);
    options.getEventBusOptions().setHost(host).setPort(0);
    BusSecurity.apply(config, options.getEventBusOptions());
    HazelcastClusterManager manager = new HazelcastClusterManager(ClusterSettings.hazelcast(config));
    long began = System.nanoTime();
    return builder.with(options).withClusterManager(manager).buildClustered()
      .onSuccess(clustered -> {
        ServiceFailure.registerCodec(clustered.eventBus());
        if (tracing != null) {
          Tracing.register(clustered, tracing.telemetry());
        }
        // This node's verticles hear of members leaving (the dispatchers re-deliver what a lost member held).
        manager.nodeListener(new NodeListener() {
          @Override
          public void nodeAdded(String nodeId) {
          }

          @Override
          public void nodeLeft(String nodeId) {
            log.warn("cluster member {} left", nodeId);
            clustered.eventBus().publish(Addresses.Cluster.NODE_LEFT, nodeId, new DeliveryOptions().setLocalOnly(true));
          }
        });
        log.info("joined the cluster on {} in {} ms ({} member(s))", host,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began), manager.getNodes().size());
      });
  }

  /** Flyway on a worker thread, before any verticle serves; skipped on nodes without a database role. */
  private Future<Config> migrate(Config config) {
    boolean usesDatabase = config.roles().stream().anyMatch(Role::usesDatabase);
    if (!usesDatabase) {
      return Future.succeededFuture(config);
    }
    return vertx.executeBlocking(() -> Migrations.migrate(config.string(Config.DATABASE_URL)))
      .map(version -> config.with(Config.SCHEMA_VERSION, version));
  }

  private Future<Void> deploy(Config config) {
    JsonObject json = config.json();
    Set<Role> roles = config.roles();
    List<Future<String>> deployments = new ArrayList<>();
    for (Role role : roles) {
      if (role != Role.DISPATCH) {
        deployments.add(deploy(role, json));
      }
    }
    // Every node, whatever its roles: its entry in the cluster's list of nodes (the dashboard's).
    deployments.add(vertx.deployVerticle(NodesVerticle::new, new DeploymentOptions().setConfig(json)));
    // The task room last: its housekeeper requeues what a dead node held and its dispatchers hand it
    // out at once, so this node's own services (a ledger task asks identity) must be there to take it.
    return Future.all(deployments)
      .compose(ignored -> roles.contains(Role.DISPATCH) ? deploy(Role.DISPATCH, json).mapEmpty() : Future.succeededFuture());
  }

  private Future<String> deploy(Role role, JsonObject config) {
    DeploymentOptions options = new DeploymentOptions().setConfig(config);
    switch (role) {
      case HTTP:
        int instances = config.getInteger(Config.HTTP_INSTANCES);
        options.setInstances(instances > 0 ? instances : Runtime.getRuntime().availableProcessors());
        return vertx.deployVerticle(HttpVerticle::new, options);
      case IDENTITY:
        return vertx.deployVerticle(IdentityVerticle::new, options);
      case LEDGER:
        // Each instance writes one batch at a time. One by default: on 2 cores, two made batches
        // half as large that waited on each other's rows, for less throughput (bench/LEDGER.md).
        return vertx.deployVerticle(LedgerVerticle::new, options.setInstances(config.getInteger(Config.LEDGER_INSTANCES)));
      case DISPATCH:
        // The task room: its API on every core, one housekeeper, a dispatcher per core; the
        // built-in task types run here too (the bus spreads them across nodes).
        int cores = Runtime.getRuntime().availableProcessors();
        return vertx.deployVerticle(TaskApiVerticle::new, new DeploymentOptions(options).setInstances(cores))
          .compose(id -> vertx.deployVerticle(HousekeeperVerticle::new, options))
          .compose(id -> vertx.deployVerticle(DispatchVerticle::new, new DeploymentOptions(options).setInstances(DispatchVerticle.instances(config))))
          .compose(id -> {
            dispatchDeployment = id;
            return vertx.deployVerticle(NoopTask::new, new DeploymentOptions(options).setInstances(2));
          })
          .compose(id -> vertx.deployVerticle(HttpRequestTask::new, new DeploymentOptions(options).setInstances(2)));
      case WORKER:
        options.setThreadingModel(ThreadingModel.WORKER).setInstances(Runtime.getRuntime().availableProcessors());
        return vertx.deployVerticle(ImageWorkerVerticle::new, options);
      case JOBS:
        return vertx.deployVerticle(RetailJobsVerticle::new, options);
      case CATALOG:
        return vertx.deployVerticle(CatalogVerticle::new, options);
      default:
        throw new IllegalStateException(role.name());
    }
  }

  /** host:pid, plus a sequence number when one JVM runs several nodes (tests do). */
  private static String nodeName() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "localhost";
    }
    int sequence = SEQUENCE.incrementAndGet();
    return host + ":" + ProcessHandle.current().pid() + (sequence > 1 ? "#" + sequence : "");
  }
}
