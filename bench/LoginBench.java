import org.springframework.security.crypto.argon2.Argon2PasswordEncoder;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Login throughput of a running Pulse node, and the ceiling it is compared with.
 * Run with the Pulse jar on the class path (source-launch mode, Java 17):
 *
 * <pre>
 *   java -cp target/pulse.jar bench/LoginBench.java ceiling --out ceiling.properties
 *        [--threads CORES] [--warmup 3] [--seconds 15]
 *   java -cp target/pulse.jar bench/LoginBench.java http --url http://127.0.0.1:8080 --ceiling ceiling.properties
 *        [--users 50] [--warmup 5] [--seconds 20] [--concurrency 8,32]
 * </pre>
 *
 * <p>{@code ceiling}: argon2id {@code matches()} with Pulse's exact encoder, on one thread per
 * core, in this JVM (no HTTP, no event bus, no database): the most password checks a second
 * this machine can do, so the most logins a second a node on it could ever answer. Writes the
 * result to {@code --out} for the {@code http} mode.
 *
 * <p>{@code http}: registers {@code --users} users, logs in for {@code --warmup} seconds (not
 * counted), then for each {@code --concurrency} level logs in for {@code --seconds} seconds.
 * Closed loop: each of the C workers sends its next login as soon as the previous answer
 * arrives, so C logins are always in flight. Each login is a random registered user with the
 * right password. Prints a markdown table on stdout (the ceiling first); progress goes to stderr.
 *
 * <p>Exit status: 0 when every measured login answered 200 with a token; 3 when some did not
 * (the table is still printed); 1 when the set-up failed (a registration, the wrong-password check).
 */
public class LoginBench {

  /** The same encoder as verticles.identity.Passwords: salt 16, hash 32, parallelism 1, 19 MiB, 2 passes. */
  static final Argon2PasswordEncoder ENCODER = new Argon2PasswordEncoder(16, 32, 1, 19_456, 2);

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      usage();
    }
    Map<String, String> options = options(args);
    switch (args[0]) {
      case "ceiling" -> ceiling(options);
      case "http" -> System.exit(http(options));
      default -> usage();
    }
  }

  // ---------------------------------------------------------------- ceiling

  static void ceiling(Map<String, String> options) throws Exception {
    int threads = intOption(options, "threads", Runtime.getRuntime().availableProcessors());
    int warmup = intOption(options, "warmup", 3);
    int seconds = intOption(options, "seconds", 15);
    Path out = Path.of(required(options, "out"));

    String password = "ceiling password 1";
    String hash = ENCODER.encode(password);
    Call verify = () -> ENCODER.matches(password, hash) ? null : "matches() returned false";

    log("ceiling: argon2id matches() on %d threads, %d s warm-up", threads, warmup);
    runFor("ceiling warm-up", threads, warmup, verify);
    log("ceiling: measuring for %d s", seconds);
    Result result = runFor("ceiling", threads, seconds, verify);
    log("ceiling: %s", result.summary());

    Properties properties = result.toProperties();
    try (OutputStream stream = Files.newOutputStream(out)) {
      properties.store(stream, "LoginBench ceiling");
    }
  }

  // ---------------------------------------------------------------- http

  static int http(Map<String, String> options) throws Exception {
    String url = required(options, "url").replaceAll("/+$", "");
    Result ceiling = Result.load(Path.of(required(options, "ceiling")));
    int users = intOption(options, "users", 50);
    int warmup = intOption(options, "warmup", 5);
    int seconds = intOption(options, "seconds", 20);
    List<Integer> levels = new ArrayList<>();
    for (String level : options.getOrDefault("concurrency", "8,32").split(",")) {
      levels.add(Integer.parseInt(level.trim()));
    }

    HttpClient client = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5))
      .build();
    URI registerUri = URI.create(url + "/api/v1/auth/register");
    URI loginUri = URI.create(url + "/api/v1/auth/login");

    // Set-up: N users, each with its own password; registered 8 at a time (each is a hash too).
    String run = Long.toHexString(ThreadLocalRandom.current().nextLong(0x100000, 0xffffff));
    List<String[]> accounts = new ArrayList<>();
    for (int i = 0; i < users; i++) {
      String username = "bench_" + run + "_" + i;
      String password = "pw-" + run + "-" + i + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
      accounts.add(new String[] {username, password});
    }
    log("http: registering %d users at %s", users, url);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<String>> registrations = new ArrayList<>();
    for (String[] account : accounts) {
      String body = json("username", account[0], "email", account[0] + "@example.com", "password", account[1]);
      registrations.add(pool.submit(() -> {
        HttpResponse<String> response = client.send(post(registerUri, body), HttpResponse.BodyHandlers.ofString());
        return response.statusCode() == 201 ? null : "HTTP " + response.statusCode() + ": " + response.body();
      }));
    }
    for (int i = 0; i < users; i++) {
      String failure = registrations.get(i).get();
      if (failure != null) {
        pool.shutdownNow();
        return setupFailed("registering " + accounts.get(i)[0] + " failed: " + failure);
      }
    }
    pool.shutdown();

    // Sanity: the server really checks the password (a wrong one must be refused).
    String[] first = accounts.get(0);
    HttpResponse<String> wrong = client.send(post(loginUri, json("username", first[0], "password", first[1] + "x")),
      HttpResponse.BodyHandlers.ofString());
    if (wrong.statusCode() != 401) {
      return setupFailed("a wrong password answered HTTP " + wrong.statusCode() + " instead of 401: " + wrong.body());
    }

    Call login = () -> {
      String[] account = accounts.get(ThreadLocalRandom.current().nextInt(accounts.size()));
      HttpResponse<String> response;
      try {
        response = client.send(post(loginUri, json("username", account[0], "password", account[1])),
          HttpResponse.BodyHandlers.ofString());
      } catch (IOException e) {
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
      }
      if (response.statusCode() != 200) {
        return "HTTP " + response.statusCode();
      }
      return response.body().contains("\"access_token\"") ? null : "HTTP 200 without access_token";
    };

    int warmupLevel = Collections.max(levels);
    log("http: warm-up, %d s at concurrency %d (not counted)", warmup, warmupLevel);
    log("http: warm-up: %s", runFor("warm-up", warmupLevel, warmup, login).summary());

    List<Result> results = new ArrayList<>();
    for (int level : levels) {
      log("http: measuring %d s at concurrency %d", seconds, level);
      Result result = runFor("HTTP login", level, seconds, login);
      log("http: %s", result.summary());
      results.add(result);
    }

    System.out.println(table(ceiling, results));

    long errors = results.stream().mapToLong(r -> r.errors).sum();
    if (errors > 0) {
      System.err.println();
      System.err.println("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
      System.err.printf("!!! %d LOGIN(S) DID NOT ANSWER 200 WITH A TOKEN; THE NUMBERS ABOVE ARE SUSPECT%n", errors);
      for (Result result : results) {
        result.failures.forEach((what, count) ->
          System.err.printf("!!!   concurrency %d: %d x %s%n", result.concurrency, count, what));
      }
      System.err.println("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
      return 3;
    }
    return 0;
  }

  static HttpRequest post(URI uri, String json) {
    return HttpRequest.newBuilder(uri)
      .timeout(Duration.ofSeconds(10))
      .header("Content-Type", "application/json")
      .POST(HttpRequest.BodyPublishers.ofString(json))
      .build();
  }

  /** A flat JSON object of strings; the values here never need escaping beyond quotes and backslashes. */
  static String json(String... keysAndValues) {
    StringBuilder json = new StringBuilder("{");
    for (int i = 0; i < keysAndValues.length; i += 2) {
      json.append(i == 0 ? "" : ",").append('"').append(keysAndValues[i]).append("\":\"")
        .append(keysAndValues[i + 1].replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
    }
    return json.append('}').toString();
  }

  static int setupFailed(String message) {
    System.err.println("LoginBench: SET-UP FAILED: " + message);
    return 1;
  }

  static String table(Result ceiling, List<Result> runs) {
    StringBuilder table = new StringBuilder();
    table.append("| run | concurrency | logins/s | p50 ms | p90 ms | p99 ms | max ms | errors | ratio to ceiling |\n");
    table.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    table.append(row("ceiling: argon2id matches(), in-process", ceiling.concurrency + " threads", ceiling, 1.0));
    for (Result run : runs) {
      table.append(row("HTTP login", String.valueOf(run.concurrency), run, run.rate() / ceiling.rate()));
    }
    return table.toString().strip();
  }

  static String row(String name, String concurrency, Result result, double ratio) {
    return String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %.2f |%n",
      name, concurrency, result.rate(), result.p50, result.p90, result.p99, result.max, result.errors, ratio);
  }

  // ---------------------------------------------------------------- the closed-loop runner

  /** One operation; returns null on success, else what went wrong. */
  interface Call {
    String run() throws Exception;
  }

  /**
   * Runs {@code call} in a loop on {@code workers} threads until {@code seconds} have passed
   * (a call started before the deadline is waited for and counted), recording each latency.
   */
  static Result runFor(String name, int workers, int seconds, Call call) throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + seconds * 1_000_000_000L;
    List<List<Long>> latencies = new ArrayList<>();
    List<Map<String, Long>> failures = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < workers; i++) {
      List<Long> mine = new ArrayList<>();
      Map<String, Long> myFailures = new HashMap<>();
      latencies.add(mine);
      failures.add(myFailures);
      Thread thread = new Thread(() -> {
        while (System.nanoTime() < deadline) {
          long before = System.nanoTime();
          String failure;
          try {
            failure = call.run();
          } catch (Exception e) {
            failure = e.toString();
          }
          mine.add(System.nanoTime() - before);
          if (failure != null) {
            myFailures.merge(failure, 1L, Long::sum);
          }
        }
      }, name + "-" + i);
      threads.add(thread);
      thread.start();
    }
    for (Thread thread : threads) {
      thread.join();
    }
    long elapsed = System.nanoTime() - start;

    List<Long> all = new ArrayList<>();
    latencies.forEach(all::addAll);
    Map<String, Long> allFailures = new TreeMap<>();
    failures.forEach(map -> map.forEach((what, count) -> allFailures.merge(what, count, Long::sum)));
    return Result.of(workers, elapsed, all, allFailures);
  }

  /** What one run measured; latencies in milliseconds. */
  static final class Result {
    int concurrency;
    long count;
    long errors;
    double seconds;
    double p50;
    double p90;
    double p99;
    double max;
    Map<String, Long> failures = new TreeMap<>();

    static Result of(int concurrency, long elapsedNanos, List<Long> latencyNanos, Map<String, Long> failures) {
      List<Long> sorted = new ArrayList<>(latencyNanos);
      Collections.sort(sorted);
      Result result = new Result();
      result.concurrency = concurrency;
      result.count = sorted.size();
      result.failures = failures;
      result.errors = failures.values().stream().mapToLong(Long::longValue).sum();
      result.seconds = elapsedNanos / 1e9;
      result.p50 = percentile(sorted, 0.50);
      result.p90 = percentile(sorted, 0.90);
      result.p99 = percentile(sorted, 0.99);
      result.max = sorted.isEmpty() ? 0 : sorted.get(sorted.size() - 1) / 1e6;
      return result;
    }

    /** Nearest rank. */
    static double percentile(List<Long> sorted, double p) {
      if (sorted.isEmpty()) {
        return 0;
      }
      int index = (int) Math.ceil(p * sorted.size()) - 1;
      return sorted.get(Math.max(0, index)) / 1e6;
    }

    /** Completed operations a second (failed ones included, as they are counted as errors too). */
    double rate() {
      return count / seconds;
    }

    String summary() {
      return String.format(Locale.ROOT, "%d done in %.1f s at concurrency %d: %.1f/s, p50 %.1f ms, p90 %.1f ms, "
        + "p99 %.1f ms, max %.1f ms, %d errors%s", count, seconds, concurrency, rate(), p50, p90, p99, max, errors,
        failures.isEmpty() ? "" : " " + failures);
    }

    Properties toProperties() {
      Properties properties = new Properties();
      properties.setProperty("concurrency", String.valueOf(concurrency));
      properties.setProperty("count", String.valueOf(count));
      properties.setProperty("errors", String.valueOf(errors));
      properties.setProperty("seconds", String.valueOf(seconds));
      properties.setProperty("p50", String.valueOf(p50));
      properties.setProperty("p90", String.valueOf(p90));
      properties.setProperty("p99", String.valueOf(p99));
      properties.setProperty("max", String.valueOf(max));
      return properties;
    }

    static Result load(Path file) throws IOException {
      Properties properties = new Properties();
      try (InputStream stream = Files.newInputStream(file)) {
        properties.load(stream);
      }
      Result result = new Result();
      result.concurrency = Integer.parseInt(properties.getProperty("concurrency"));
      result.count = Long.parseLong(properties.getProperty("count"));
      result.errors = Long.parseLong(properties.getProperty("errors"));
      result.seconds = Double.parseDouble(properties.getProperty("seconds"));
      result.p50 = Double.parseDouble(properties.getProperty("p50"));
      result.p90 = Double.parseDouble(properties.getProperty("p90"));
      result.p99 = Double.parseDouble(properties.getProperty("p99"));
      result.max = Double.parseDouble(properties.getProperty("max"));
      return result;
    }
  }

  // ---------------------------------------------------------------- command line

  /** {@code --key value} pairs after the mode. */
  static Map<String, String> options(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 1; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        usage();
      }
      options.put(args[i].substring(2), args[i + 1]);
    }
    return options;
  }

  static int intOption(Map<String, String> options, String key, int fallback) {
    return options.containsKey(key) ? Integer.parseInt(options.get(key)) : fallback;
  }

  static String required(Map<String, String> options, String key) {
    String value = options.get(key);
    if (value == null) {
      System.err.println("LoginBench: --" + key + " is required");
      usage();
    }
    return value;
  }

  static void log(String format, Object... args) {
    System.err.printf(Locale.ROOT, "[LoginBench] " + format + "%n", args);
  }

  static void usage() {
    System.err.println("usage: java -cp target/pulse.jar bench/LoginBench.java ceiling --out FILE"
      + " [--threads N] [--warmup S] [--seconds S]");
    System.err.println("       java -cp target/pulse.jar bench/LoginBench.java http --url URL --ceiling FILE"
      + " [--users N] [--warmup S] [--seconds S] [--concurrency 8,32]");
    System.exit(64);
  }
}
