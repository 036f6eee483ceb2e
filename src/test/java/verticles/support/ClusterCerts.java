package verticles.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Certificates for clustered nodes under test, made once per test JVM by the project's own
 * scripts/dev-ca.sh: a member's, signed by the tests' cluster CA, and a stranger's, signed by
 * another CA (what someone without the cluster's CA could make for themselves). The directory
 * is deleted when the test JVM exits.
 */
public final class ClusterCerts {

  private static Path dir;

  private ClusterCerts() {
  }

  /** The settings that make a node a member: the cluster CA, and a certificate it signed. */
  public static Map<String, String> member() {
    Path tls = made();
    return Map.of("CLUSTER_TLS_CA_FILE", tls.resolve("cluster/ca.pem").toString(),
      "CLUSTER_TLS_CERT_FILE", tls.resolve("cluster/member.pem").toString(),
      "CLUSTER_TLS_KEY_FILE", tls.resolve("cluster/member-key.pem").toString());
  }

  /** A certificate of another CA, which trusts only that CA: it knows the protocol but not the cluster. */
  public static Map<String, String> stranger() {
    Path tls = made();
    return Map.of("CLUSTER_TLS_CA_FILE", tls.resolve("other/ca.pem").toString(),
      "CLUSTER_TLS_CERT_FILE", tls.resolve("other/stranger.pem").toString(),
      "CLUSTER_TLS_KEY_FILE", tls.resolve("other/stranger-key.pem").toString());
  }

  private static synchronized Path made() {
    if (dir != null) {
      return dir;
    }
    try {
      Path tls = Files.createTempDirectory("pulse-test-tls");
      // Gone with the test JVM (the clustered tests' child JVMs are stopped before it ends).
      Runtime.getRuntime().addShutdownHook(new Thread(() -> TestServers.deleteQuietly(tls)));
      run(tls.resolve("cluster"), "member");
      run(tls.resolve("other"), "stranger");
      dir = tls;
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void run(Path target, String name) throws IOException {
    Path script = Path.of("scripts/dev-ca.sh").toAbsolutePath();
    Process process = new ProcessBuilder("bash", script.toString(), target.toString(), name).redirectErrorStream(true).start();
    try {
      String output = new String(process.getInputStream().readAllBytes());
      if (process.waitFor() != 0) {
        throw new IllegalStateException("scripts/dev-ca.sh failed: " + output);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
