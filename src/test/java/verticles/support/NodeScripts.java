package verticles.support;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The JavaScript tests under src/test/js (the official event-bus client under Node, the dashboard
 * in Chromium), run from JUnit so that {@code mvn verify} covers them. Without {@code node} on the
 * PATH they are skipped, saying so; with node but without their npm packages, or without Debian's
 * chromium for the browser tests, they fail, saying what to install (.ci/run installs both).
 */
public final class NodeScripts {

  public static final Path DIR = Path.of("src", "test", "js").toAbsolutePath();
  public static final Path CHROMIUM = Path.of("/usr/bin/chromium");

  private NodeScripts() {
  }

  /** What a script run printed (stdout and stderr together) and how it ended. */
  public record Run(int exitCode, String output) {
  }

  /** Skips the calling test when node is absent; fails it when the packages are missing. */
  public static void requireNode() {
    Assumptions.assumeTrue(onPath("node"), "SKIPPED: node is not installed, so the JavaScript tests under src/test/js cannot run "
      + "(install Node.js 20+; .ci/run does)");
    if (!Files.isDirectory(DIR.resolve("node_modules/@vertx/eventbus-bridge-client.js"))
      || !Files.isDirectory(DIR.resolve("node_modules/sockjs-client")) || !Files.isDirectory(DIR.resolve("node_modules/playwright-core"))) {
      throw new AssertionError("the npm packages of the JavaScript tests are missing: run `npm ci --prefix src/test/js` (.ci/run does)");
    }
  }

  /** Also Debian's chromium (never a downloaded browser), for the dashboard tests. */
  public static void requireChromium() {
    requireNode();
    if (!Files.isExecutable(CHROMIUM)) {
      throw new AssertionError("Debian's chromium is missing at " + CHROMIUM + ": run `apt-get install -y chromium` (.ci/run does)");
    }
  }

  /** Runs {@code node --test <script>} in src/test/js with {@code env} added; fails the test if it does not end in time. */
  public static Run test(String script, Map<String, String> env, long timeoutSeconds) {
    List<String> command = new ArrayList<>(List.of("node", "--test", "--test-reporter=spec", "--test-concurrency=1", "--test-force-exit", script));
    try {
      Path output = Files.createTempFile("pulse-node-test", ".log");
      ProcessBuilder builder = new ProcessBuilder(command).directory(DIR.toFile()).redirectErrorStream(true)
        .redirectOutput(output.toFile());
      builder.environment().putAll(env);
      Process process = builder.start();
      if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(script + " did not finish within " + timeoutSeconds + " s:\n" + Files.readString(output));
      }
      String text = Files.readString(output, StandardCharsets.UTF_8);
      Files.deleteIfExists(output);
      System.out.println(text);
      return new Run(process.exitValue(), text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static boolean onPath(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(java.io.File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }
}
