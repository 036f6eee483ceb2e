package verticles;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.yaml.snakeyaml.Yaml;
import verticles.common.RedisEndpoint;
import verticles.support.Api;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * No Docker engine runs here, so the deployment files are checked against the code instead:
 * docker-compose.yml (settings, ports, dependencies, volumes, the cluster's addresses, Sentinels,
 * the trace receiver), the Dockerfile, Prometheus's targets, Grafana's provisioning, and every
 * query of every dashboard against what /metrics really exposes after a short load.
 */
class DeploymentFilesTest {

  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin("ops", "ops-password-1").with("TASK_RECONCILE_MS", "500");

  private static final Set<String> PULSE_IMAGES = Set.of(".");
  /** Labels Prometheus adds when it scrapes, and the histogram bucket bound. */
  private static final Set<String> SCRAPE_LABELS = Set.of("instance", "job", "le");
  private static final Set<String> PROMQL_WORDS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "offset", "bool", "inf", "nan");

  private static Map<String, Object> compose;
  private static Map<String, Map<String, Object>> services;
  private static Set<String> settings;

  @BeforeAll
  @SuppressWarnings("unchecked")
  static void read() throws IOException {
    compose = new Yaml().load(Files.readString(Path.of("docker-compose.yml")));
    services = (Map<String, Map<String, Object>>) compose.get("services");
    settings = new JsonObject(Files.readString(Path.of("conf/config.json"))).fieldNames();
  }

  private static boolean isPulse(Map<String, Object> service) {
    return PULSE_IMAGES.contains(String.valueOf(service.get("build")));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, String> env(Map<String, Object> service) {
    Map<String, String> env = new HashMap<>();
    Object given = service.get("environment");
    if (given instanceof Map<?, ?> map) {
      map.forEach((key, value) -> env.put(String.valueOf(key), String.valueOf(value)));
    }
    return env;
  }

  @Test
  void everyPulseServiceNamesOnlySettingsThatExistAndTheClusterHangsTogether() {
    List<String> pulse = services.entrySet().stream().filter(entry -> isPulse(entry.getValue())).map(Map.Entry::getKey).toList();
    assertEquals(3, pulse.size(), "one api node and two workers: " + pulse);
    Set<String> hosts = new HashSet<>();
    Set<String> members = new HashSet<>();
    for (String name : pulse) {
      Map<String, String> env = env(services.get(name));
      for (String key : env.keySet()) {
        assertTrue(settings.contains(key), name + " sets " + key + ", which is not a setting in conf/config.json");
      }
      assertEquals("true", env.get("CLUSTER"), name + " is clustered");
      hosts.add(env.get("CLUSTER_HOST") + ":" + env.getOrDefault("CLUSTER_PORT", "5701"));
      members.addAll(List.of(env.get("CLUSTER_MEMBERS").split(",")));
      for (String file : List.of("CLUSTER_TLS_CA_FILE", "CLUSTER_TLS_CERT_FILE", "CLUSTER_TLS_KEY_FILE")) {
        assertTrue(env.get(file).startsWith("/tls/"), name + ": " + file + " is in the mounted certificates");
      }
      assertFalse(env.containsKey("CLUSTER_ALLOW_PLAINTEXT"), name + " keeps the bus mutual TLS");
      assertTrue(String.valueOf(services.get(name).get("volumes")).contains(":/tls:ro"), name + " mounts the certificates");
      Object network = ((Map<?, ?>) services.get(name).get("networks")).get("pulse");
      assertEquals(env.get("CLUSTER_HOST"), ((Map<?, ?>) network).get("ipv4_address"), name + " has the address it advertises");
      assertTrue(env.get("ROLES").contains("http"), name + " serves /health and /metrics");
      assertTrue(Set.of(env.get("REDIS_URL"), env.get("DATABASE_URL")).stream().noneMatch(url -> url.matches(".*://[^@]*:[^@$]+@.*")),
        name + ": no password is written into the file");
    }
    assertEquals(hosts, members, "CLUSTER_MEMBERS names exactly the nodes");
    assertEquals(3, new HashSet<>(pulse.stream().map(name -> env(services.get(name)).get("CLUSTER_TLS_CERT_FILE")).toList()).size(),
      "each node its own certificate");
    Set<String> roles = pulse.stream().map(name -> env(services.get(name)).get("ROLES")).collect(Collectors.toSet());
    assertTrue(roles.stream().anyMatch(r -> r.contains("identity") && r.contains("ledger")), "a node runs the services: " + roles);
    assertEquals(2, pulse.stream().filter(name -> env(services.get(name)).get("ROLES").contains("worker")).count(), "two workers");
  }

  @Test
  void dependenciesPortsAndVolumesAreConsistent() {
    Set<Integer> published = new HashSet<>();
    Set<String> declaredVolumes = ((Map<?, ?>) compose.get("volumes")).keySet().stream().map(String::valueOf).collect(Collectors.toSet());
    for (Map.Entry<String, Map<String, Object>> entry : services.entrySet()) {
      String name = entry.getKey();
      Map<String, Object> service = entry.getValue();
      Object dependsOn = service.get("depends_on");
      if (dependsOn instanceof Map<?, ?> map) {
        map.forEach((other, condition) -> {
          assertTrue(services.containsKey(String.valueOf(other)), name + " depends on " + other + ", which is not a service");
          if (String.valueOf(condition).contains("service_healthy")) {
            assertTrue(services.get(String.valueOf(other)).containsKey("healthcheck"), name + " waits for " + other + " to be healthy: it needs a healthcheck");
          }
        });
      }
      for (Object port : (List<?>) service.getOrDefault("ports", List.of())) {
        String[] parts = String.valueOf(port).split(":");
        assertTrue(published.add(Integer.parseInt(parts[0])), "host port " + parts[0] + " published once");
        if (isPulse(service)) {
          assertEquals(env(service).getOrDefault("HTTP_PORT", "8080"), parts[1], name + " publishes its HTTP port");
        }
      }
      for (Object volume : (List<?>) service.getOrDefault("volumes", List.of())) {
        String source = String.valueOf(volume).split(":")[0];
        if (source.startsWith("./")) {
          if (!source.equals("./cluster-tls")) {  // made by scripts/dev-ca.sh, as the file's header says
            assertTrue(Files.exists(Path.of(source)), name + " mounts " + source + ", which exists");
          }
        } else {
          assertTrue(declaredVolumes.contains(source), name + " uses the volume " + source + ", which is declared");
        }
      }
    }
    assertTrue(String.valueOf(services.get("redis").get("command")).contains("appendonly, yes"), "Redis keeps an AOF");
    assertTrue(String.valueOf(services.get("postgres").get("volumes")).contains("/var/lib/postgresql/data"), "PostgreSQL keeps a volume");
  }

  @Test
  void redisUrlNamesTheSentinelsOfTheComposeFileAndTheirMasterSet() {
    String url = env(services.get("api")).get("REDIS_URL");
    var options = RedisEndpoint.options(url);
    List<String> sentinels = services.keySet().stream().filter(name -> String.valueOf(services.get(name).get("command"))
      .contains("redis-sentinel")).sorted().toList();
    assertEquals(3, sentinels.size(), "three Sentinels");
    assertEquals(sentinels.stream().map(name -> "redis://" + name + ":26379").toList(), options.getEndpoints());
    for (String sentinel : sentinels) {
      String command = String.valueOf(services.get(sentinel).get("command"));
      Matcher monitor = Pattern.compile("sentinel monitor (\\S+) (\\S+) (\\d+) (\\d+)").matcher(command);
      assertTrue(monitor.find(), sentinel + " monitors a master");
      assertEquals(options.getMasterName(), monitor.group(1), "the master set REDIS_URL names");
      assertTrue(services.containsKey(monitor.group(2)), "the monitored master is a service");
      assertTrue(command.contains("port 26379"));
    }
    String replica = String.valueOf(services.get("redis-replica").get("command"));
    assertTrue(replica.contains("--replicaof, redis, 6379"), "the replica follows the master: " + replica);
  }

  @Test
  void tracesGoToTheOtlpReceiverOfTheComposeFile() {
    String endpoint = env(services.get("api")).get("OTEL_EXPORTER_OTLP_ENDPOINT");
    Matcher target = Pattern.compile("http://([^:/]+):(\\d+)").matcher(endpoint);
    assertTrue(target.matches(), endpoint);
    Map<String, Object> receiver = services.get(target.group(1));
    assertTrue(receiver != null, "the trace receiver is a service: " + endpoint);
    assertTrue(String.valueOf(receiver.get("expose")).contains(target.group(2)), "it listens for OTLP on " + target.group(2));
    assertEquals("true", env(receiver).get("COLLECTOR_OTLP_ENABLED"));
  }

  @Test
  void theImageRunsAsAnOrdinaryUserAndIsCheckedForHealth() throws IOException {
    String dockerfile = Files.readString(Path.of("Dockerfile"));
    assertTrue(dockerfile.lines().filter(line -> line.startsWith("FROM ")).count() >= 2, "multi-stage");
    Matcher user = Pattern.compile("(?m)^USER (\\S+)").matcher(dockerfile);
    assertTrue(user.find() && !user.group(1).equals("root") && !user.group(1).equals("0"), "not root");
    assertTrue(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/health/ready"), "a health check on readiness");
    assertTrue(dockerfile.contains("EXPOSE 8080 5701"));
  }

  @Test
  @SuppressWarnings("unchecked")
  void prometheusScrapesEveryNodeAndGrafanaReadsPrometheus() throws IOException {
    Map<String, Object> prometheus = new Yaml().load(Files.readString(Path.of("conf/prometheus.yml")));
    List<String> targets = new ArrayList<>();
    for (Map<String, Object> job : (List<Map<String, Object>>) prometheus.get("scrape_configs")) {
      assertEquals("/metrics", job.get("metrics_path"));
      for (Map<String, Object> config : (List<Map<String, Object>>) job.get("static_configs")) {
        targets.addAll((List<String>) config.get("targets"));
      }
    }
    List<String> nodes = services.entrySet().stream().filter(entry -> isPulse(entry.getValue()))
      .map(entry -> entry.getKey() + ":" + env(entry.getValue()).getOrDefault("HTTP_PORT", "8080")).sorted().toList();
    assertEquals(nodes, targets.stream().sorted().toList(), "Prometheus scrapes every node, on its HTTP port");
    assertTrue(String.valueOf(services.get("prometheus").get("volumes")).contains("./conf/prometheus.yml"));

    Map<String, Object> datasources = new Yaml().load(Files.readString(Path.of("conf/grafana/provisioning/datasources/prometheus.yml")));
    Map<String, Object> source = ((List<Map<String, Object>>) datasources.get("datasources")).get(0);
    assertEquals("http://prometheus:9090", source.get("url"));
    assertTrue(String.valueOf(services.get("prometheus").get("ports")).contains("9090"));
    Map<String, Object> providers = new Yaml().load(Files.readString(Path.of("conf/grafana/provisioning/dashboards/pulse.yml")));
    String path = String.valueOf(((Map<?, ?>) ((List<Map<String, Object>>) providers.get("providers")).get(0).get("options")).get("path"));
    assertTrue(String.valueOf(services.get("grafana").get("volumes")).contains("./conf/grafana/dashboards:" + path), "the dashboards are mounted where the provider reads");
    for (Path dashboard : dashboards()) {
      JsonObject json = new JsonObject(Files.readString(dashboard));
      for (String uid : datasourceUids(json)) {
        assertEquals(source.get("uid"), uid, dashboard + " reads the provisioned data source");
      }
    }
  }

  @Test
  void everyDashboardQueryNamesMetricsAndLabelsThatMetricsReallyExposes() throws Exception {
    String metrics = metricsAfterALoad();
    Map<String, Set<String>> exposed = exposed(metrics);
    int queries = 0;
    Set<String> used = new TreeSet<>();
    for (Path dashboard : dashboards()) {
      JsonObject json = new JsonObject(Files.readString(dashboard));
      assertTrue(json.getJsonArray("panels").size() >= 4, dashboard + " has panels");
      for (String expr : expressions(json)) {
        queries++;
        Set<String> labels = new HashSet<>();
        Set<String> names = metricNames(expr, labels);
        assertFalse(names.isEmpty(), dashboard.getFileName() + ": no metric in " + expr);
        Set<String> available = new HashSet<>(SCRAPE_LABELS);
        for (String name : names) {
          assertTrue(exposed.containsKey(name), dashboard.getFileName() + ": " + name + " is not in /metrics (query " + expr + ")");
          available.addAll(exposed.get(name));
          used.add(name);
        }
        for (String label : labels) {
          assertTrue(available.contains(label), dashboard.getFileName() + ": no series of " + names + " has the label " + label + " (" + expr + ")");
        }
      }
    }
    System.out.println(queries + " dashboard queries over " + used.size() + " metrics, all exposed by /metrics: " + used);
  }

  @Test
  void theQueryReaderFindsMetricsAndLabelsAndNothingElse() {
    Set<String> labels = new HashSet<>();
    assertEquals(Set.of("a_seconds_bucket", "b_total"), metricNames("histogram_quantile(0.95, sum by (le, route) "
      + "(rate(a_seconds_bucket{instance=~\"$instance\", code=~\"5..\"}[$__rate_interval]))) / on (route) b_total{x=\"a,b\"}", labels));
    assertEquals(Set.of("le", "route", "instance", "code", "x"), labels);
  }

  /** A short load that touches every room (ledger, tasks with a failure, the catalog, errors), then /metrics. */
  private static String metricsAfterALoad() {
    Api api = node.api();
    String admin = node.adminToken();
    Api.Reply registered = api.post("/api/v1/auth/register", new JsonObject().put("username", "payee").put("email", "payee@example.com")
      .put("password", "payee-password-1"), null);
    assertEquals(201, registered.status, registered.toString());
    long payee = registered.json().getLong("id");
    assertEquals(201, api.post("/api/v1/transactions/credit", new JsonObject().put("amount", 10_000), admin).status);
    api.post("/api/v1/transactions/transfer", new JsonObject().put("to_user_id", payee).put("amount", 100), admin);
    api.post("/api/v1/transactions/transfer", new JsonObject().put("to_user_id", payee).put("amount", 1_000_000_000), admin);
    JsonArray tasks = new JsonArray();
    for (int i = 0; i < 20; i++) {
      tasks.add(new JsonObject().put("type", "noop"));
    }
    tasks.add(new JsonObject().put("type", "noop").put("payload", new JsonObject().put("fail", "permanent")));
    assertEquals(201, api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", tasks), admin).status);
    api.get("/api/v1/tasks/999999999", admin);
    api.get("/api/v1/products", admin);
    String finished = "SELECT count(*) FROM tasks WHERE status IN ('succeeded', 'failed')";
    TestServers.await("the tasks done", Duration.ofSeconds(30), () -> TestServers.scalar(node.databaseUrl(), finished) == 21);
    // The JVM's GC timer exists once a collection happened and its notification reached the
    // registry, on a thread of its own: wait for it (it was missing once on a fast machine).
    System.gc();
    TestServers.await("the queue gauges and the GC timer", Duration.ofSeconds(10), () -> {
      String body = api.raw("GET", "/metrics", null).raw.body();
      return body.contains("pulse_tasks_oldest_ready_seconds") && body.contains("jvm_gc_pause_seconds_sum");
    });
    return api.raw("GET", "/metrics", null).raw.body();
  }

  /** Metric name → the label names its series carry. */
  private static Map<String, Set<String>> exposed(String metrics) {
    Map<String, Set<String>> exposed = new HashMap<>();
    Pattern series = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})? ");
    Pattern label = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"");
    metrics.lines().filter(line -> !line.startsWith("#")).forEach(line -> {
      Matcher matcher = series.matcher(line);
      if (matcher.find()) {
        Set<String> labels = exposed.computeIfAbsent(matcher.group(1), name -> new HashSet<>());
        if (matcher.group(3) != null) {
          Matcher names = label.matcher(matcher.group(3));
          while (names.find()) {
            labels.add(names.group(1));
          }
        }
      }
    });
    return exposed;
  }

  /**
   * The metric names in a PromQL expression; the label names it matches on or groups by go to
   * {@code labels}. Grafana's variables are read as plain values.
   */
  static Set<String> metricNames(String expr, Set<String> labels) {
    String text = expr.replaceAll("\\$\\{?\\w+}?", "0");
    Matcher selector = Pattern.compile("\\{([^}]*)}").matcher(text);
    while (selector.find()) {
      for (String matcher : selector.group(1).split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)")) {
        String name = matcher.split("=~|!~|!=|=")[0].trim();
        if (!name.isEmpty()) {
          labels.add(name);
        }
      }
    }
    text = text.replaceAll("\\{[^}]*}", " ").replaceAll("\"[^\"]*\"", " ").replaceAll("\\[[^]]*]", " ");
    Matcher grouping = Pattern.compile("\\b(by|without|on|ignoring)\\s*\\(([^)]*)\\)").matcher(text);
    while (grouping.find()) {
      for (String name : grouping.group(2).split(",")) {
        if (!name.isBlank()) {
          labels.add(name.trim());
        }
      }
    }
    text = text.replaceAll("\\b(by|without|on|ignoring)\\s*\\([^)]*\\)", " ");
    Set<String> names = new HashSet<>();
    Matcher identifier = Pattern.compile("(?<![\\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*(\\()?").matcher(text);
    while (identifier.find()) {
      if (identifier.group(2) == null && !PROMQL_WORDS.contains(identifier.group(1).toLowerCase())) {
        names.add(identifier.group(1));
      }
    }
    return names;
  }

  private static List<Path> dashboards() throws IOException {
    try (Stream<Path> files = Files.list(Path.of("conf/grafana/dashboards"))) {
      List<Path> found = files.filter(file -> file.toString().endsWith(".json")).sorted().toList();
      assertTrue(found.size() >= 4, "dashboards for HTTP, tasks, ledger and the platform: " + found);
      return found;
    }
  }

  /** Every PromQL expression of a dashboard: its panels' targets and its query variables. */
  private static List<String> expressions(JsonObject dashboard) {
    List<String> expressions = new ArrayList<>();
    for (Object panel : dashboard.getJsonArray("panels")) {
      for (Object target : ((JsonObject) panel).getJsonArray("targets", new JsonArray())) {
        expressions.add(((JsonObject) target).getString("expr"));
      }
    }
    for (Object variable : dashboard.getJsonObject("templating", new JsonObject()).getJsonArray("list", new JsonArray())) {
      JsonObject query = ((JsonObject) variable).getJsonObject("query");
      Matcher values = Pattern.compile("label_values\\(([^,]+),\\s*(\\w+)\\)").matcher(query.getString("query"));
      assertTrue(values.matches(), "a label_values variable: " + query);
      expressions.add(values.group(1) + "{" + values.group(2) + "=~\".*\"}");
    }
    return expressions;
  }

  private static Set<String> datasourceUids(JsonObject dashboard) {
    Set<String> uids = new HashSet<>();
    Matcher uid = Pattern.compile("\"datasource\":\\{[^}]*\"uid\":\"([^\"]+)\"").matcher(dashboard.encode());
    while (uid.find()) {
      uids.add(uid.group(1));
    }
    return uids;
  }
}
