import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Pulse side of bench/tasks.sh (see bench/TASKS.md). A single-file program with no
 * dependencies beyond the JDK (java.net.http), run in source-launch mode on Java 17:
 *
 * <pre>
 *   java bench/TasksBench.java --url http://127.0.0.1:PORT --pg postgresql://postgres@127.0.0.1:PGPORT/postgres
 *        --out pulse.properties [--n 20000] [--warmup 2000] [--concurrency 64]
 *        [--pids pulse=PID:self,postgres=PID:tree,redis=PID:tree] [--clk-tck 100] [--timeout 150]
 * </pre>
 *
 * <ol>
 *   <li>Logs in (the node's admin: ADMIN_USERNAME bench / bench-password-1) and pauses the queues
 *       {@code bench-warmup} and {@code bench}.
 *   <li>Warm-up, not measured: {@code --warmup} noop tasks into {@code bench-warmup}, unpauses it and
 *       waits until they all succeeded (JIT, connection pools, Lua scripts loaded).
 *   <li>Enqueue: {@code --n} times {@code POST /api/v1/tasks {"type":"noop","queue":"bench"}},
 *       {@code --concurrency} requests in flight (one thread each, closed loop), while
 *       {@code bench} is paused. Every answer must be 201 with status "queued"; afterwards
 *       PostgreSQL must hold exactly N queued tasks in {@code bench}.
 *   <li>Processing: {@code PATCH /api/v1/queues/bench {"paused":false}}, then the count of
 *       succeeded tasks in {@code bench} is polled with psql every 200 ms until it is N. The
 *       window runs from just before the PATCH to the poll that saw N; the exact end, the
 *       largest {@code finished_at}, is reported beside it.
 * </ol>
 *
 * <p>For each measured window it also reads the CPU time of the node's processes from /proc
 * ({@code --pids}: {@code :self} counts the process alone, {@code :tree} also its children,
 * live and reaped) and of this JVM. Writes everything to {@code --out} as properties; progress
 * goes to stderr. Exit status 0 when every request and every task went as expected, 3 when
 * some did not (the numbers are still written), 1 when the set-up failed.
 */
public class TasksBench {

  static final String QUEUE = "bench";
  static final String WARMUP_QUEUE = "bench-warmup";
  static final String BODY = "{\"type\":\"noop\",\"queue\":\"%s\"}";

  static HttpClient http;
  static String url;
  static String pg;
  static String token;
  static int concurrency;
  static Map<String, String> pids;
  static long clkTck;

  public static void main(String[] args) throws Exception {
    Map<String, String> options = options(args);
    url = required(options, "url");
    pg = required(options, "pg");
    Path out = Path.of(required(options, "out"));
    int n = Integer.parseInt(options.getOrDefault("n", "20000"));
    int warmup = Integer.parseInt(options.getOrDefault("warmup", "2000"));
    concurrency = Integer.parseInt(options.getOrDefault("concurrency", "64"));
    long timeoutMs = Long.parseLong(options.getOrDefault("timeout", "150")) * 1000;
    clkTck = Long.parseLong(options.getOrDefault("clk-tck", "100"));
    pids = new LinkedHashMap<>();
    for (String spec : options.getOrDefault("pids", "").split(",")) {
      if (!spec.isBlank()) {
        String[] kv = spec.split("=", 2);
        pids.put(kv[0], kv[1]);
      }
    }

    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
      .executor(Executors.newFixedThreadPool(2)).build();
    Properties result = new Properties();
    boolean clean = true;

    HttpResponse<String> login = send(HttpRequest.newBuilder(URI.create(url + "/api/v1/auth/login"))
      .header("Content-Type", "application/json")
      .POST(HttpRequest.BodyPublishers.ofString("{\"username\":\"bench\",\"password\":\"bench-password-1\"}")).build());
    Matcher tokenMatch = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"").matcher(login.body());
    if (login.statusCode() != 200 || !tokenMatch.find()) {
      die("login answered %d: %s", login.statusCode(), login.body());
    }
    token = tokenMatch.group(1);
    pause(WARMUP_QUEUE, true);
    pause(QUEUE, true);

    // ---- warm-up (not measured)
    if (warmup > 0) {
      log("warm-up: %d tasks into %s", warmup, WARMUP_QUEUE);
      Submitted warm = submit(WARMUP_QUEUE, warmup);
      pause(WARMUP_QUEUE, false);
      long seen = waitSucceeded(WARMUP_QUEUE, warmup, timeoutMs);
      if (warm.errors.get() > 0 || seen != warmup) {
        die("warm-up went wrong: %d submit errors, %d of %d succeeded; first error: %s", warm.errors.get(), seen, warmup,
          warm.firstError);
      }
    }

    // ---- enqueue
    log("enqueue: %d tasks into paused %s, %d in flight", n, QUEUE, concurrency);
    Map<String, Long> cpu0 = cpu();
    long t0 = System.nanoTime();
    Submitted sub = submit(QUEUE, n);
    long t1 = System.nanoTime();
    Map<String, Long> cpu1 = cpu();
    double enqueueSeconds = (t1 - t0) / 1e9;
    long queued = scalar("select count(*) from tasks where queue = '" + QUEUE + "' and status = 'queued'");
    result.setProperty("enqueue.seconds", fmt(enqueueSeconds));
    result.setProperty("enqueue.jobs_per_s", fmt(sub.ok.get() / enqueueSeconds));
    result.setProperty("enqueue.ok", String.valueOf(sub.ok.get()));
    result.setProperty("enqueue.errors", String.valueOf(sub.errors.get()));
    result.setProperty("enqueue.first_error", String.valueOf(sub.firstError));
    result.setProperty("enqueue.queued_in_db", String.valueOf(queued));
    long[] lat = sub.latencies();
    result.setProperty("enqueue.p50_ms", fmt(percentile(lat, 50) / 1e6));
    result.setProperty("enqueue.p99_ms", fmt(percentile(lat, 99) / 1e6));
    putCpu(result, "enqueue", cpu0, cpu1, enqueueSeconds);
    log("enqueue: %.2f s, %.0f tasks/s, %d errors, %d queued in PostgreSQL", enqueueSeconds,
      sub.ok.get() / enqueueSeconds, sub.errors.get(), queued);
    if (sub.errors.get() > 0 || queued != n) {
      clean = false;
    }

    // ---- processing
    log("processing: unpausing %s and polling the succeeded count every 200 ms", QUEUE);
    cpu0 = cpu();
    long startMillis = System.currentTimeMillis();
    t0 = System.nanoTime();
    pause(QUEUE, false);
    long succeeded = waitSucceeded(QUEUE, queued, timeoutMs);
    t1 = System.nanoTime();
    cpu1 = cpu();
    double processSeconds = (t1 - t0) / 1e9;
    long lastFinished = scalar("select coalesce((extract(epoch from max(finished_at)) * 1000)::bigint, 0) from tasks where queue = '"
      + QUEUE + "' and status = 'succeeded'");
    long firstStarted = scalar("select coalesce((extract(epoch from min(started_at)) * 1000)::bigint, 0) from tasks where queue = '"
      + QUEUE + "'");
    long notSucceeded = scalar("select count(*) from tasks where queue = '" + QUEUE + "' and status <> 'succeeded'");
    long retried = scalar("select count(*) from tasks where queue = '" + QUEUE + "' and attempts > 1");
    double exactSeconds = (lastFinished - startMillis) / 1e3;
    result.setProperty("process.seconds", fmt(processSeconds));
    result.setProperty("process.jobs_per_s", fmt(succeeded / processSeconds));
    result.setProperty("process.exact_seconds", fmt(exactSeconds));
    result.setProperty("process.exact_jobs_per_s", fmt(succeeded / exactSeconds));
    result.setProperty("process.first_start_ms", String.valueOf(firstStarted - startMillis));
    result.setProperty("process.succeeded", String.valueOf(succeeded));
    result.setProperty("process.not_succeeded", String.valueOf(notSucceeded));
    result.setProperty("process.retried", String.valueOf(retried));
    putCpu(result, "process", cpu0, cpu1, processSeconds);
    log("processing: %.2f s (last finished_at after %.2f s), %.0f tasks/s, %d not succeeded, %d needed a second attempt",
      processSeconds, exactSeconds, succeeded / processSeconds, notSucceeded, retried);
    if (succeeded != n || notSucceeded != 0) {
      clean = false;
    }

    try (var writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
      result.store(writer, "bench/TasksBench.java");
    }
    System.exit(clean ? 0 : 3);
  }

  // ---------------------------------------------------------------- HTTP

  static final class Submitted {
    final AtomicInteger ok = new AtomicInteger();
    final AtomicInteger errors = new AtomicInteger();
    volatile String firstError;
    final long[] nanos;

    Submitted(int n) {
      nanos = new long[n];
    }

    /** Latencies of the answered (201) requests, sorted. */
    long[] latencies() {
      long[] all = Arrays.copyOf(nanos, Math.min(ok.get(), nanos.length));
      Arrays.sort(all);
      return all;
    }
  }

  /** Submits n noop tasks into the queue, `concurrency` in flight: each worker sends its next as soon as one answers. */
  static Submitted submit(String queue, int n) throws Exception {
    Submitted result = new Submitted(n);
    AtomicInteger next = new AtomicInteger();
    HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/api/v1/tasks"))
      .header("Content-Type", "application/json").header("Authorization", "Bearer " + token)
      .timeout(Duration.ofSeconds(30))
      .POST(HttpRequest.BodyPublishers.ofString(String.format(BODY, queue))).build();
    ExecutorService workers = Executors.newFixedThreadPool(concurrency);
    List<Future<?>> futures = new ArrayList<>();
    for (int w = 0; w < concurrency; w++) {
      futures.add(workers.submit(() -> {
        while (next.getAndIncrement() < n) {
          long start = System.nanoTime();
          String error = null;
          try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 201 || !response.body().contains("\"queued\"")) {
              error = response.statusCode() + " " + response.body();
            }
          } catch (IOException | InterruptedException e) {
            error = e.toString();
          }
          if (error == null) {
            result.nanos[result.ok.getAndIncrement()] = System.nanoTime() - start;
          } else {
            if (result.errors.getAndIncrement() == 0) {
              result.firstError = error;
            }
          }
        }
        return null;
      }));
    }
    for (Future<?> future : futures) {
      future.get();
    }
    workers.shutdown();
    workers.awaitTermination(10, TimeUnit.SECONDS);
    return result;
  }

  static void pause(String queue, boolean paused) throws Exception {
    HttpResponse<String> response = send(HttpRequest.newBuilder(URI.create(url + "/api/v1/queues/" + queue))
      .header("Content-Type", "application/json").header("Authorization", "Bearer " + token)
      .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"paused\":" + paused + "}")).build());
    if (response.statusCode() != 200) {
      die("PATCH /api/v1/queues/%s {paused:%s} answered %d: %s", queue, paused, response.statusCode(), response.body());
    }
  }

  static HttpResponse<String> send(HttpRequest request) throws Exception {
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  // ---------------------------------------------------------------- PostgreSQL (psql)

  /** Polls the succeeded count of the queue every 200 ms until it reaches `want`, or dies after the timeout. */
  static long waitSucceeded(String queue, long want, long timeoutMs) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    String sql = "select count(*) from tasks where queue = '" + queue + "' and status = 'succeeded'";
    while (true) {
      long tick = System.nanoTime();
      long count = scalar(sql);
      if (count >= want) {
        return count;
      }
      if (System.currentTimeMillis() > deadline) {
        die("only %d of %d tasks in %s succeeded after %d s", count, want, queue, timeoutMs / 1000);
      }
      long sleep = 200 - (System.nanoTime() - tick) / 1_000_000;
      if (sleep > 0) {
        Thread.sleep(sleep);
      }
    }
  }

  static long scalar(String sql) throws Exception {
    Process psql = new ProcessBuilder("psql", pg, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql)
      .redirectErrorStream(true).start();
    String output = new String(psql.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (psql.waitFor() != 0) {
      die("psql failed on [%s]: %s", sql, output);
    }
    return Long.parseLong(output);
  }

  // ---------------------------------------------------------------- CPU from /proc

  /** CPU time in nanoseconds per group (pids as name=PID:self|tree), of this JVM ("client") and of the machine. */
  static Map<String, Long> cpu() {
    Map<String, Long> ticks = new LinkedHashMap<>();
    Map<Long, List<Long>> children = null;
    for (Map.Entry<String, String> group : pids.entrySet()) {
      String[] spec = group.getValue().split(":");
      long pid = Long.parseLong(spec[0]);
      boolean tree = spec.length > 1 && spec[1].equals("tree");
      long[] root = stat(pid);
      long total = root == null ? 0 : root[1] + root[2] + (tree ? root[3] + root[4] : 0);
      if (tree) {
        if (children == null) {
          children = children();
        }
        for (long child : children.getOrDefault(pid, List.of())) {
          long[] s = stat(child);
          if (s != null) {
            total += s[1] + s[2] + s[3] + s[4];
          }
        }
      }
      ticks.put(group.getKey(), total * (1_000_000_000L / clkTck));
    }
    ticks.put("client", ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
      .getProcessCpuTime());
    try {
      // The whole machine, every core: user nice system idle iowait irq softirq steal.
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      long busy = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
        + Long.parseLong(f[7]) + Long.parseLong(f[8]);
      ticks.put("machine", busy * (1_000_000_000L / clkTck));
    } catch (IOException | RuntimeException e) {
      // no /proc/stat: no machine total
    }
    return ticks;
  }

  /** {ppid, utime, stime, cutime, cstime} of a process, or null when it is gone. */
  static long[] stat(long pid) {
    try {
      String line = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = line.substring(line.lastIndexOf(')') + 2).split(" ");
      // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
      return new long[] {Long.parseLong(f[1]), Long.parseLong(f[11]), Long.parseLong(f[12]), Long.parseLong(f[13]),
        Long.parseLong(f[14])};
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  static Map<Long, List<Long>> children() {
    Map<Long, List<Long>> map = new HashMap<>();
    try (var entries = Files.list(Path.of("/proc"))) {
      entries.map(p -> p.getFileName().toString()).filter(s -> s.chars().allMatch(Character::isDigit)).forEach(s -> {
        long[] st = stat(Long.parseLong(s));
        if (st != null) {
          map.computeIfAbsent(st[0], k -> new ArrayList<>()).add(Long.parseLong(s));
        }
      });
    } catch (IOException e) {
      // no /proc: no children
    }
    return map;
  }

  static void putCpu(Properties result, String phase, Map<String, Long> before, Map<String, Long> after, double seconds) {
    for (String group : after.keySet()) {
      double cpuSeconds = (after.get(group) - before.getOrDefault(group, 0L)) / 1e9;
      result.setProperty("cpu." + phase + "." + group, fmt(cpuSeconds));
    }
    result.setProperty("cpu." + phase + ".window", fmt(seconds));
  }

  // ---------------------------------------------------------------- helpers

  static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  static String fmt(double value) {
    return String.format(Locale.ROOT, "%.3f", value);
  }

  static Map<String, String> options(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        die("bad argument %s; see the comment at the top of bench/TasksBench.java", args[i]);
      }
      options.put(args[i].substring(2), args[++i]);
    }
    return options;
  }

  static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) {
      die("--%s is required; see the comment at the top of bench/TasksBench.java", name);
    }
    return value;
  }

  static void log(String format, Object... args) {
    System.err.println("TasksBench: " + String.format(Locale.ROOT, format, args));
  }

  static void die(String format, Object... args) {
    log(format, args);
    System.exit(1);
  }
}
