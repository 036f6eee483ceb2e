package verticles.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import verticles.Node;
import verticles.support.Api;
import verticles.support.TestServers;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Hostile input, generated from the OpenAPI document: for every /api/v1 operation, bad
 * variants of every parameter and of every field of the request body (recursively, through
 * {@code $ref}s and YAML merge keys), of the body as a whole, of its bytes and its content
 * type, sent as an admin, as an ordinary user and without a valid token. Only variants the
 * document (or the edge's documented JSON rules) must refuse are sent; a small validator of
 * its own here decides that, independently of the server's.
 *
 * <p>Every answer must be below 500 and a refusal (4xx); every 4xx a problem
 * (application/problem+json) carrying the response's X-Request-Id; a 400 caused by a field must
 * name it. Readiness holds during and after the barrage, and no row is written anywhere. All
 * violations are gathered, then reported at once (and in target/hostile-input-violations.txt).
 *
 * <p>The run is seeded ({@code -Dhostile.seed=<seed>} replays one): the seed picks, for each
 * place, which members of the larger groups of bad values are sent (the values named as musts
 * are always sent), the random lengths and numbers, and the order of the requests.
 */
class HostileInputTest {

  private static final String ADMIN = "hostile_admin";
  private static final String ADMIN_PASSWORD = "hostile-admin-password-1";
  private static final String USER = "hostile_user";
  private static final String USER_PASSWORD = "hostile-user-password-1";
  private static final int MIN_REQUESTS = 3000;
  private static final int IN_FLIGHT = 8;
  private static final int HEALTH_EVERY = 500;
  private static final List<String> TABLES = List.of("users", "transactions", "entries", "balances", "tasks",
    "schedules", "audit_logs", "idempotency_keys", "queues");
  private static final String HOLE = "@@HOSTILE-FRAGMENT@@";

  /** Lenient on purpose (duplicate keys allowed, last wins): it only models what a value would mean. */
  private static final ObjectMapper LENIENT = new ObjectMapper();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private static Node node;
  private static int port;
  private static String databaseUrl;
  private static Who admin;
  private static Who user;
  private static long transactionId;
  private static long bystanderId;
  private static Map<String, Object> document;

  private final long seed = Long.getLong("hostile.seed", System.nanoTime());
  private final java.util.Random random = new java.util.Random(seed);
  private final AtomicInteger keys = new AtomicInteger();
  private static final AtomicInteger KEYS = new AtomicInteger();

  /** A caller: its label, its Authorization header, its id and the id of another active user. */
  private record Who(String name, String authorization, long selfId, long otherId) {
  }

  /** One operation of the document. */
  private record Op(String method, String path, Map<String, Object> operation, List<Map<String, Object>> params,
                    Map<String, Object> body, boolean authenticated, String bodyMedia) {
    String name() {
      return method + " " + path;
    }
  }

  /** One request to send and what it must get. */
  private record Probe(String op, String kind, String target, String who, String method, String uri,
                       List<String> headers, byte[] body, Integer expectStatus, String expectField, byte[] rawHeader) {
    Probe(String op, String kind, String target, String who, String method, String uri, List<String> headers,
          byte[] body, Integer expectStatus, String expectField) {
      this(op, kind, target, who, method, uri, headers, body, expectStatus, expectField, null);
    }

    /** Big enough that the server refuses it before routing and closes the connection (kept off the shared pool). */
    boolean oversized() {
      int headerBytes = headers.stream().mapToInt(String::length).sum();
      return uri.length() > 4000 || headerBytes > 8000 || body != null && body.length > 1_000_000;
    }

    String describe() {
      String text = body == null ? "" : new String(body, 0, Math.min(body.length, 160), StandardCharsets.UTF_8);
      return method + " " + clip(uri, 160) + " as " + who + " [" + kind + " @ " + target + "]"
        + (body == null ? "" : " body(" + body.length + "B)=" + text.replace("\n", "\\n"));
    }
  }

  /** A raw JSON value to put where a field's value goes; {@code refused} when the edge refuses it whatever the schema. */
  private record Fragment(String kind, String raw, boolean refused) {
  }

  // ---------------------------------------------------------------------------------------------
  // The node

  @BeforeAll
  static void start() throws Exception {
    databaseUrl = TestServers.freshDatabase();
    var config = TestServers.config(Map.of("DATABASE_URL", databaseUrl, "ADMIN_USERNAME", ADMIN,
      "ADMIN_PASSWORD", ADMIN_PASSWORD, "RATE_LIMIT_AUTH_PER_MINUTE", "1000000",
      "RATE_LIMIT_USER_PER_MINUTE", "1000000"));
    node = Node.start(config).toCompletionStage().toCompletableFuture().get(90, TimeUnit.SECONDS);
    port = config.integer("HTTP_PORT");
    Api api = new Api(port);

    String adminToken = api.login(ADMIN, ADMIN_PASSWORD);
    long adminId = api.get("/api/v1/me", adminToken).json().getLong("id");
    Api.Reply registered = api.post("/api/v1/auth/register", new JsonObject().put("username", USER)
      .put("email", USER + "@example.com").put("password", USER_PASSWORD), null);
    assertEquals(201, registered.status, registered.toString());
    long userId = registered.json().getLong("id");
    String userToken = api.login(USER, USER_PASSWORD);
    Api.Reply bystander = api.post("/api/v1/auth/register", new JsonObject().put("username", "hostile_bystander")
      .put("email", "hostile_bystander@example.com").put("password", USER_PASSWORD), null);
    assertEquals(201, bystander.status, bystander.toString());
    bystanderId = bystander.json().getLong("id");
    admin = new Who("admin", "Bearer " + adminToken, adminId, userId);
    user = new Who("user", "Bearer " + userToken, userId, adminId);

    // Both have funds, so a debit, transfer or reversal wrongly let through would really write.
    Api.Reply credit = api.post("/api/v1/transactions/credit",
      new JsonObject().put("amount", 1_000_000).put("user_id", userId), adminToken);
    assertEquals(201, credit.status, credit.toString());
    transactionId = credit.json().getLong("id");
    Api.Reply own = api.post("/api/v1/transactions/credit", new JsonObject().put("amount", 1_000_000), adminToken);
    assertEquals(201, own.status, own.toString());

    try (InputStream in = HostileInputTest.class.getResourceAsStream("/openapi.yaml")) {
      document = new Yaml(new SafeConstructor(new LoaderOptions()))
        .load(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) {
      node.stop().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The barrage

  @Test
  void hostileInputIsRefusedCleanlyAndWritesNothing() throws Exception {
    System.out.println("HostileInputTest seed=" + seed + " (replay: -Dhostile.seed=" + seed + ")");
    String tag = "[seed=" + seed + "] ";

    List<Op> ops = operations();
    List<Probe> probes = new ArrayList<>();
    for (Op op : ops) {
      for (Who who : List.of(admin, user)) {
        probes.addAll(bodyProbes(op, who));
        probes.addAll(parameterProbes(op, who));
      }
      probes.addAll(authProbes(op));
    }
    // Top up (seeded) to the minimum by resending randomly chosen variants (only if the document shrinks a lot).
    List<Probe> base = new ArrayList<>(probes);
    while (probes.size() < MIN_REQUESTS && !base.isEmpty()) {
      probes.add(base.get(random.nextInt(base.size())));
    }
    Collections.shuffle(probes, random);

    Map<String, Long> before = counts();
    Queue<String> violations = new ConcurrentLinkedQueue<>();
    Map<String, AtomicInteger> statuses = new ConcurrentHashMap<>();
    Map<String, Integer> kinds = new TreeMap<>();
    probes.forEach(p -> kinds.merge(p.kind(), 1, Integer::sum));

    HttpClient http = client();
    Semaphore inFlight = new Semaphore(IN_FLIGHT);
    AtomicInteger retried = new AtomicInteger();
    java.util.concurrent.ExecutorService sockets = java.util.concurrent.Executors.newFixedThreadPool(2);
    List<CompletableFuture<?>> pending = new ArrayList<>();
    long began = System.nanoTime();
    int sent = 0;
    for (Probe probe : probes) {
      inFlight.acquire();
      CompletableFuture<Reply> reply;
      if (probe.rawHeader() != null) {
        reply = CompletableFuture.supplyAsync(() -> rawSend(probe), sockets);
      } else if (probe.oversized()) {
        // the server closes such a connection after answering: a client of its own, so no pooled connection dies
        reply = send(client(), probe);
      } else {
        // A pooled connection the server closed can fail a request it never read: once, on a fresh client.
        reply = send(http, probe).exceptionallyCompose(error -> {
          retried.incrementAndGet();
          return send(client(), probe);
        });
      }
      pending.add(reply.whenComplete((response, error) -> {
        try {
          statuses.computeIfAbsent(error != null ? "no-response" : String.valueOf(response.status()),
            k -> new AtomicInteger()).incrementAndGet();
          check(probe, response, error, violations, tag);
        } finally {
          inFlight.release();
        }
      }));
      if (++sent % HEALTH_EVERY == 0) {
        ready(http, "after " + sent + " requests", violations, tag);
      }
    }
    for (CompletableFuture<?> future : pending) {
      try {
        future.get(90, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // recorded by check()
      }
    }
    sockets.shutdown();
    long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
    ready(http, "at the end", violations, tag);

    Map<String, Long> after = counts();
    for (String table : TABLES) {
      if (!before.get(table).equals(after.get(table))) {
        violations.add("WRITE " + tag + table + " had " + before.get(table) + " rows before the barrage and "
          + after.get(table) + " after");
      }
    }

    Map<String, Integer> byStatus = new TreeMap<>();
    statuses.forEach((k, v) -> byStatus.put(k, v.get()));
    String summary = "HostileInputTest seed=" + seed + " requests=" + sent + " time=" + elapsedMs + "ms statuses="
      + byStatus + " violations=" + violations.size() + " operations=" + ops.size() + " variantKinds=" + kinds.size()
      + " retriedOnFreshConnection=" + retried.get();
    System.out.println(summary);
    // writes and readiness first (they must survive the cut to 50), then by kind of violation
    List<String> all = new ArrayList<>(violations);
    all.sort(java.util.Comparator.comparing((String v) -> v.startsWith("WRITE") ? 0 : v.startsWith("NOT-READY") ? 1 : 2)
      .thenComparing(v -> v));
    Files.createDirectories(Path.of("target"));
    Files.writeString(Path.of("target", "hostile-input-summary.txt"), summary + "\n");
    Files.writeString(Path.of("target", "hostile-input-violations.txt"), summary + "\n" + String.join("\n", all)
      + "\n\nrequests by variant kind:\n" + kinds.entrySet().stream().map(e -> e.getValue() + "\t" + e.getKey())
      .collect(Collectors.joining("\n")) + "\n");

    if (!all.isEmpty()) {
      fail(tag + all.size() + " violation(s) (replay with -Dhostile.seed=" + seed + "; all in "
        + "target/hostile-input-violations.txt); the first 50:\n"
        + all.stream().limit(50).collect(Collectors.joining("\n")) + "\n" + summary);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // What is checked on every answer

  /** An answer: status, the first value of each header (names in lower case), body. */
  private record Reply(int status, Map<String, String> headers, byte[] body) {
    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  private static HttpClient client() {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
  }

  private static CompletableFuture<Reply> send(HttpClient http, Probe probe) {
    HttpRequest request;
    try {
      request = build(probe);
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new IllegalStateException("java.net.http would not send it: " + e.getMessage()));
    }
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray()).orTimeout(60, TimeUnit.SECONDS)
      .thenApply(response -> {
        Map<String, String> headers = new LinkedHashMap<>();
        response.headers().map().forEach((name, values) -> headers.put(name.toLowerCase(Locale.ROOT), values.get(0)));
        return new Reply(response.statusCode(), headers, response.body());
      });
  }

  /** The request written byte for byte on a socket of its own (Connection: close), for header bytes java.net.http refuses. */
  private static Reply rawSend(Probe probe) {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      ByteArrayOutputStream request = new ByteArrayOutputStream();
      request.writeBytes(utf8(probe.method() + " " + probe.uri() + " HTTP/1.1\r\nHost: 127.0.0.1:" + port
        + "\r\nConnection: close\r\n"));
      for (int i = 0; i < probe.headers().size(); i += 2) {
        request.writeBytes(utf8(probe.headers().get(i) + ": " + probe.headers().get(i + 1) + "\r\n"));
      }
      request.writeBytes(probe.rawHeader());
      request.writeBytes(utf8("\r\nContent-Length: " + (probe.body() == null ? 0 : probe.body().length) + "\r\n\r\n"));
      if (probe.body() != null) {
        request.writeBytes(probe.body());
      }
      socket.getOutputStream().write(request.toByteArray());
      socket.getOutputStream().flush();
      byte[] all = socket.getInputStream().readAllBytes();
      String text = new String(all, StandardCharsets.ISO_8859_1);
      int end = text.indexOf("\r\n\r\n");
      if (!text.startsWith("HTTP/1.") || end < 0) {
        throw new IOException("not an HTTP response: " + clip(text, 200));
      }
      String[] lines = text.substring(0, end).split("\r\n");
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon > 0) {
          headers.putIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
        }
      }
      byte[] body = java.util.Arrays.copyOfRange(all, end + 4, all.length);
      return new Reply(Integer.parseInt(lines[0].split(" ")[1]), headers, body);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void check(Probe probe, Reply response, Throwable error, Queue<String> violations,
                            String tag) {
    String what = tag + probe.describe();
    if (error != null) {
      violations.add("NO-RESPONSE " + what + " -> " + error);
      return;
    }
    int status = response.status();
    String text = new String(response.body(), StandardCharsets.UTF_8);
    String got = " -> " + status + " " + clip(text, 300).replace("\n", "\\n");
    if (status >= 500) {
      violations.add("5XX " + what + got);
      return;
    }
    if (status < 400) {
      violations.add("ACCEPTED " + what + got);
      return;
    }
    if (probe.expectStatus() != null && status != probe.expectStatus()) {
      violations.add("STATUS(expected " + probe.expectStatus() + ") " + what + got);
    }
    String contentType = response.header("Content-Type") == null ? "" : response.header("Content-Type");
    if (!contentType.toLowerCase(Locale.ROOT).startsWith("application/problem+json")) {
      violations.add("NOT-PROBLEM(Content-Type '" + contentType + "') " + what + got);
      return;
    }
    JsonNode problem;
    try {
      problem = LENIENT.readTree(response.body());
    } catch (IOException e) {
      problem = null;
    }
    if (problem == null || !problem.isObject()) {
      violations.add("NOT-JSON-PROBLEM " + what + got);
      return;
    }
    String requestId = response.header("X-Request-Id");
    if (requestId == null || !requestId.equals(problem.path("request_id").asText(null))) {
      violations.add("REQUEST-ID(header " + requestId + ") " + what + got);
    }
    if (problem.path("status").asInt(-1) != status) {
      violations.add("PROBLEM-STATUS " + what + got);
    }
    if (status == 400) {
      JsonNode errors = problem.path("errors");
      boolean hasErrors = errors.isArray() && errors.size() > 0;
      if (!hasErrors && problem.path("detail").asText("").isBlank()) {
        violations.add("NO-ERRORS-NOR-DETAIL " + what + got);
      } else if (probe.expectField() != null) {
        boolean named = false;
        if (hasErrors) {
          for (JsonNode e : errors) {
            String field = e.path("field").asText("");
            String expected = probe.expectField();
            if (field.equals(expected) || field.startsWith(expected + ".") || expected.startsWith(field + ".")) {
              named = true;
            }
          }
        }
        if (!named) {
          violations.add("FIELD-NOT-NAMED(" + probe.expectField() + ") " + what + got);
        }
      }
    }
  }

  private static void ready(HttpClient http, String when, Queue<String> violations, String tag) {
    try {
      HttpResponse<String> reply = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready"))
        .timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofString());
      if (reply.statusCode() != 200) {
        violations.add(tag + "NOT-READY " + when + ": " + reply.statusCode() + " " + clip(reply.body(), 300));
      }
    } catch (IOException | InterruptedException e) {
      violations.add(tag + "NOT-READY " + when + ": " + e);
    }
  }

  private static Map<String, Long> counts() {
    Map<String, Long> counts = new LinkedHashMap<>();
    for (String table : TABLES) {
      counts.put(table, TestServers.scalar(databaseUrl, "SELECT count(*) FROM " + table));
    }
    return counts;
  }

  private static HttpRequest build(Probe probe) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + probe.uri()))
      .timeout(Duration.ofSeconds(60))
      .method(probe.method(), probe.body() == null ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofByteArray(probe.body()));
    for (int i = 0; i < probe.headers().size(); i += 2) {
      request.header(probe.headers().get(i), probe.headers().get(i + 1));
    }
    return request.build();
  }

  // ---------------------------------------------------------------------------------------------
  // The document

  private static List<Op> operations() {
    List<Op> ops = new ArrayList<>();
    Map<String, Object> paths = map(document.get("paths"));
    for (Map.Entry<String, Object> item : paths.entrySet()) {
      if (!item.getKey().startsWith("/api/v1/")) {
        continue;
      }
      Map<String, Object> pathItem = resolve(item.getValue());
      for (String method : List.of("get", "put", "post", "delete", "patch")) {
        if (!pathItem.containsKey(method)) {
          continue;
        }
        Map<String, Object> operation = resolve(pathItem.get(method));
        List<Map<String, Object>> params = new ArrayList<>();
        for (Object p : list(pathItem.get("parameters"))) {
          params.add(resolve(p));
        }
        for (Object p : list(operation.get("parameters"))) {
          Map<String, Object> parameter = resolve(p);
          params.removeIf(q -> q.get("name").equals(parameter.get("name")) && q.get("in").equals(parameter.get("in")));
          params.add(parameter);
        }
        Map<String, Object> body = null;
        String bodyMedia = null;
        if (operation.containsKey("requestBody")) {
          Map<String, Object> content = map(resolve(operation.get("requestBody")).get("content"));
          bodyMedia = content.containsKey("application/json") ? "application/json" : content.keySet().iterator().next();
          if (bodyMedia.equals("application/json")) {
            body = resolve(map(content.get("application/json")).get("schema"));
          }
        }
        Object security = operation.containsKey("security") ? operation.get("security") : document.get("security");
        boolean authenticated = security instanceof List && !((List<?>) security).isEmpty();
        ops.add(new Op(method.toUpperCase(Locale.ROOT), item.getKey(), operation, params, body, authenticated, bodyMedia));
      }
    }
    if (ops.isEmpty()) {
      throw new IllegalStateException("no /api/v1 operation in openapi.yaml");
    }
    return ops;
  }

  /** Follows local {@code $ref}s and applies YAML merge keys ({@code <<}), if the loader left any. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> resolve(Object node) {
    if (node == null) {
      return Map.of();
    }
    Map<String, Object> schema = (Map<String, Object>) node;
    int hops = 0;
    while (schema.containsKey("$ref")) {
      String ref = (String) schema.get("$ref");
      if (!ref.startsWith("#/") || ++hops > 20) {
        throw new IllegalStateException("cannot follow $ref " + ref);
      }
      Object target = document;
      for (String part : ref.substring(2).split("/")) {
        target = ((Map<String, Object>) target).get(part.replace("~1", "/").replace("~0", "~"));
      }
      if (target == null) {
        throw new IllegalStateException("dangling $ref " + ref);
      }
      Map<String, Object> merged = new LinkedHashMap<>((Map<String, Object>) target);
      schema.forEach((k, v) -> {
        if (!k.equals("$ref")) {
          merged.put(k, v);
        }
      });
      schema = merged;
    }
    if (schema.containsKey("<<")) {
      Map<String, Object> merged = new LinkedHashMap<>();
      Object source = schema.get("<<");
      for (Object s : source instanceof List ? (List<Object>) source : List.of(source)) {
        resolve(s).forEach(merged::putIfAbsent);
      }
      schema.forEach((k, v) -> {
        if (!k.equals("<<")) {
          merged.put(k, v);
        }
      });
      schema = merged;
    }
    return schema;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object value) {
    return value == null ? Map.of() : (Map<String, Object>) value;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> list(Object value) {
    return value == null ? List.of() : (List<Object>) value;
  }

  private static Map<String, Object> properties(Map<String, Object> schema) {
    return resolve(map(schema.get("properties")));
  }

  private static List<String> required(Map<String, Object> schema) {
    List<String> names = new ArrayList<>();
    list(schema.get("required")).forEach(n -> names.add(String.valueOf(n)));
    return names;
  }

  private static List<String> types(Map<String, Object> schema) {
    Object type = schema.get("type");
    if (type instanceof String) {
      return List.of((String) type);
    }
    if (type instanceof List) {
      List<String> types = new ArrayList<>();
      ((List<?>) type).forEach(t -> types.add(String.valueOf(t)));
      return types;
    }
    if (schema.containsKey("properties")) {
      return List.of("object");
    }
    return List.of();
  }

  private static boolean is(Map<String, Object> schema, String type) {
    return types(schema).contains(type);
  }

  private static boolean closed(Map<String, Object> schema) {
    return Boolean.FALSE.equals(schema.get("additionalProperties"));
  }

  // ---------------------------------------------------------------------------------------------
  // Valid bases: the smallest valid request, so that one change makes it invalid

  private static String sampleString(Op op, Who who, String name, Map<String, Object> schema) {
    List<String> candidates = new ArrayList<>();
    if (schema.containsKey("enum")) {
      list(schema.get("enum")).forEach(e -> candidates.add(String.valueOf(e)));
    }
    if ("date-time".equals(schema.get("format"))) {
      candidates.add("2030-01-01T00:00:00Z");
    }
    boolean login = op.path().endsWith("/login");
    switch (name) {
      case "username" -> candidates.add(login ? USER : "hostile_newcomer");
      case "email" -> candidates.add("hostile.newcomer@example.com");
      case "password" -> candidates.add(login ? USER_PASSWORD : "hostile-password-2");
      case "current_password" -> candidates.add(USER_PASSWORD);
      case "type" -> candidates.add("noop");
      case "cron" -> candidates.add("*/5 * * * *");
      case "timezone" -> candidates.add("UTC");
      case "name" -> candidates.add(op.path().contains("queues") ? "hostile-q" : "hostile-schedule");
      case "queue" -> candidates.add("hostile-q");
      case "currency" -> candidates.add("USD");
      case "description" -> candidates.add("hostile input");
      case "payload" -> candidates.add("customer.id=42");
      case "fingerprint" -> candidates.add("0123456789ab");
      case "image_url" -> candidates.add("http://127.0.0.1:9/hostile.jpg");
      case "idempotency_key", "Idempotency-Key" -> candidates.add("hostile-key-" + KEYS.incrementAndGet());
      default -> { }
    }
    candidates.addAll(List.of("hostile", "abc", "hostile-value-1", "x", "a@b.co", "USD"));
    for (String candidate : candidates) {
      if (valid(schema, TextNode.valueOf(candidate))) {
        return candidate;
      }
    }
    throw new IllegalStateException("no valid sample for string '" + name + "' with schema " + schema
      + "; add one to HostileInputTest.sampleString");
  }

  private static long sampleInteger(Op op, Who who, String name, Map<String, Object> schema) {
    long value = switch (name) {
      // users/{id}: for an admin a bystander (a change let through must not lock this test's callers out), for the
      // user themselves; transactions/{id}: a real one
      case "id" -> op.path().startsWith("/api/v1/users/") ? (who == admin ? bystanderId : user.selfId())
        : op.path().startsWith("/api/v1/transactions/") ? transactionId : 1;
      case "user_id" -> user.selfId();
      case "to_user_id" -> who.otherId();
      case "amount" -> 1;
      case "priority" -> 5;
      case "delay_ms" -> 60_000;
      case "max_attempts" -> 3;
      case "timeout_ms" -> 1000;
      case "base_ms" -> 100;
      case "max_ms" -> 1000;
      case "concurrency", "rate_per_s" -> 10;
      case "limit" -> 10;
      default -> 1;
    };
    if (!valid(schema, LongNode.valueOf(value))) {
      value = schema.containsKey("minimum") ? ((Number) schema.get("minimum")).longValue() : 1;
    }
    return value;
  }

  /** The smallest valid value of {@code schema} that contains {@code target} (a path of keys and indexes). */
  private JsonNode build(Op op, Who who, String name, Map<String, Object> schema, List<Object> target) {
    schema = resolve(schema);
    if (schema.containsKey("enum") && target.isEmpty()) {
      return LENIENT.valueToTree(list(schema.get("enum")).get(0));
    }
    if (is(schema, "object")) {
      ObjectNode object = NODES.objectNode();
      Map<String, Object> properties = properties(schema);
      for (String property : required(schema)) {
        List<Object> rest = !target.isEmpty() && property.equals(target.get(0)) ? target.subList(1, target.size()) : List.of();
        object.set(property, build(op, who, property, resolve(properties.get(property)), rest));
      }
      if (!target.isEmpty() && !object.has((String) target.get(0))) {
        String property = (String) target.get(0);
        object.set(property, build(op, who, property, resolve(properties.get(property)), target.subList(1, target.size())));
      }
      int minProperties = ((Number) schema.getOrDefault("minProperties", 0)).intValue();
      for (String property : properties.keySet()) {
        if (object.size() >= minProperties) {
          break;
        }
        if (!object.has(property)) {
          object.set(property, build(op, who, property, resolve(properties.get(property)), List.of()));
        }
      }
      return object;
    }
    if (is(schema, "array")) {
      ArrayNode array = NODES.arrayNode();
      int items = Math.max(((Number) schema.getOrDefault("minItems", 0)).intValue(), target.isEmpty() ? 0 : 1);
      for (int i = 0; i < items; i++) {
        array.add(build(op, who, name, resolve(schema.get("items")), i == 0 && !target.isEmpty()
          ? target.subList(1, target.size()) : List.of()));
      }
      return array;
    }
    if (is(schema, "integer") || is(schema, "number")) {
      return LongNode.valueOf(sampleInteger(op, who, name, schema));
    }
    if (is(schema, "boolean")) {
      return BooleanNode.FALSE;
    }
    if (is(schema, "string")) {
      return TextNode.valueOf(sampleString(op, who, name, schema));
    }
    return NODES.objectNode();
  }

  // ---------------------------------------------------------------------------------------------
  // Variants of the body

  /** A place in the body: its path, schema, and whether its parent requires it. */
  private record Place(List<Object> path, Map<String, Object> schema, boolean required) {
    String dotted() {
      return path.isEmpty() ? "body" : path.stream().map(String::valueOf).collect(Collectors.joining("."));
    }

    String name() {
      for (int i = path.size() - 1; i >= 0; i--) {
        if (path.get(i) instanceof String) {
          return (String) path.get(i);
        }
      }
      return "body";
    }
  }

  private static void places(Map<String, Object> schema, List<Object> path, boolean required, List<Place> out) {
    schema = resolve(schema);
    out.add(new Place(path, schema, required));
    if (is(schema, "object")) {
      List<String> requiredHere = required(schema);
      for (Map.Entry<String, Object> property : properties(schema).entrySet()) {
        List<Object> child = new ArrayList<>(path);
        child.add(property.getKey());
        places(resolve(property.getValue()), child, requiredHere.contains(property.getKey()), out);
      }
    } else if (is(schema, "array") && schema.containsKey("items")) {
      List<Object> child = new ArrayList<>(path);
      child.add(0);
      places(resolve(schema.get("items")), child, false, out);
    }
  }

  private List<Probe> bodyProbes(Op op, Who who) {
    List<Probe> probes = new ArrayList<>();
    if ("text/csv".equals(op.bodyMedia())) {
      return csvProbes(op, who);
    }
    if (op.body() == null) {
      return probes;
    }
    Map<String, Object> root = op.body();
    List<Place> places = new ArrayList<>();
    places(root, List.of(), true, places);

    for (Place place : places) {
      JsonNode base = build(op, who, "body", root, place.path());
      // 1. Every hostile value where this place's value goes.
      Map<String, List<Probe>> groups = new LinkedHashMap<>();
      for (Fragment fragment : fragments(place)) {
        JsonNode modelled = model(fragment.raw());
        boolean refused = fragment.refused() || modelled == null
          || mustRefuse(root, place.path().isEmpty() ? modelled : with(base, place.path(), modelled));
        if (!refused) {
          continue; // the document allows it here: not a hostile variant of this place
        }
        byte[] body = place.path().isEmpty() ? utf8(fragment.raw()) : splice(base, place.path(), fragment.raw());
        String field = fragment.kind().startsWith("nested") || fragment.kind().startsWith("duplicate")
          || place.path().isEmpty() ? null : place.dotted();
        groups.computeIfAbsent(fragment.kind(), k -> new ArrayList<>()).add(probe(op, who, fragment.kind(),
          place.dotted(), Map.of(), Map.of(), Map.of(), body, "application/json", null, field));
      }
      probes.addAll(pick(groups));
      // 2. The place missing, when it is required.
      if (place.required() && !place.path().isEmpty()) {
        JsonNode without = base.deepCopy();
        JsonNode parent = at(without, place.path().subList(0, place.path().size() - 1));
        if (parent instanceof ObjectNode) {
          ((ObjectNode) parent).remove((String) place.path().get(place.path().size() - 1));
          if (mustRefuse(root, without)) {
            probes.add(probe(op, who, "missing required field", place.dotted(), Map.of(), Map.of(), Map.of(),
              utf8(without.toString()), "application/json", null, place.dotted()));
          }
        }
      }
      if (is(place.schema(), "object")) {
        JsonNode object = place.path().isEmpty() ? base : at(base, place.path());
        // 3. Unknown properties, where the schema closes the object.
        if (closed(place.schema())) {
          Map<String, Object> known = properties(place.schema());
          for (String[] extra : List.of(new String[] {"hostile_extra", "1"}, new String[] {"__proto__", "{\"role\":\"admin\"}"},
            new String[] {"role", "\"admin\""}, new String[] {"owner_id", "1"}, new String[] {"id", "1"})) {
            if (known.containsKey(extra[0])) {
              continue;
            }
            ObjectNode more = ((ObjectNode) object).deepCopy();
            more.set(extra[0], model(extra[1]));
            JsonNode whole = place.path().isEmpty() ? more : with(base, place.path(), more);
            if (mustRefuse(root, whole)) {
              String field = place.path().isEmpty() ? extra[0] : place.dotted() + "." + extra[0];
              probes.add(probe(op, who, "unknown property", field, Map.of(), Map.of(), Map.of(), utf8(whole.toString()),
                "application/json", null, field));
            }
          }
        }
        // 4. An empty object where properties are needed.
        JsonNode empty = place.path().isEmpty() ? NODES.objectNode() : with(base, place.path(), NODES.objectNode());
        if (mustRefuse(root, empty)) {
          probes.add(probe(op, who, "empty object", place.dotted(), Map.of(), Map.of(), Map.of(), utf8(empty.toString()),
            "application/json", null, place.path().isEmpty() ? null : place.dotted()));
        }
        // 5. A key repeated in this object (always refused at the edge).
        String duplicated;
        if (object.size() == 0) {
          duplicated = "{\"a\":1,\"a\":2}";
        } else {
          String key = object.fieldNames().next();
          duplicated = "{" + quote(key) + ":" + object.get(key) + "," + object.toString().substring(1);
        }
        probes.add(probe(op, who, "duplicate key", place.dotted(), Map.of(), Map.of(), Map.of(),
          place.path().isEmpty() ? utf8(duplicated) : splice(base, place.path(), duplicated), "application/json",
          null, null));
      }
    }

    // 6. The body as a whole: its bytes, its syntax, its size, its content type.
    JsonNode base = build(op, who, "body", root, List.of());
    // the bad bytes go inside the least constrained string of the body, so nothing but them can refuse it
    Place text = places.stream().filter(p -> is(p.schema(), "string") && !p.schema().containsKey("enum")
        && !p.schema().containsKey("pattern") && !p.schema().containsKey("format")).findFirst()
      .orElse(places.stream().filter(p -> is(p.schema(), "string") && !p.schema().containsKey("enum")).findFirst()
      .orElse(places.stream().filter(p -> is(p.schema(), "string")).findFirst().orElse(null)));
    JsonNode textBase = text == null ? base : build(op, who, "body", root, text.path());
    // {C3 28} always; one overlong form (a well-formed UTF-8 decoder refuses them all); three other broken sequences
    Map<String, List<byte[]>> broken = new LinkedHashMap<>();
    broken.put("", List.of(new byte[] {(byte) 0xC3, 0x28}));
    broken.put("overlong", List.of(new byte[] {(byte) 0xC0, (byte) 0xAF}, new byte[] {(byte) 0xC1, (byte) 0xBF},
      new byte[] {(byte) 0xE0, (byte) 0x80, (byte) 0xAF}, new byte[] {(byte) 0xE0, (byte) 0x81, (byte) 0x81},
      new byte[] {(byte) 0xF0, (byte) 0x80, (byte) 0x80, (byte) 0xAF}, new byte[] {(byte) 0xC0, (byte) 0x80}));
    broken.put("other", List.of(new byte[] {(byte) 0xA0, (byte) 0xA1}, new byte[] {(byte) 0xFF},
      new byte[] {(byte) 0xFE, (byte) 0xFF}, new byte[] {(byte) 0xE2, 0x28, (byte) 0xA1},
      new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80},
      new byte[] {(byte) 0xF8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80}, new byte[] {(byte) 0xE0, (byte) 0x80}));
    List<byte[]> chosenBytes = new ArrayList<>();
    broken.forEach((group, members) -> {
      List<byte[]> shuffled = new ArrayList<>(members);
      Collections.shuffle(shuffled, random);
      chosenBytes.addAll(shuffled.subList(0, group.equals("other") ? 3 : 1));
    });
    for (byte[] bad : chosenBytes) {
      byte[] body;
      String where;
      if (text != null) {
        body = spliceBytes(textBase, text.path(), bad);
        where = text.dotted();
      } else {
        // no string field: the bad bytes go into a key
        String json = textBase.toString();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(utf8(json.substring(0, json.length() - 1) + (textBase.size() > 0 ? "," : "") + "\"k"));
        out.writeBytes(bad);
        out.writeBytes(utf8("\":1}"));
        body = out.toByteArray();
        where = "body";
      }
      probes.add(probe(op, who, "invalid UTF-8 " + hex(bad), where, Map.of(), Map.of(), Map.of(), body,
        "application/json", 400, null));
    }
    String json = base.toString();
    List<String> malformed = new ArrayList<>(List.of(
      json.substring(0, json.length() / 2), "{", "}", "{\"a\":}", "{'a':1}", "{a:1}", "{\"a\":1,}", "[1,]",
      json + "x", json + json, json + ",", "NaN", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}",
      "/*c*/" + json, json + "//c", "{\"a\":01}", "{\"a\":.5}", "{\"a\":1.}", "{\"a\":+1}", "{\"a\":\"\\x\"}",
      "{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"line\nbreak\"}", "\u0000", json + "\u0000",
      "{\"a\":tru}", "{\"a\":nul}", "\"unterminated", "{\"a\" 1}", "{,}", "[", "]", "{\"a\":[1,2}", "\u00EF\u00BB\u00BF"));
    Map<String, List<Probe>> syntax = new LinkedHashMap<>();
    for (String m : malformed) {
      syntax.computeIfAbsent("malformed JSON", k -> new ArrayList<>())
        .add(probe(op, who, "malformed JSON", "body", Map.of(), Map.of(), Map.of(), utf8(m), "application/json", 400, null));
    }
    probes.addAll(pick(syntax));
    for (String wrong : List.of("null", "[]", "\"x\"", "1", "true", "[" + json + "]")) {
      if (mustRefuse(root, model(wrong))) {
        probes.add(probe(op, who, "wrong JSON type for the body", "body", Map.of(), Map.of(), Map.of(), utf8(wrong),
          "application/json", 400, null));
      }
    }
    probes.add(probe(op, who, "empty body", "body", Map.of(), Map.of(), Map.of(), new byte[0], "application/json", 400, null));
    probes.add(probe(op, who, "whitespace body", "body", Map.of(), Map.of(), Map.of(), utf8(" \n\t "), "application/json", 400, null));
    probes.add(probe(op, who, "no body at all", "body", Map.of(), Map.of(), Map.of(), null, "application/json", 400, null));
    List<String> contentTypes = new ArrayList<>(List.of("application/x-www-form-urlencoded",
      "application/json-patch+json", "application/javascript", "multipart/form-data; boundary=x", "json",
      "application/xml", "application/json+x", "*/*", "text/json", "application/ json"));
    Collections.shuffle(contentTypes, random);
    contentTypes = new ArrayList<>(contentTypes.subList(0, 3));
    contentTypes.addAll(0, java.util.Arrays.asList("text/plain", "application/jsonp", null));
    for (String contentType : contentTypes) {
      probes.add(probe(op, who, "content type " + (contentType == null ? "(none)" : contentType), "Content-Type", Map.of(), Map.of(), Map.of(),
        utf8(json), contentType, 415, null));
    }
    // bigger than BODY_LIMIT_BYTES (1 MiB by default)
    String huge = "{\"" + (text == null ? "k" : text.name()) + "\":\"" + "a".repeat(1_100_000 + random.nextInt(1000)) + "\"}";
    probes.add(probe(op, who, "body over the limit", "body", Map.of(), Map.of(), Map.of(), utf8(huge), "application/json", 413, null));
    for (int depth : new int[] {100, 1000 + random.nextInt(100), 100_000}) {
      probes.add(probe(op, who, "nested " + (depth < 1000 || depth > 10_000 ? depth : "1000+") + " deep (array)", "body", Map.of(), Map.of(), Map.of(),
        utf8("[".repeat(depth) + "]".repeat(depth)), "application/json", 400, null));
    }
    probes.add(probe(op, who, "nested 100 deep (object)", "body", Map.of(), Map.of(), Map.of(),
      utf8("{\"a\":".repeat(100) + "1" + "}".repeat(100)), "application/json", 400, null));
    return probes;
  }

  /**
   * The hostile values for one place, by group; which of them the schema refuses is decided by
   * the caller, who sends {@link #picks} of each group (chosen by the seed) among those refused.
   * The values the brief names explicitly are groups of their own, so every run sends them.
   */
  private List<Fragment> fragments(Place place) {
    Map<String, Object> schema = place.schema();
    List<Fragment> out = new ArrayList<>();
    // refused by the edge wherever they appear
    out.add(new Fragment("string with NUL", "\"a\\u0000b\"", false));
    out.add(new Fragment("string with NUL", "\"\\u0000\"", false));
    out.add(new Fragment("lone surrogate \\ud800", "\"\\ud800\"", false));
    out.add(new Fragment("lone surrogate (other)", "\"ab\\udfff\"", false));
    out.add(new Fragment("lone surrogate (other)", "\"\\udc00\\ud800\"", false));
    out.add(new Fragment("integer overflow 2^63", "9223372036854775808", false));
    out.add(new Fragment("integer overflow 2^64+1", "18446744073709551617", false));
    out.add(new Fragment("integer overflow (other)", "-9223372036854775809", false));
    out.add(new Fragment("integer overflow (other)", "1" + "0".repeat(40 + random.nextInt(300)), false));
    out.add(new Fragment("1e400", "1e400", false));
    out.add(new Fragment("1e400 (other)", "-1e400", false));
    out.add(new Fragment("1e400 (other)", "1E400", false));
    out.add(new Fragment("-0", "-0", false));
    out.add(new Fragment("nested 100 deep", "[".repeat(100) + "1" + "]".repeat(100), false));
    out.add(new Fragment("nested 100 deep", "{\"a\":".repeat(100) + "1" + "}".repeat(100), false));
    out.add(new Fragment("hostile key or value inside", "{\"\\u0000\":1}", false));
    out.add(new Fragment("hostile key or value inside", "{\"\\ud800\":1}", false));
    out.add(new Fragment("hostile key or value inside", "{\"k\":\"\\u0000\"}", false));
    out.add(new Fragment("hostile key or value inside", "{\"k\":[18446744073709551617]}", false));
    out.add(new Fragment("hostile key or value inside", "[\"\\ud800\"]", false));
    out.add(new Fragment("duplicate key inside", "{\"a\":1,\"a\":2}", true));
    // wrong JSON types
    for (String wrong : List.of("\"1\"", "\"true\"", "1", "0", "1.5", "-1.5", "true", "false", "null", "{}",
      "{\"a\":1}", "[]", "[1]", "[\"x\"]", "[null]", "[[]]", "7")) {
      out.add(new Fragment("wrong type", wrong, false));
    }
    // numbers out of range
    out.add(new Fragment("out of range", "-1", false));
    out.add(new Fragment("out of range", String.valueOf(Long.MIN_VALUE), false));
    if (schema.get("minimum") instanceof Number) {
      long min = ((Number) schema.get("minimum")).longValue();
      if (min > Long.MIN_VALUE) {
        out.add(new Fragment("out of range", String.valueOf(min - 1), false));
      }
    }
    if (schema.get("maximum") instanceof Number) {
      BigDecimal max = new BigDecimal(String.valueOf(schema.get("maximum")));
      out.add(new Fragment("out of range", max.add(BigDecimal.ONE).toPlainString(), false));
    }
    out.add(new Fragment("out of range", "2147483648", false));
    // strings
    out.add(new Fragment("empty string", "\"\"", false));
    if (schema.get("maxLength") instanceof Number) {
      int max = ((Number) schema.get("maxLength")).intValue();
      out.add(new Fragment("overlong string (maxLength+)", quote(randomText(max + 1 + random.nextInt(40))), false));
    }
    out.add(new Fragment("overlong string (100,000)", quote("a".repeat(100_000)), false));
    for (String odd : List.of("   ", "UPPER CASE!", "..", "-", "a/b", "<script>alert(1)</script>", "' OR 1=1 --",
      "${jndi:ldap://x/a}", "\u00fc\u6f22\u5b57\ud83d\ude42", "a\tb\nc", "\u202e", "1e400", "bogus")) {
      out.add(new Fragment("bad string", quote(odd), false));
    }
    for (String odd : List.of("2024-13-01T00:00:00Z", "2024-01-01T00:00:00", "2024-02-30T10:00:00Z",
      "+999999999-12-31T23:59:59Z", "2024-01-01", "yesterday", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00+25:00")) {
      out.add(new Fragment("bad date-time", quote(odd), false));
    }
    if (schema.containsKey("enum")) {
      String first = String.valueOf(list(schema.get("enum")).get(0));
      out.add(new Fragment("enum: near miss", quote(first.toUpperCase(Locale.ROOT)), false));
      out.add(new Fragment("enum: near miss", quote(" " + first), false));
      out.add(new Fragment("enum: near miss", quote("1e400"), false));
      out.add(new Fragment("enum: a number", String.valueOf(random.nextInt(1000)), false));
    }
    // arrays
    if (is(schema, "array")) {
      Map<String, Object> items = resolve(schema.get("items"));
      if (schema.get("maxItems") instanceof Number) {
        int max = ((Number) schema.get("maxItems")).intValue();
        JsonNode item = build(new Op("POST", "/", Map.of(), List.of(), Map.of(), true, "application/json"), user, place.name(), items, List.of());
        String many = Collections.nCopies(max + 1, item.toString()).stream().collect(Collectors.joining(",", "[", "]"));
        out.add(new Fragment("too many items", many, false));
      }
    }
    return out;
  }

  /** How many of a group's refused values one run sends (1 unless named here). */
  private static final Map<String, Integer> PICKS = Map.of("wrong type", 3, "out of range", 2, "bad string", 2,
    "bad date-time", 2, "non-number", 2, "malformed JSON", 12);

  /** Keeps {@link #PICKS} of each group, chosen by the seed, in a stable order. */
  private <T> List<T> pick(Map<String, List<T>> groups) {
    List<T> chosen = new ArrayList<>();
    groups.forEach((group, members) -> {
      List<T> shuffled = new ArrayList<>(members);
      Collections.shuffle(shuffled, random);
      chosen.addAll(shuffled.subList(0, Math.min(shuffled.size(), PICKS.getOrDefault(group, 1))));
    });
    return chosen;
  }

  // ---------------------------------------------------------------------------------------------
  // Variants of the parameters

  private List<Probe> parameterProbes(Op op, Who who) {
    List<Probe> probes = new ArrayList<>();
    for (Map<String, Object> parameter : op.params()) {
      String name = (String) parameter.get("name");
      String in = (String) parameter.get("in");
      boolean required = Boolean.TRUE.equals(parameter.get("required"));
      Map<String, Object> schema = resolve(parameter.get("schema"));
      Map<String, List<Probe>> groups = new LinkedHashMap<>();
      for (String[] value : parameterValues(schema, in)) {
        String group = value[0];
        String raw = value[1];
        // a header value is sent as it is; path and query values are percent-decoded by the server
        String decoded = "header".equals(in) ? raw : percentDecode(raw);
        if (raw.isEmpty() && ("path".equals(in) || !required)) {
          continue; // an empty path segment is another route; an empty optional value is no value
        }
        if (!parameterRefused(schema, decoded, required)) {
          continue;
        }
        Map<String, String> path = "path".equals(in) ? Map.of(name, raw) : Map.of();
        Map<String, String> query = "query".equals(in) ? Map.of(name, raw) : Map.of();
        Map<String, String> headers = "header".equals(in) ? Map.of(name, decoded) : Map.of();
        String kind = in + " " + group + (raw.length() > 64 ? "" : " '" + raw + "'");
        // over the server's request line / header size limits: refused before routing, on a connection it closes
        groups.computeIfAbsent(group, k -> new ArrayList<>())
          .add(probe(op, who, kind, name, path, query, headers, null, "application/json", null, name));
      }
      probes.addAll(pick(groups));
      if (required && "query".equals(in)) {
        probes.add(probe(op, who, "query missing required", name, Map.of(), Map.of(name, "\u0000drop"), Map.of(),
          null, "application/json", 400, name));
      }
      if ("header".equals(in)) {
        // bytes java.net.http will not send (it writes '?' for non-ASCII): over a raw socket
        for (byte[] bad : List.of(new byte[] {'a', 0, 'b'}, new byte[] {(byte) 0xE9, 't', (byte) 0xE9},
          new byte[] {(byte) 0xC3, (byte) 0xA9}, new byte[] {'a', 0x7F}, new byte[] {'a', 0x01, 'b'})) {
          // NUL and other controls may be refused by the HTTP parser, which cannot say which header: no field asked
          boolean control = false;
          for (byte b : bad) {
            control |= b >= 0 && b < 0x20 || b == 0x7F;
          }
          String field = control ? null : name;
          Probe base = probe(op, who, "header raw bytes " + hex(bad), name, Map.of(), Map.of(), Map.of(), null,
            "application/json", 400, field);
          ByteArrayOutputStream line = new ByteArrayOutputStream();
          line.writeBytes(utf8(name + ": "));
          line.writeBytes(bad);
          probes.add(new Probe(base.op(), base.kind(), name, base.who(), base.method(), base.uri(), base.headers(),
            base.body(), 400, field, line.toByteArray()));
        }
      }
    }
    return probes;
  }

  /** {group, raw (percent-encoded) value}: the groups the brief names are groups of their own. */
  private List<String[]> parameterValues(Map<String, Object> schema, String in) {
    List<String[]> values = new ArrayList<>();
    java.util.function.BiConsumer<String, String> add = (group, raw) -> values.add(new String[] {group, raw});
    add.accept("NUL", "%00");
    add.accept("NUL", "a%00b");
    add.accept("encoded surrogate", "%ED%A0%80");
    add.accept("invalid UTF-8", "%C3%28");
    add.accept("invalid UTF-8", "%FF");
    add.accept("overflow 2^63", "9223372036854775808");
    add.accept("overflow 2^64+1", "18446744073709551617");
    add.accept("overflow (other)", "-9223372036854775809");
    add.accept("overflow (other)", "99999999999999999999999");
    for (String text : List.of("abc", "1.5", "1e400", "0x10", "NaN", "Infinity", "%201", "1%20", "true", "null",
      "%7B%7D", "%5B1%5D", "1_000")) {
      add.accept("non-number", text);
    }
    add.accept("zero", "0");
    add.accept("zero", "-0");
    add.accept("negative", "-1");
    add.accept("negative", String.valueOf(Long.MIN_VALUE));
    add.accept("empty", "");
    // Not "..": in a path it is a dot segment, which the URL's own rules remove (RFC 3986 5.2.4),
    // so /tasks/bulk/.. is /tasks, another route with its own answer, not a bad id.
    for (String text : List.of("UPPER", "-x", "a%20b", "...", "a%2Fb", "bogus", "%3Cscript%3E", "%27%20OR%201%3D1")) {
      add.accept("bad string", text);
    }
    for (String text : List.of("yesterday", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00", "2024-02-30T10:00:00Z",
      "%2B999999999-12-31T23:59:59Z", "2024-01-01", "2024-01-01T00:00:00%2B25:00")) {
      add.accept("bad date-time", text);
    }
    if (schema.get("maxLength") instanceof Number) {
      add.accept("overlong (maxLength+)", "a".repeat(((Number) schema.get("maxLength")).intValue() + 1 + random.nextInt(40)));
    }
    add.accept("long (300)", (is(schema, "integer") ? "9" : "a").repeat(300));
    add.accept("very long (5,000)", (is(schema, "integer") ? "9" : "a").repeat(5000));
    add.accept("very long (100,000)", (random.nextBoolean() ? "9" : "a").repeat(100_000));
    if (schema.containsKey("enum")) {
      String first = String.valueOf(list(schema.get("enum")).get(0));
      add.accept("enum: near miss", first.toUpperCase(Locale.ROOT));
      add.accept("enum: near miss", "%20" + first);
      add.accept("enum: 1e400", "1e400");
      add.accept("enum: a number", String.valueOf(random.nextInt(1000)));
    }
    if ("header".equals(in)) {
      // (sent as text: a header value is not percent-decoded)
      values.removeIf(v -> v[1].length() > 128 && v[1].length() < 100_000);
      add.accept("header: space inside", "a b");
      add.accept("header: too long for the pattern", "k".repeat(129));
      add.accept("header: over the header size limit", "k".repeat(9000));
    }
    return values;
  }

  /** Whether the edge must refuse this (decoded) parameter value: its rules, then the schema's. */
  private static boolean parameterRefused(Map<String, Object> schema, String text, boolean required) {
    if (text.isEmpty()) {
      return required;
    }
    if (JsonInputRules.textProblem(text)) {
      return true;
    }
    if (is(schema, "integer")) {
      try {
        return !valid(schema, LongNode.valueOf(Long.parseLong(text)));
      } catch (NumberFormatException e) {
        return true;
      }
    }
    if (is(schema, "boolean")) {
      return !text.equals("true") && !text.equals("false");
    }
    return !valid(schema, TextNode.valueOf(text));
  }

  // ---------------------------------------------------------------------------------------------
  // Missing and bad credentials

  private List<Probe> authProbes(Op op) {
    List<Probe> probes = new ArrayList<>();
    if (!op.authenticated()) {
      return probes;
    }
    String userToken = user.authorization().substring(7);
    String adminToken = admin.authorization().substring(7);
    String none = Base64.getUrlEncoder().withoutPadding().encodeToString(utf8("{\"alg\":\"none\",\"typ\":\"JWT\"}"))
      + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(utf8("{\"sub\":\"" + admin.selfId()
      + "\",\"tv\":0,\"role\":\"admin\",\"iss\":\"pulse\",\"aud\":\"pulse-api\",\"exp\":4102444800}")) + ".";
    int signature = userToken.lastIndexOf('.') + 1;
    char first = userToken.charAt(signature);
    List<String[]> kinds = new ArrayList<>(List.of(
      new String[] {"no token", null},
      new String[] {"garbage token", "Bearer garbage"},
      new String[] {"empty bearer", "Bearer "},
      new String[] {"basic auth", "Basic " + Base64.getEncoder().encodeToString(utf8(ADMIN + ":" + ADMIN_PASSWORD))},
      new String[] {"alg none token", "Bearer " + none},
      // The signature's first character: its last one may carry only padding bits, which decoders ignore.
      new String[] {"tampered signature", "Bearer " + userToken.substring(0, signature) + (first == 'A' ? 'Q' : 'A')
        + userToken.substring(signature + 1)},
      new String[] {"truncated token", "Bearer " + userToken.substring(0, userToken.length() / 2)},
      new String[] {"huge token", "Bearer " + "a".repeat(5000)},
      new String[] {"extra segment", "Bearer " + adminToken + ".x"},
      new String[] {"wrong scheme", "Token " + adminToken},
      new String[] {"no scheme", adminToken}));
    List<String[]> chosen = new ArrayList<>(kinds.subList(0, 2));
    List<String[]> rest = new ArrayList<>(kinds.subList(2, kinds.size()));
    Collections.shuffle(rest, random);
    chosen.addAll(rest.subList(0, 3));
    for (String[] kind : chosen) {
      // the user's valid request, without a valid token
      Probe valid = validRequest(op, user);
      List<String> headers = new ArrayList<>();
      for (int i = 0; i < valid.headers().size(); i += 2) {
        if (!valid.headers().get(i).equals("Authorization")) {
          headers.add(valid.headers().get(i));
          headers.add(valid.headers().get(i + 1));
        }
      }
      if (kind[1] != null) {
        headers.add("Authorization");
        headers.add(kind[1]);
      }
      probes.add(new Probe(op.name(), kind[0], "Authorization", kind[0], valid.method(), valid.uri(), headers,
        valid.body(), 401, null));
    }
    return probes;
  }

  /**
   * A CSV body (the store import): refused at the edge whoever sends it when it is not UTF-8
   * text without NUL, or not text/csv; a bad row is the service's 400, for an admin (anyone else
   * is refused as not an admin first).
   */
  private List<Probe> csvProbes(Op op, Who who) {
    String header = "AreaCode,StoreName,StoreID\n";
    List<Probe> probes = new ArrayList<>();
    probes.add(probe(op, who, "empty CSV", "body", Map.of(), Map.of(), Map.of(), new byte[0], "text/csv", 400, "body"));
    probes.add(probe(op, who, "blank CSV", "body", Map.of(), Map.of(), Map.of(), utf8(" \n "), "text/csv", 400, "body"));
    probes.add(probe(op, who, "NUL in CSV", "body", Map.of(), Map.of(), Map.of(), utf8(header + "1,A\u0000,X1\n"), "text/csv", 400, "body"));
    byte[] broken = utf8(header + "1,A,X1\n");
    broken[broken.length - 3] = (byte) 0xC3;
    probes.add(probe(op, who, "invalid UTF-8 in CSV", "body", Map.of(), Map.of(), Map.of(), broken, "text/csv", 400, "body"));
    probes.add(probe(op, who, "CSV as JSON", "Content-Type", Map.of(), Map.of(), Map.of(), utf8("{}"), "application/json", 415, null));
    probes.add(probe(op, who, "CSV without a content type", "Content-Type", Map.of(), Map.of(), Map.of(), utf8(header), null, 415, null));
    probes.add(probe(op, who, "CSV over the limit", "body", Map.of(), Map.of(), Map.of(),
      utf8(header + "1,A,X1\n".repeat(170_000)), "text/csv", 413, null));
    if (who.name().equals("admin")) {
      for (String rows : List.of("1,A\n", "1,A,\n", "1,\"A,X1\n", "1,A,X1,extra\n")) {
        probes.add(probe(op, who, "bad CSV row", "body", Map.of(), Map.of(), Map.of(), utf8(header + rows), "text/csv", 400, "body"));
      }
      probes.add(probe(op, who, "bad CSV header", "body", Map.of(), Map.of(), Map.of(), utf8("Area,Name,Id\n1,A,X1\n"), "text/csv", 400, "body"));
    }
    return probes;
  }

  private Probe validRequest(Op op, Who who) {
    byte[] body = op.body() == null ? null : utf8(build(op, who, "body", op.body(), List.of()).toString());
    return probe(op, who, "valid", "-", Map.of(), Map.of(), Map.of(), body, "application/json", null, null);
  }

  // ---------------------------------------------------------------------------------------------
  // One request: the valid base of the operation with one thing changed

  /**
   * {@code path}/{@code query}: raw (already percent-encoded) values replacing the base's;
   * {@code headers}: header values replacing the base's; {@code body}: null means the valid base
   * body (for an operation with one), or none; a query value of "\0drop" removes the parameter.
   */
  private Probe probe(Op op, Who who, String kind, String target, Map<String, String> path, Map<String, String> query,
                      Map<String, String> headers, byte[] body, String contentType, Integer expectStatus,
                      String expectField) {
    String uri = op.path();
    Map<String, String> queryValues = new LinkedHashMap<>();
    List<String> headerList = new ArrayList<>();
    for (Map<String, Object> parameter : op.params()) {
      String name = (String) parameter.get("name");
      String in = (String) parameter.get("in");
      Map<String, Object> schema = resolve(parameter.get("schema"));
      boolean required = Boolean.TRUE.equals(parameter.get("required"));
      String sample = is(schema, "integer") ? String.valueOf(sampleInteger(op, who, name, schema))
        : is(schema, "boolean") ? "true"
        : sampleString(op, who, name, schema);
      switch (in) {
        case "path" -> uri = uri.replace("{" + name + "}", path.getOrDefault(name, encode(sample)));
        case "query" -> {
          if (query.containsKey(name)) {
            if (!query.get(name).equals("\u0000drop")) {
              queryValues.put(name, query.get(name));
            }
          } else if (required) {
            queryValues.put(name, encode(sample));
          }
        }
        case "header" -> {
          if (headers.containsKey(name)) {
            headerList.add(name);
            headerList.add(headers.get(name));
          }
        }
        default -> throw new IllegalStateException("parameter in " + in);
      }
    }
    if (!queryValues.isEmpty()) {
      uri += queryValues.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("&", "?", ""));
    }
    boolean noBodyAtAll = kind.equals("no body at all");
    if (body == null && op.body() != null && !noBodyAtAll) {
      body = utf8(build(op, who, "body", op.body(), List.of()).toString());
    }
    if ((op.body() != null || op.bodyMedia() != null) && contentType != null) {
      headerList.add("Content-Type");
      headerList.add(contentType);
    }
    if (who.authorization() != null) {
      headerList.add("Authorization");
      headerList.add(who.authorization());
    }
    int r = random.nextInt(20);
    if (r == 0) {
      headerList.add("X-Request-Id");
      headerList.add("hostile-" + keys.incrementAndGet());
    } else if (r == 1) {
      headerList.add("X-Request-Id");
      headerList.add(random.nextBoolean() ? "not a valid id" : "r".repeat(300));
    }
    return new Probe(op.name(), kind, target, who.name(), op.method(), uri, headerList, body, expectStatus, expectField);
  }

  // ---------------------------------------------------------------------------------------------
  // A validator of its own: what the document (and the edge's JSON rules) must refuse

  /** The edge's documented JSON rules (JsonInput), re-stated independently. */
  private static final class JsonInputRules {
    static boolean textProblem(String text) {
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (c == 0) {
          return true;
        }
        if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
          i++;
        } else if (Character.isSurrogate(c)) {
          return true;
        }
      }
      return false;
    }

    static boolean refused(JsonNode node, int depth) {
      if (depth > 64) {
        return true;
      }
      if (node.isTextual()) {
        return textProblem(node.textValue());
      }
      if (node.isBigInteger() || node.isBigDecimal() && node.decimalValue().abs().compareTo(new BigDecimal("1.7976931348623157E308")) > 0) {
        return true;
      }
      if (node.isFloatingPointNumber() && !Double.isFinite(node.doubleValue())) {
        return true;
      }
      if (node.isObject()) {
        var fields = node.fields();
        while (fields.hasNext()) {
          var field = fields.next();
          if (textProblem(field.getKey()) || refused(field.getValue(), depth + 1)) {
            return true;
          }
        }
      } else if (node.isArray()) {
        for (JsonNode item : node) {
          if (refused(item, depth + 1)) {
            return true;
          }
        }
      }
      return false;
    }
  }

  private static boolean mustRefuse(Map<String, Object> schema, JsonNode body) {
    return body == null || JsonInputRules.refused(body, 1) || !valid(schema, body);
  }

  private static final Pattern DATE_TIME = Pattern.compile(
    "^(\\d{4})-(\\d{2})-(\\d{2})[Tt](\\d{2}):(\\d{2}):(\\d{2})(\\.\\d+)?([Zz]|[+-](\\d{2}):(\\d{2}))$");

  /** JSON Schema 2020-12, the keywords this document uses. */
  private static boolean valid(Map<String, Object> schema, JsonNode value) {
    schema = resolve(schema);
    List<String> types = types(schema);
    if (!types.isEmpty() && types.stream().noneMatch(type -> hasType(value, type))) {
      return false;
    }
    if (schema.containsKey("enum")) {
      boolean found = false;
      for (Object option : list(schema.get("enum"))) {
        found |= LENIENT.valueToTree(option).equals(value);
      }
      if (!found) {
        return false;
      }
    }
    if (value.isTextual()) {
      String text = value.textValue();
      int length = text.codePointCount(0, text.length());
      if (schema.get("minLength") instanceof Number && length < ((Number) schema.get("minLength")).intValue()) {
        return false;
      }
      if (schema.get("maxLength") instanceof Number && length > ((Number) schema.get("maxLength")).intValue()) {
        return false;
      }
      if (schema.get("pattern") instanceof String && !Pattern.compile((String) schema.get("pattern")).matcher(text).find()) {
        return false;
      }
      if ("date-time".equals(schema.get("format")) && !dateTime(text)) {
        return false;
      }
    }
    if (value.isNumber()) {
      BigDecimal number = value.decimalValue();
      if (schema.get("minimum") instanceof Number && number.compareTo(new BigDecimal(String.valueOf(schema.get("minimum")))) < 0) {
        return false;
      }
      if (schema.get("maximum") instanceof Number && number.compareTo(new BigDecimal(String.valueOf(schema.get("maximum")))) > 0) {
        return false;
      }
    }
    if (value.isObject()) {
      Map<String, Object> properties = properties(schema);
      for (String property : required(schema)) {
        if (!value.has(property)) {
          return false;
        }
      }
      if (schema.get("minProperties") instanceof Number && value.size() < ((Number) schema.get("minProperties")).intValue()) {
        return false;
      }
      var fields = value.fields();
      while (fields.hasNext()) {
        var field = fields.next();
        if (properties.containsKey(field.getKey())) {
          if (!valid(resolve(properties.get(field.getKey())), field.getValue())) {
            return false;
          }
        } else if (closed(schema)) {
          return false;
        }
      }
    }
    if (value.isArray()) {
      if (schema.get("minItems") instanceof Number && value.size() < ((Number) schema.get("minItems")).intValue()) {
        return false;
      }
      if (schema.get("maxItems") instanceof Number && value.size() > ((Number) schema.get("maxItems")).intValue()) {
        return false;
      }
      if (schema.containsKey("items")) {
        for (JsonNode item : value) {
          if (!valid(resolve(schema.get("items")), item)) {
            return false;
          }
        }
      }
    }
    return true;
  }

  private static boolean hasType(JsonNode value, String type) {
    return switch (type) {
      case "integer" -> value.isIntegralNumber()
        || value.isFloatingPointNumber() && Double.isFinite(value.doubleValue()) && value.doubleValue() == Math.rint(value.doubleValue());
      case "number" -> value.isNumber();
      case "string" -> value.isTextual();
      case "boolean" -> value.isBoolean();
      case "null" -> value.isNull();
      case "object" -> value.isObject();
      case "array" -> value.isArray();
      default -> true;
    };
  }

  /** RFC 3339 date-time (leap seconds allowed, as the RFC does). */
  private static boolean dateTime(String text) {
    Matcher m = DATE_TIME.matcher(text);
    if (!m.matches()) {
      return false;
    }
    try {
      LocalDate.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
    } catch (RuntimeException e) {
      return false;
    }
    if (Integer.parseInt(m.group(4)) > 23 || Integer.parseInt(m.group(5)) > 59 || Integer.parseInt(m.group(6)) > 60) {
      return false;
    }
    return m.group(9) == null || Integer.parseInt(m.group(9)) <= 23 && Integer.parseInt(m.group(10)) <= 59;
  }

  // ---------------------------------------------------------------------------------------------
  // JSON surgery

  /** What a raw fragment means (lenient parse), or null when it does not parse at all. */
  private static JsonNode model(String raw) {
    try {
      return LENIENT.readTree(raw);
    } catch (IOException e) {
      return null;
    }
  }

  private static JsonNode at(JsonNode root, List<Object> path) {
    JsonNode node = root;
    for (Object step : path) {
      node = step instanceof Integer ? node.get((Integer) step) : node.get((String) step);
    }
    return node;
  }

  private static JsonNode with(JsonNode base, List<Object> path, JsonNode value) {
    JsonNode copy = base.deepCopy();
    JsonNode parent = at(copy, path.subList(0, path.size() - 1));
    Object last = path.get(path.size() - 1);
    if (last instanceof Integer) {
      ((ArrayNode) parent).set((Integer) last, value);
    } else {
      ((ObjectNode) parent).set((String) last, value);
    }
    return copy;
  }

  /** The base serialized with {@code raw} (byte for byte) where the value at {@code path} goes. */
  private static byte[] splice(JsonNode base, List<Object> path, String raw) {
    String json = with(base, path, TextNode.valueOf(HOLE)).toString();
    return utf8(json.replace(quote(HOLE), raw));
  }

  /** The base serialized with {@code raw} bytes in the middle of the string at {@code path}. */
  private static byte[] spliceBytes(JsonNode base, List<Object> path, byte[] raw) {
    String value = at(base, path).textValue();
    String json = with(base, path, TextNode.valueOf(HOLE)).toString();
    int at = json.indexOf(quote(HOLE));
    String quoted = quote(value);
    int middle = 1 + (quoted.length() - 2) / 2;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(utf8(json.substring(0, at) + quoted.substring(0, middle)));
    out.writeBytes(raw);
    out.writeBytes(utf8(quoted.substring(middle) + json.substring(at + quote(HOLE).length())));
    return out.toByteArray();
  }

  private static String quote(String text) {
    return TextNode.valueOf(text).toString();
  }

  private String randomText(int length) {
    String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    StringBuilder out = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      out.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return out.toString();
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static String encode(String text) {
    return java.net.URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** %XX decoding, malformed UTF-8 replaced (as Netty and Vert.x decode). */
  private static String percentDecode(String raw) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%' && i + 2 < raw.length()) {
        out.write(Integer.parseInt(raw.substring(i + 1, i + 3), 16));
        i += 2;
      } else {
        out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static String hex(byte[] bytes) {
    StringBuilder out = new StringBuilder();
    for (byte b : bytes) {
      out.append(String.format("%02X", b & 0xFF));
    }
    return out.toString();
  }

  private static String clip(String text, int max) {
    return text == null ? "" : text.length() <= max ? text : text.substring(0, max) + "...(" + text.length() + " chars)";
  }
}
