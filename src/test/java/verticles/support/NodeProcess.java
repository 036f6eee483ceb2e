package verticles.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A Pulse node in its own JVM (verticles.Main), for tests where a process boundary or a signal is the point. */
public final class NodeProcess implements AutoCloseable {

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private final Process process;
  private final Path output;
  private final int httpPort;

  private NodeProcess(Process process, Path output, int httpPort) {
    this.process = process;
    this.output = output;
    this.httpPort = httpPort;
  }

  /** Starts {@code java verticles.Main} with the test classpath, the given environment and a free HTTP port. */
  public static NodeProcess start(Path workDir, Map<String, String> env) {
    try {
      Files.createDirectories(workDir);
      Path output = Files.createTempFile(workDir, "node", ".log");
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      ProcessBuilder builder = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        // The production logging setup, not the tests' logback-test.xml; the jar's manifest opens these too.
        "-Dlogback.configurationFile=logback.xml",
        "--add-opens", "java.base/java.lang=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens", "java.management/sun.management=ALL-UNNAMED",
        "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
        "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED",
        "-cp", System.getProperty("java.class.path"), "verticles.Main")
        .directory(workDir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(output.toFile());
      builder.environment().keySet().removeIf(key -> key.startsWith("TEST_") || key.equals("DATABASE_URL") || key.equals("REDIS_URL"));
      builder.environment().put("HTTP_HOST", "127.0.0.1");
      builder.environment().put("CLUSTER_HOST", "127.0.0.1");
      builder.environment().putIfAbsent("HTTP_PORT", String.valueOf(TestServers.freePort()));
      builder.environment().putAll(env);
      if ("true".equalsIgnoreCase(builder.environment().get("CLUSTER")) && !builder.environment().containsKey("CLUSTER_TLS_CERT_FILE")
        && !"true".equalsIgnoreCase(builder.environment().get("CLUSTER_ALLOW_PLAINTEXT"))) {
        // A clustered bus is mutual TLS: a member's certificate of the tests' CA, unless the test brings its own.
        builder.environment().putAll(ClusterCerts.member());
      }
      return new NodeProcess(builder.start(), output, parsePort(builder.environment().get("HTTP_PORT")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int parsePort(String text) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      return -1; // a test of bad settings: the node will refuse it
    }
  }

  public Process process() {
    return process;
  }

  public int httpPort() {
    return httpPort;
  }

  public String output() {
    try {
      return Files.readString(output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Polls /health/ready until 200; fails with the node's output if it exits or takes too long. */
  public void awaitReady(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError("node exited with " + process.exitValue() + ":\n" + output());
      }
      if (get("/health/ready").statusCode() == 200) {
        return;
      }
      sleep(100);
    }
    throw new AssertionError("node not ready after " + timeout + ":\n" + output());
  }

  /** GET on the node; a refused connection reads as status 0. */
  public HttpResponse<String> get(String path, String... headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
      .timeout(Duration.ofSeconds(10));
    if (headers.length > 0) {
      request.headers(headers);
    }
    try {
      return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      return new RefusedResponse(request.build());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Sends SIGTERM; returns the exit code, or fails when the node takes longer than {@code timeout}. */
  private int terminate(Duration timeout) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("node still running " + timeout + " after SIGTERM:\n" + output());
    }
    return process.exitValue();
  }

  /** SIGTERM, and the node must exit 0 within {@code timeout}; its log is the failure's message. */
  public void assertStopsCleanly(Duration timeout) throws InterruptedException {
    assertEquals(0, terminate(timeout), output());
  }

  /** The node's descendant processes right now (Redis, the watchdog; PostgreSQL detaches itself). */
  public List<ProcessHandle> children() {
    return process.descendants().collect(Collectors.toList());
  }

  /**
   * Kills the JVM outright and waits for its watchdog to stop the embedded servers it left
   * (before the test's directory is deleted under them).
   */
  @Override
  public void close() {
    List<ProcessHandle> left = children();
    process.destroyForcibly();
    for (ProcessHandle child : left) {
      try {
        child.onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        child.destroyForcibly();
      }
    }
  }

  public static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static final class RefusedResponse implements HttpResponse<String> {
    private final HttpRequest request;

    RefusedResponse(HttpRequest request) {
      this.request = request;
    }

    @Override public int statusCode() { return 0; }
    @Override public HttpRequest request() { return request; }
    @Override public java.util.Optional<HttpResponse<String>> previousResponse() { return java.util.Optional.empty(); }
    @Override public java.net.http.HttpHeaders headers() { return java.net.http.HttpHeaders.of(Map.of(), (a, b) -> true); }
    @Override public String body() { return ""; }
    @Override public java.util.Optional<javax.net.ssl.SSLSession> sslSession() { return java.util.Optional.empty(); }
    @Override public URI uri() { return request.uri(); }
    @Override public HttpClient.Version version() { return HttpClient.Version.HTTP_1_1; }
  }
}
