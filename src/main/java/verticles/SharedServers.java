package verticles;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CountDownLatch;

/**
 * The embedded PostgreSQL and Redis in a JVM of their own, shared by the nodes of a cluster on
 * one machine (scripts/cluster.sh), so that losing any node loses no server. Supervised and
 * watched as in zero-setup mode (see {@link EmbeddedServers}); their URLs are written to a file,
 * as {@code DATABASE_URL=...} and {@code REDIS_URL=...} lines, once both serve. SIGTERM stops them.
 *
 * <pre>java -cp pulse.jar verticles.SharedServers DATA_DIR URL_FILE [PG_PORT REDIS_PORT]</pre>
 */
public final class SharedServers {

  private SharedServers() {
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2 && args.length != 4) {
      System.err.println("usage: verticles.SharedServers DATA_DIR URL_FILE [PG_PORT REDIS_PORT]  (port 0: any free port)");
      System.exit(2);
    }
    System.setProperty("LOG_FORMAT", System.getenv().getOrDefault("LOG_FORMAT", "text"));
    System.setProperty("LOG_LEVEL", System.getenv().getOrDefault("LOG_LEVEL", "INFO"));
    Logger log = LoggerFactory.getLogger(SharedServers.class);
    int pgPort = args.length == 4 ? Integer.parseInt(args[2]) : 0;
    int redisPort = args.length == 4 ? Integer.parseInt(args[3]) : 0;
    CountDownLatch stop = new CountDownLatch(1);
    Signal.handle(new Signal("TERM"), signal -> stop.countDown());
    Signal.handle(new Signal("INT"), signal -> stop.countDown());
    try (EmbeddedServers servers = EmbeddedServers.open(Path.of(args[0]))) {
      servers.startWatchdog();
      String database = servers.startPostgres(pgPort);
      String redis = servers.startRedis(redisPort);
      write(Path.of(args[1]), "DATABASE_URL=" + database + "\nREDIS_URL=" + redis + "\n");
      log.info("shared servers ready: {} and {}", database, redis);
      stop.await();
      log.info("stopping the shared servers");
    } catch (IOException | RuntimeException e) {
      log.error("the shared servers could not start: {}", e.toString());
      System.exit(1);
    }
    System.exit(0);
  }

  /** Whole or not at all: a reader never sees half a file. */
  private static void write(Path file, String text) throws IOException {
    Path partial = file.resolveSibling(file.getFileName() + ".partial");
    Files.writeString(partial, text, StandardCharsets.UTF_8);
    Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
