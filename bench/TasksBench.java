import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Pulse side of bench/tasks.sh (see bench/TASKS.md). A single-file program with no
 * dependencies beyond the JDK (its HTTP client is a small keep-alive one below), run in source-launch mode on Java 17:
 *
 * <pre>
 *   java bench/TasksBench.java --url http://127.0.0.1:PORT --pg postgresql://postgres@127.0.0.1:PGPORT/postgres
 *        --out pulse.properties [--n 20000] [--half-n 20000] [--warmup 150000] [--batch 1] [--concurrency 64]
 *        [--half-max-in-flight 1024] [--half-max-seconds 40] [--half-rate R] [--half-tick-ms 5]
 *        [--single-n 0] [--single-concurrency 64] [--single-warmup 10000] [--single-warmup-max-seconds 300]
 *        [--pids pulse=PID:self,postgres=PID:tree,redis=PID:tree] [--clk-tck 100] [--timeout 150]
 *        [--probe-dir DIR]
 * </pre>
 *
 * <p>With {@code --batch 1} (the default) every task is its own request, {@code POST /api/v1/tasks
 * {"type":"noop","queue":"bench"}} (201, status "queued"). With {@code --batch B} above 1 every
 * request is {@code POST /api/v1/tasks/batch {"tasks":[{"type":"noop","queue":"bench"}, ...]}}
 * carrying up to B such tasks (201, one item per task, each with status "queued"); a request that
 * gets anything else counts all its tasks as errors. The tasks go into the queue {@code bench},
 * which is never paused: the node's dispatcher runs the tasks while they are being submitted. The
 * phases follow each other, each one ending when all its tasks are 'succeeded' in PostgreSQL; a
 * phase's tasks are told apart by their id range.
 *
 * <ol>
 *   <li>Logs in (the node's admin: ADMIN_USERNAME bench / bench-password-1).
 *   <li>Warm-up, not measured: {@code --warmup} tasks in the measured phases' two shapes (JIT,
 *       connection pools, Lua scripts loaded): four fifths submitted like the full-load phase, then
 *       one fifth paced like the half-load phase at half the throughput the first part reached,
 *       each until all succeeded; then rounds of an eighth of that, like the full-load phase, until the
 *       node's JIT compiler threads used under 0.1 core during one (at most 300 s). Then VACUUM
 *       (ANALYZE) tasks and CHECKPOINT.
 *   <li>Full load ({@code full}): {@code --n} tasks submitted as fast as the API allows,
 *       {@code --concurrency} requests in flight (one thread each, closed loop; each request
 *       carries B tasks, the last one fewer), until all have succeeded (the succeeded count polled
 *       with psql every 200 ms). Throughput: N ÷ (first submit → the largest {@code finished_at}).
 *   <li>Half load ({@code half}): {@code --half-n} tasks submitted open loop at half the
 *       full-load throughput: task i is due at start + i/rate whatever became of the earlier ones,
 *       up to {@code --half-max-in-flight} requests outstanding, until all have succeeded. With
 *       B = 1 each task leaves at its own time; with B above 1 a sender loop wakes every
 *       {@code --half-tick-ms} and sends the tasks that have come due, up to B per request (several requests
 *       when more are due). Fewer tasks when {@code --half-n} at that rate would take longer than
 *       {@code --half-max-seconds}: rate × that many seconds. {@code --half-rate} sets the rate
 *       instead (a diagnostic knob: the phase is then not the half load).
 *   <li>Single submits ({@code single}), only when {@code --single-n} is above 0: that many tasks,
 *       one {@code POST /api/v1/tasks} each, {@code --single-concurrency} in flight (closed loop),
 *       measured like the full-load phase, after a warm-up of its own, not measured: rounds of
 *       {@code --single-warmup} single submits until the node's JIT compiler threads used under 0.1
 *       core during one (at most {@code --single-warmup-max-seconds}), then VACUUM and CHECKPOINT.
 * </ol>
 *
 * <p>Submit latency is per request (one task, or one batch). For the paced phase, the schedule lag
 * of a request is how late it left against the due time of its oldest task.
 *
 * <p>For each phase, the enqueue-to-start latency of every task is {@code started_at -
 * created_at}, both PostgreSQL's clock, read with psql afterwards; p50/p90/p99/max over the
 * phase's tasks. Also per phase, from the same rows: how many INSERT statements, CLAIM statements
 * and SUCCEED batches ran (distinct {@code created_at} / {@code started_at} / {@code finished_at}:
 * one statement stamps all its rows with its transaction's now()), and {@code finished_at - started_at} (how long a task holds
 * one of the node's TASK_NODE_CONCURRENCY slots, at least). For each measured window it also
 * reads the CPU time of the node's processes from /proc ({@code --pids}: {@code :self} counts the
 * process alone, {@code :tree} also its children, live and reaped; for the group "pulse" also
 * its JIT compiler threads apart), of this JVM and of the machine. With {@code --probe-dir}, while
 * a phase submits, a {@link DiskProbe} times fdatasync on that directory's disk every 10 ms
 * ({@code PHASE.disk.*}: the flushes' p50/p99/max, the stalls over 20 ms, and the phase's tasks
 * submitted during one or in the 10 ms before). At the end: whether autovacuum
 * ran on {@code tasks}. Writes everything to {@code --out} as properties (keys {@code full.*},
 * {@code half.*}, {@code single.*}, {@code cpu.PHASE.*}, {@code PHASE.disk.*}, {@code tasks_table.*}); progress goes to
 * stderr. Exit status 0 when every request and every task went as expected, 3 when some did not
 * (the numbers are still written), 1 when the set-up failed.
 */
public class TasksBench {

  static final String QUEUE = "bench";
  static final String BODY = "{\"type\":\"noop\",\"queue\":\"" + QUEUE + "\"}";
  /** One per accepted task in a batch answer ({"items":[{"id":..,"status":"queued","replayed":false}, ...]}). */
  static final Pattern QUEUED = Pattern.compile("\"status\"\\s*:\\s*\"queued\"");

  static Http http;
  static byte[] submitRequest;  // POST /api/v1/tasks, one task
  static final Map<Integer, byte[]> batchRequests = new ConcurrentHashMap<>();  // POST /api/v1/tasks/batch by task count
  static String token;
  static String url;
  static String pg;
  static int concurrency;
  static long halfTickNanos;  // the batched half-load sender wakes this often
  static long timeoutMs;
  static Map<String, String> pids;
  static long clkTck;
  static Path probeDir;  // --probe-dir: where the disk probe writes (the node's data directory); null: no probe

  public static void main(String[] args) throws Exception {
    Map<String, String> options = options(args);
    url = required(options, "url");
    pg = required(options, "pg");
    Path out = Path.of(required(options, "out"));
    int n = Integer.parseInt(options.getOrDefault("n", "20000"));
    int halfN = Integer.parseInt(options.getOrDefault("half-n", String.valueOf(n)));
    int warmup = Integer.parseInt(options.getOrDefault("warmup", "150000"));
    int batch = Integer.parseInt(options.getOrDefault("batch", "1"));  // tasks per request; 1: POST /api/v1/tasks
    concurrency = Integer.parseInt(options.getOrDefault("concurrency", "64"));
    int halfMaxInFlight = Integer.parseInt(options.getOrDefault("half-max-in-flight", "1024"));
    double halfMaxSeconds = Double.parseDouble(options.getOrDefault("half-max-seconds", "40"));
    double halfRate = Double.parseDouble(options.getOrDefault("half-rate", "0"));  // 0: half the full-load throughput
    halfTickNanos = (long) (Double.parseDouble(options.getOrDefault("half-tick-ms", "5")) * 1_000_000);
    int singleN = Integer.parseInt(options.getOrDefault("single-n", "0"));  // 0: no single-submit phase
    int singleConcurrency = Integer.parseInt(options.getOrDefault("single-concurrency", "64"));
    int singleWarmup = Integer.parseInt(options.getOrDefault("single-warmup", "10000"));
    int singleWarmupMaxSeconds = Integer.parseInt(options.getOrDefault("single-warmup-max-seconds", "300"));
    timeoutMs = Long.parseLong(options.getOrDefault("timeout", "150")) * 1000;
    clkTck = Long.parseLong(options.getOrDefault("clk-tck", "100"));
    probeDir = options.containsKey("probe-dir") ? Path.of(options.get("probe-dir")) : null;
    pids = new LinkedHashMap<>();
    for (String spec : options.getOrDefault("pids", "").split(",")) {
      if (!spec.isBlank()) {
        String[] kv = spec.split("=", 2);
        pids.put(kv[0], kv[1]);
      }
    }
    if (batch < 1 || batch > 1000) {
      die("--batch must be 1..1000 (the batch endpoint takes up to 1000 tasks), not %d", batch);
    }

    http = new Http(URI.create(url));
    Properties result = new Properties();
    boolean clean = true;

    Http.Response login = http.send(http.post("/api/v1/auth/login", null, "{\"username\":\"bench\",\"password\":\"bench-password-1\"}"));
    Matcher tokenMatch = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"").matcher(login.body());
    if (login.status() != 200 || !tokenMatch.find()) {
      die("login answered %d: %s", login.status(), login.body());
    }
    token = tokenMatch.group(1);
    submitRequest = http.post("/api/v1/tasks", token, BODY);
    String how = batch == 1 ? "one POST per task" : "in batches of " + batch;

    // ---- warm-up (not measured): the phases' two shapes, so the JIT has compiled both
    if (warmup > 0) {
      int warmPaced = warmup / 5;
      int warmFull = warmup - warmPaced;
      log("warm-up: %d tasks %s, %d requests in flight, then %d paced at half that throughput, until all succeeded",
        warmFull, how, concurrency, warmPaced);
      double warmRate = warmFull / warmPhase(warmFull, () -> closedLoop(warmFull, batch, concurrency));
      warmPhase(warmPaced, () -> batch == 1 ? paced(warmPaced, warmRate / 2, halfMaxInFlight)
        : pacedBatches(warmPaced, warmRate / 2, halfMaxInFlight, batch));
      int round = Math.max(1, warmup / 8);
      log("warm-up: then rounds of %d tasks like the full-load phase until the JIT settles", round);
      result.setProperty("warmup.settle", untilCompiled(round, 300, () -> closedLoop(round, batch, concurrency)));
      log("warm-up: %s", result.getProperty("warmup.settle"));
      // As pgbench does before it measures: the warm-up's dead row versions vacuumed, and a
      // checkpoint, so the measured phases neither walk the one nor wait on the other, and write
      // their WAL into recycled segments rather than new ones.
      psql("VACUUM (ANALYZE) tasks");
      psql("CHECKPOINT");
    }

    // ---- full load: as fast as the API allows
    log("full load: %d tasks %s, %d requests in flight, until all succeeded", n, how, concurrency);
    double fullRate = phase(result, "full", n, 0, 0, batch, concurrency);
    clean &= ok(result, "full", n);

    // ---- half load: paced at half the full-load throughput
    double rate = halfRate > 0 ? halfRate : fullRate / 2;
    halfN = (int) Math.max(1, Math.min(halfN, Math.round(rate * halfMaxSeconds)));
    log("half load: %d tasks paced at %.0f/s (half of %.0f/s), open loop, %s, up to %d requests in flight", halfN, rate,
      fullRate, batch == 1 ? "one POST per task" : "up to " + batch + " per request", halfMaxInFlight);
    phase(result, "half", halfN, rate, halfMaxInFlight, batch, concurrency);
    clean &= ok(result, "half", halfN);
    if (Double.parseDouble(result.getProperty("half.max_lag_ms")) > 100) {
      log("half load: the schedule slipped (a submit left %s ms late): the offered rate was not held",
        result.getProperty("half.max_lag_ms"));
    }

    // ---- single submits: one POST /api/v1/tasks per task, as fast as the API allows
    if (singleN > 0) {
      if (singleWarmup > 0) {
        // This endpoint's own code (the single-submit route, its group commit) has not run yet: it
        // warms up as BullMQ's queue.add did in its own warm-up, in rounds until the node's JIT
        // compiler has settled (on 2 cores it competes with the load: after 40,000 single submits it
        // still used half a core, and single submits ran at a third of their settled rate).
        log("single submits' warm-up: rounds of %d tasks, one POST per task, %d requests in flight, until the JIT settles",
          singleWarmup, singleConcurrency);
        result.setProperty("single.warmup", untilCompiled(singleWarmup, singleWarmupMaxSeconds,
          () -> closedLoop(singleWarmup, 1, singleConcurrency)));
        log("single submits' warm-up: %s", result.getProperty("single.warmup"));
        psql("VACUUM (ANALYZE) tasks");
        psql("CHECKPOINT");
      }
      log("single submits: %d tasks, one POST per task, %d requests in flight, until all succeeded", singleN,
        singleConcurrency);
      phase(result, "single", singleN, 0, 0, 1, singleConcurrency);
      clean &= ok(result, "single", singleN);
    }

    // Did autovacuum clean the tasks table during the run? (Until it does, every task ever queued
    // leaves an entry in the partial indexes on waiting / running tasks.)
    result.setProperty("tasks_table.autovacuum_count", String.valueOf(
      scalar("select coalesce(sum(autovacuum_count + vacuum_count), 0) from pg_stat_user_tables where relname = 'tasks'")));
    result.setProperty("tasks_table.rows", String.valueOf(scalar("select count(*) from tasks")));

    try (var writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
      result.store(writer, "bench/TasksBench.java");
    }
    System.exit(clean ? 0 : 3);
  }

  /**
   * Warm-up rounds of {@code n} tasks each (each until all succeeded) until the node's JIT compiler
   * threads used under a tenth of a core during one, or {@code maxSeconds} passed; how it went.
   */
  static String untilCompiled(int n, int maxSeconds, java.util.concurrent.Callable<Submitted> submit) throws Exception {
    long pid = Long.parseLong(pids.getOrDefault("pulse", "0:self").split(":")[0]);
    long began = System.nanoTime();
    int rounds = 0;
    double jitCores;
    do {
      long jitBefore = jitTicks(pid);
      double seconds = warmPhase(n, submit);
      jitCores = (jitTicks(pid) - jitBefore) / (double) clkTck / seconds;
      rounds++;
    } while (jitCores >= 0.10 && System.nanoTime() - began < maxSeconds * 1_000_000_000L);
    return String.format("%d round(s) of %d, %.0f s; the JIT compiler at %.2f cores in the last", rounds, n,
      (System.nanoTime() - began) / 1e9, jitCores);
  }

  /** Submits a warm-up part and waits until all its tasks succeeded; returns its seconds. */
  static double warmPhase(int n, java.util.concurrent.Callable<Submitted> submit) throws Exception {
    long t0 = System.nanoTime();
    long from = maxId();
    Submitted warm = submit.call();
    if (warm.errors.get() > 0) {  // at once: waiting for tasks that were never accepted would only time out
      die("warm-up went wrong: %d tasks not accepted; first error: %s", warm.errors.get(), warm.firstError);
    }
    long seen = waitSucceeded(from, maxId(), n);
    if (seen != n) {
      die("warm-up went wrong: %d of %d tasks succeeded", seen, n);
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /**
   * One measured phase: submits n tasks, `perRequest` per request (closed loop with `inFlight`
   * requests when rate is 0, else paced at rate/s with up to maxInFlight requests outstanding),
   * waits until all succeeded, and records its figures under the prefix. Returns its throughput.
   */
  static double phase(Properties result, String prefix, int n, double rate, int maxInFlight, int perRequest, int inFlight)
      throws Exception {
    long from = maxId();
    DiskProbe probe = probeDir == null ? null : DiskProbe.start(probeDir);
    Map<String, Long> cpu0 = cpu();
    long wall0 = System.currentTimeMillis();
    long t0 = System.nanoTime();
    Submitted sub = rate == 0 ? closedLoop(n, perRequest, inFlight)
      : perRequest == 1 ? paced(n, rate, maxInFlight) : pacedBatches(n, rate, maxInFlight, perRequest);
    long submitNanos = System.nanoTime() - t0;
    List<DiskProbe.Flush> flushes = probe == null ? List.of() : probe.stop();
    long to = maxId();  // every answered submit is committed: its row is in
    long rows = scalar("select count(*) from tasks where queue = '" + QUEUE + "' and id > " + from + " and id <= " + to);
    long succeeded = waitSucceeded(from, to, rows);
    long t1 = System.nanoTime();
    Map<String, Long> cpu1 = cpu();
    String range = "queue = '" + QUEUE + "' and id > " + from + " and id <= " + to;
    long lastFinished = scalar("select coalesce((extract(epoch from max(finished_at)) * 1000)::bigint, 0) from tasks where " + range);
    long notSucceeded = scalar("select count(*) from tasks where " + range + " and status <> 'succeeded'");
    long retried = scalar("select count(*) from tasks where " + range + " and attempts > 1");
    // One CLAIM statement stamps all its tasks with the same started_at (its transaction's now()),
    // one SUCCEED batch all its tasks with the same finished_at, one INSERT (a single submit, or a
    // whole batch request) all its tasks with the same created_at: distinct values count the statements.
    double[] batches = column("select count(distinct started_at) from tasks where " + range
      + " union all select count(distinct finished_at) from tasks where " + range
      + " union all select coalesce(avg(extract(epoch from finished_at - started_at)) * 1000, 0) from tasks where " + range
      + " union all select coalesce(percentile_cont(0.5) within group (order by extract(epoch from finished_at - started_at)) * 1000, 0)"
      + " from tasks where " + range
      + " union all select count(distinct created_at) from tasks where " + range);
    double[] waits = column("select extract(epoch from started_at - created_at) * 1000 from tasks where " + range
      + " and started_at is not null");
    Arrays.sort(waits);
    double seconds = (lastFinished - wall0) / 1e3;
    double submitSeconds = submitNanos / 1e9;
    int requests = sub.requests.get();

    result.setProperty(prefix + ".n", String.valueOf(n));
    result.setProperty(prefix + ".batch", String.valueOf(perRequest));
    result.setProperty(prefix + ".concurrency", String.valueOf(rate == 0 ? inFlight : maxInFlight));
    result.setProperty(prefix + ".target_rate", fmt(rate));
    result.setProperty(prefix + ".submit.seconds", fmt(submitSeconds));
    result.setProperty(prefix + ".submit.jobs_per_s", fmt(sub.ok.get() / submitSeconds));
    result.setProperty(prefix + ".submit.requests", String.valueOf(requests));
    result.setProperty(prefix + ".submit.requests_per_s", fmt(requests / submitSeconds));
    result.setProperty(prefix + ".submit.tasks_per_request", fmt(requests == 0 ? 0 : (double) n / requests));
    // Paced: the rate the schedule achieved, from the first request sent to the last one sent.
    result.setProperty(prefix + ".submit.achieved_rate",
      fmt(sub.lastSent > sub.firstSent ? (n - 1) / ((sub.lastSent - sub.firstSent) / 1e9) : sub.ok.get() / submitSeconds));
    result.setProperty(prefix + ".max_lag_ms", fmt(sub.maxLag.get() / 1e6));
    result.setProperty(prefix + ".max_in_flight", String.valueOf(sub.maxInFlight.get()));
    long[] lat = sub.latencies();
    result.setProperty(prefix + ".submit.p50_ms", fmt(percentile(lat, 50) / 1e6));
    result.setProperty(prefix + ".submit.p99_ms", fmt(percentile(lat, 99) / 1e6));
    result.setProperty(prefix + ".submit.ok", String.valueOf(sub.ok.get()));
    result.setProperty(prefix + ".submit.errors", String.valueOf(sub.errors.get()));
    result.setProperty(prefix + ".submit.first_error", String.valueOf(sub.firstError));
    result.setProperty(prefix + ".tasks", String.valueOf(rows));
    result.setProperty(prefix + ".succeeded", String.valueOf(succeeded));
    result.setProperty(prefix + ".not_succeeded", String.valueOf(notSucceeded));
    result.setProperty(prefix + ".retried", String.valueOf(retried));
    result.setProperty(prefix + ".seconds", fmt(seconds));
    result.setProperty(prefix + ".jobs_per_s", fmt(succeeded / seconds));
    result.setProperty(prefix + ".e2s.count", String.valueOf(waits.length));
    result.setProperty(prefix + ".e2s.p50_ms", fmt(percentile(waits, 50)));
    result.setProperty(prefix + ".e2s.p90_ms", fmt(percentile(waits, 90)));
    result.setProperty(prefix + ".e2s.p99_ms", fmt(percentile(waits, 99)));
    result.setProperty(prefix + ".e2s.max_ms", fmt(waits.length == 0 ? 0 : waits[waits.length - 1]));
    result.setProperty(prefix + ".claims", String.valueOf((long) batches[0]));
    result.setProperty(prefix + ".success_writes", String.valueOf((long) batches[1]));
    result.setProperty(prefix + ".inserts", String.valueOf((long) batches[4]));
    result.setProperty(prefix + ".run.mean_ms", fmt(batches[2]));
    result.setProperty(prefix + ".run.p50_ms", fmt(batches[3]));
    putCpu(result, prefix, cpu0, cpu1, (t1 - t0) / 1e9);
    if (probe != null) {
      putDisk(result, prefix, flushes, range);
    }
    log("%s: %d tasks accepted in %.2f s (%.0f/s) by %d requests (%.0f/s, up to %d tasks each), %d tasks not accepted; "
        + "all %d succeeded %.2f s after the first submit: %.0f tasks/s; "
        + "enqueue-to-start p50 %.2f ms, p99 %.2f ms; %d not succeeded, %d needed a second attempt",
      prefix, sub.ok.get(), submitSeconds, sub.ok.get() / submitSeconds, requests, requests / submitSeconds, perRequest,
      sub.errors.get(), succeeded, seconds, succeeded / seconds, percentile(waits, 50), percentile(waits, 99), notSucceeded,
      retried);
    return succeeded / seconds;
  }

  /**
   * The disk's figures for a phase: how long the probe's flushes took, how many took over
   * {@link DiskProbe#STALL_MS}, and how many of the phase's tasks were submitted (their INSERT
   * began) while one of those was under way or in the 10 ms before it: those tasks' commits
   * waited on the same disk.
   */
  static void putDisk(Properties result, String prefix, List<DiskProbe.Flush> flushes, String range) throws Exception {
    double[] ms = flushes.stream().mapToDouble(DiskProbe.Flush::ms).sorted().toArray();
    List<DiskProbe.Flush> stalls = flushes.stream().filter(flush -> flush.ms() > DiskProbe.STALL_MS).toList();
    long during = 0;
    if (!stalls.isEmpty()) {
      StringBuilder windows = new StringBuilder();
      for (DiskProbe.Flush stall : stalls) {
        windows.append(windows.length() == 0 ? "" : " or ").append(String.format(Locale.ROOT,
          "created_at between to_timestamp(%.3f) and to_timestamp(%.3f)", (stall.startMs() - 10) / 1e3, stall.endMs() / 1e3));
      }
      during = scalar("select count(*) from tasks where " + range + " and (" + windows + ")");
    }
    result.setProperty(prefix + ".disk.flushes", String.valueOf(ms.length));
    result.setProperty(prefix + ".disk.p50_ms", fmt(percentile(ms, 50)));
    result.setProperty(prefix + ".disk.p99_ms", fmt(percentile(ms, 99)));
    result.setProperty(prefix + ".disk.max_ms", fmt(ms.length == 0 ? 0 : ms[ms.length - 1]));
    result.setProperty(prefix + ".disk.stalls", String.valueOf(stalls.size()));
    result.setProperty(prefix + ".disk.tasks_during_stalls", String.valueOf(during));
  }

  static boolean ok(Properties result, String prefix, int n) {
    return result.getProperty(prefix + ".submit.errors").equals("0")
      && result.getProperty(prefix + ".tasks").equals(String.valueOf(n))
      && result.getProperty(prefix + ".succeeded").equals(String.valueOf(n))
      && result.getProperty(prefix + ".not_succeeded").equals("0");
  }

  // ---------------------------------------------------------------- HTTP

  /** Threads for the paced phases' sends (an idle one is reused, else one is made): the open loop never waits for one. */
  static final ExecutorService SENDERS = Executors.newCachedThreadPool(task -> {
    Thread thread = new Thread(task, "sender");
    thread.setDaemon(true);
    return thread;
  });

  /** Sends a prepared request on a sender thread; `done` gets the response or the failure. */
  static void sendAsync(byte[] request, java.util.function.BiConsumer<Http.Response, Throwable> done) {
    SENDERS.execute(() -> {
      Http.Response response;
      try {
        response = http.send(request);
      } catch (IOException | RuntimeException e) {
        done.accept(null, e);
        return;
      }
      done.accept(response, null);
    });
  }

  /**
   * A small HTTP/1.1 client: each request is prepared once as bytes and sent over a keep-alive
   * socket from a pool (one socket per request in flight). The JDK's java.net.http cost this
   * load generator about 0.4 of the machine's 2 cores at under 200 requests/s, CPU the node
   * under test then lacked; this costs a small fraction of that.
   */
  static final class Http {
    record Response(int status, String body) {
    }

    private final String host;
    private final int port;
    private final ConcurrentLinkedQueue<Connection> idle = new ConcurrentLinkedQueue<>();

    Http(URI base) {
      host = base.getHost();
      port = base.getPort();
    }

    /** A POST with a JSON body, as the bytes to send; token null for none. */
    byte[] post(String path, String token, String json) {
      byte[] body = json.getBytes(StandardCharsets.UTF_8);
      byte[] head = ("POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\nContent-Type: application/json\r\n"
        + (token == null ? "" : "Authorization: Bearer " + token + "\r\n")
        + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
      byte[] request = Arrays.copyOf(head, head.length + body.length);
      System.arraycopy(body, 0, request, head.length, body.length);
      return request;
    }

    Response send(byte[] request) throws IOException {
      Connection connection = idle.poll();
      if (connection == null) {
        connection = new Connection(host, port);
      }
      try {
        Response response = connection.exchange(request);
        if (connection.reusable) {
          idle.add(connection);
        } else {
          connection.socket.close();
        }
        return response;
      } catch (IOException | RuntimeException e) {
        connection.socket.close();
        throw e;
      }
    }
  }

  /** One keep-alive socket: a request out, its response (Content-Length or chunked) back. */
  static final class Connection {
    final Socket socket = new Socket();
    final BufferedOutputStream out;
    final InputStream in;
    boolean reusable = true;

    Connection(String host, int port) throws IOException {
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(host, port), 5000);
      socket.setSoTimeout(30_000);
      out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
      in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
    }

    Http.Response exchange(byte[] request) throws IOException {
      out.write(request);
      out.flush();
      String status = line();  // HTTP/1.1 201 Created
      int code = Integer.parseInt(status.substring(9, 12));
      int length = -1;
      boolean chunked = false;
      for (String header = line(); !header.isEmpty(); header = line()) {
        int colon = header.indexOf(':');
        String name = header.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = header.substring(colon + 1).trim().toLowerCase(Locale.ROOT);
        if (name.equals("content-length")) {
          length = Integer.parseInt(value);
        } else if (name.equals("transfer-encoding")) {
          chunked = value.contains("chunked");
        } else if (name.equals("connection") && value.equals("close")) {
          reusable = false;
        }
      }
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      if (chunked) {
        for (int size = chunkSize(); size > 0; size = chunkSize()) {
          body.write(exactly(size));
          line();
        }
        while (!line().isEmpty()) {
          // trailers
        }
      } else if (length >= 0) {
        body.write(exactly(length));
      } else {
        reusable = false;
        body.write(in.readAllBytes());
      }
      return new Http.Response(code, body.toString(StandardCharsets.UTF_8));
    }

    private int chunkSize() throws IOException {
      return Integer.parseInt(line().split(";", 2)[0].trim(), 16);
    }

    private byte[] exactly(int n) throws IOException {
      byte[] bytes = in.readNBytes(n);
      if (bytes.length < n) {
        throw new EOFException("the server closed the connection in a response body");
      }
      return bytes;
    }

    private String line() throws IOException {
      StringBuilder line = new StringBuilder();
      for (int c = in.read(); c != '\n'; c = in.read()) {
        if (c < 0) {
          throw new EOFException("the server closed the connection");
        }
        if (c != '\r') {
          line.append((char) c);
        }
      }
      return line.toString();
    }
  }

  /** What became of a phase's requests: tasks accepted and not, latency per request, the schedule's lag. */
  static final class Submitted {
    final AtomicInteger ok = new AtomicInteger();        // tasks accepted (201, status "queued")
    final AtomicInteger errors = new AtomicInteger();    // tasks whose request got anything else
    final AtomicInteger requests = new AtomicInteger();  // requests sent
    final AtomicInteger answered = new AtomicInteger();  // requests answered as expected: their latencies
    final AtomicLong maxLag = new AtomicLong();
    final AtomicInteger maxInFlight = new AtomicInteger();
    volatile String firstError;
    volatile long firstSent;
    volatile long lastSent;
    final long[] nanos;

    Submitted(int n) {
      nanos = new long[n];  // at most one request per task
    }

    /**
     * A paced request leaves now: `due` is when its (oldest) task was due, `inFlight` how many
     * requests are outstanding with it. Returns the send time.
     */
    long sending(boolean first, long due, int inFlight) {
      long sent = System.nanoTime();
      if (first) {
        firstSent = sent;
      }
      lastSent = sent;
      requests.incrementAndGet();
      maxLag.accumulateAndGet(sent - due, Math::max);
      maxInFlight.accumulateAndGet(inFlight, Math::max);
      return sent;
    }

    /** The answer to a request that carried `size` tasks (batched: to POST /api/v1/tasks/batch). */
    void answered(long start, int size, boolean batched, int status, String body, Throwable failure) {
      String error = failure != null ? failure.toString()
        : status != 201 ? status + " " + body
        : !batched && !body.contains("\"queued\"") ? status + " " + body
        : batched && count(QUEUED, body) != size ? status + " with " + count(QUEUED, body) + " of " + size + " queued: " + body
        : null;
      if (error == null) {
        ok.addAndGet(size);
        nanos[answered.getAndIncrement()] = System.nanoTime() - start;
      } else if (errors.getAndAdd(size) == 0) {
        firstError = error.length() > 500 ? error.substring(0, 500) + "..." : error;
      }
    }

    /** Latencies of the requests answered as expected, sorted. */
    long[] latencies() {
      long[] all = Arrays.copyOf(nanos, Math.min(answered.get(), nanos.length));
      Arrays.sort(all);
      return all;
    }
  }

  /** POST /api/v1/tasks/batch carrying `size` noop tasks. */
  static byte[] batchRequest(int size) {
    return http.post("/api/v1/tasks/batch", token, "{\"tasks\":[" + String.join(",", Collections.nCopies(size, BODY)) + "]}");
  }

  /**
   * The request for `size` tasks: POST /api/v1/tasks when perRequest is 1, else a batch request,
   * built once per size (requests are immutable; the paced phase sends many small ones).
   */
  static byte[] request(int perRequest, int size) {
    if (perRequest == 1) {
      return submitRequest;
    }
    return batchRequests.computeIfAbsent(size, TasksBench::batchRequest);
  }

  /**
   * Submits n tasks, perRequest per request (the last request fewer), `inFlight` requests in
   * flight: each of as many threads sends its next request as soon as its last one answered.
   */
  static Submitted closedLoop(int n, int perRequest, int inFlight) throws Exception {
    Submitted result = new Submitted(n);
    AtomicInteger next = new AtomicInteger();  // the first task of the next request
    ExecutorService workers = Executors.newFixedThreadPool(inFlight);
    List<Future<?>> futures = new ArrayList<>();
    result.maxInFlight.set(inFlight);
    for (int w = 0; w < inFlight; w++) {
      futures.add(workers.submit(() -> {
        for (int first = next.getAndAdd(perRequest); first < n; first = next.getAndAdd(perRequest)) {
          int size = Math.min(perRequest, n - first);
          result.requests.incrementAndGet();
          long start = System.nanoTime();
          try {
            Http.Response response = http.send(request(perRequest, size));
            result.answered(start, size, perRequest > 1, response.status(), response.body(), null);
          } catch (IOException e) {
            result.answered(start, size, perRequest > 1, 0, null, e);
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

  /**
   * Submits n tasks open loop at `rate` per second, one POST each: the i-th leaves at start + i/rate
   * whatever became of the earlier ones (asynchronous sends), as long as fewer than maxInFlight are
   * outstanding. Records how late a submit left against its schedule, at most.
   */
  static Submitted paced(int n, double rate, int maxInFlight) throws Exception {
    Submitted result = new Submitted(n);
    Semaphore permits = new Semaphore(maxInFlight);
    CountDownLatch answered = new CountDownLatch(n);
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      long due = start + (long) (i * 1e9 / rate);
      for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
        LockSupport.parkNanos(wait);
      }
      permits.acquire();
      long sent = result.sending(i == 0, due, maxInFlight - permits.availablePermits());
      sendAsync(submitRequest, (response, failure) -> {
        result.answered(sent, 1, false, response == null ? 0 : response.status(), response == null ? null : response.body(),
          failure);
        permits.release();
        answered.countDown();
      });
    }
    if (!answered.await(60, TimeUnit.SECONDS)) {
      die("%d paced submits still unanswered 60 s after the last was sent", answered.getCount());
    }
    return result;
  }

  /**
   * Submits n tasks open loop at `rate` per second in batches: task i is due at start + i/rate
   * whatever became of the earlier ones. A sender loop wakes every --half-tick-ms (or at the
   * next due time, when that is later) and sends every task that has come due, up to perRequest
   * per request (several requests when more are due), asynchronously, as long as fewer than
   * maxInFlight requests are outstanding. A request's lag is how late it left against the due time
   * of its oldest task; records the largest.
   */
  static Submitted pacedBatches(int n, double rate, int maxInFlight, int perRequest) throws Exception {
    Submitted result = new Submitted(n);
    Semaphore permits = new Semaphore(maxInFlight);  // all back: every request answered
    long start = System.nanoTime();
    int i = 0;  // the next task to send
    while (i < n) {
      // Tasks 0 .. due-1 have come due (task k at start + k/rate).
      int due = (int) Math.min(n, (long) Math.floor((System.nanoTime() - start) * rate / 1e9) + 1);
      while (i < due) {
        int size = Math.min(perRequest, due - i);
        permits.acquire();
        long sent = result.sending(i == 0, start + (long) (i * 1e9 / rate), maxInFlight - permits.availablePermits());
        sendAsync(request(perRequest, size), (response, failure) -> {
          result.answered(sent, size, true, response == null ? 0 : response.status(),
            response == null ? null : response.body(), failure);
          permits.release();
        });
        i += size;
      }
      if (i < n) {
        // Sleep one tick, or until the next task is due when that is later.
        long next = start + (long) (i * 1e9 / rate);
        LockSupport.parkNanos(Math.max(halfTickNanos, next - System.nanoTime()));
      }
    }
    if (!permits.tryAcquire(maxInFlight, 60, TimeUnit.SECONDS)) {
      die("%d paced batch requests still unanswered 60 s after the last was sent",
        maxInFlight - permits.availablePermits());
    }
    return result;
  }

  static int count(Pattern pattern, String text) {
    int found = 0;
    for (Matcher m = pattern.matcher(text); m.find(); ) {
      found++;
    }
    return found;
  }

  // ---------------------------------------------------------------- PostgreSQL (psql)

  static long maxId() throws Exception {
    return scalar("select coalesce(max(id), 0) from tasks");
  }

  /** Polls the succeeded count of the id range every 200 ms until it reaches `want`, or dies after the timeout. */
  static long waitSucceeded(long from, long to, long want) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    String sql = "select count(*) from tasks where queue = '" + QUEUE + "' and id > " + from + " and id <= " + to
      + " and status = 'succeeded'";
    while (true) {
      long tick = System.nanoTime();
      long count = scalar(sql);
      if (count >= want) {
        return count;
      }
      if (System.currentTimeMillis() > deadline) {
        die("only %d of %d tasks (ids %d..%d) succeeded after %d s", count, want, from + 1, to, timeoutMs / 1000);
      }
      long sleep = 200 - (System.nanoTime() - tick) / 1_000_000;
      if (sleep > 0) {
        Thread.sleep(sleep);
      }
    }
  }

  static long scalar(String sql) throws Exception {
    return Long.parseLong(psql(sql).trim());
  }

  /** One number per row. */
  static double[] column(String sql) throws Exception {
    String output = psql(sql).trim();
    return output.isEmpty() ? new double[0] : output.lines().mapToDouble(Double::parseDouble).toArray();
  }

  static String psql(String sql) throws Exception {
    Process psql = new ProcessBuilder("psql", pg, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql)
      .redirectErrorStream(true).start();
    String output = new String(psql.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (psql.waitFor() != 0) {
      die("psql failed on [%s]: %s", sql, output.trim());
    }
    return output;
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
      if (group.getKey().equals("pulse")) {
        ticks.put("pulse_jit", jitTicks(pid) * (1_000_000_000L / clkTck));
      }
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

  /** CPU ticks of the JVM's JIT compiler threads ("C1 CompilerThre", "C2 CompilerThre"), live ones only. */
  static long jitTicks(long pid) {
    long total = 0;
    try (var threads = Files.list(Path.of("/proc/" + pid + "/task"))) {
      for (Path thread : (Iterable<Path>) threads::iterator) {
        try {
          String line = Files.readString(thread.resolve("stat"));
          String name = line.substring(line.indexOf('(') + 1, line.lastIndexOf(')'));
          if (name.matches("C\\d CompilerThre.*")) {
            String[] f = line.substring(line.lastIndexOf(')') + 2).split(" ");
            total += Long.parseLong(f[11]) + Long.parseLong(f[12]);
          }
        } catch (IOException | RuntimeException e) {
          // the thread ended
        }
      }
    } catch (IOException e) {
      // no /proc
    }
    return total;
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

  /**
   * Beside a phase, every 10 ms: 8 KB written to a file in the node's data directory (the disk
   * PostgreSQL's WAL is on) and flushed with fdatasync, as a commit flushes the WAL. A virtual
   * disk shared with other machines can take a hundred milliseconds or more to flush, even when
   * this machine is idle; a commit that waits on it holds up every task behind it. The probe
   * tells such a stall from a slowness of Pulse's own.
   */
  static final class DiskProbe {
    static final double STALL_MS = 20;

    record Flush(long startMs, double ms) {
      double endMs() {
        return startMs + Math.ceil(ms);
      }
    }

    private final List<Flush> flushes = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean stopping;
    private final Thread thread;

    private DiskProbe(Path dir) {
      thread = new Thread(() -> run(dir), "disk-probe");
      thread.setDaemon(true);
    }

    static DiskProbe start(Path dir) {
      DiskProbe probe = new DiskProbe(dir);
      probe.thread.start();
      return probe;
    }

    private void run(Path dir) {
      Path file = dir.resolve("bench-disk-probe");
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.DELETE_ON_CLOSE)) {
        ByteBuffer page = ByteBuffer.allocate(8192);
        for (long i = 0; !stopping; i++) {
          long startMs = System.currentTimeMillis();
          long t0 = System.nanoTime();
          channel.write(page.clear(), (i % 128) * 8192);
          channel.force(false);
          double ms = (System.nanoTime() - t0) / 1e6;
          flushes.add(new Flush(startMs, ms));
          LockSupport.parkNanos(10_000_000);
        }
      } catch (IOException e) {
        log("disk probe: %s (no disk figures for this phase)", e);
      }
    }

    List<Flush> stop() throws InterruptedException {
      stopping = true;
      thread.join();
      return List.copyOf(flushes);
    }
  }

  static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  static double percentile(double[] sorted, double p) {
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
