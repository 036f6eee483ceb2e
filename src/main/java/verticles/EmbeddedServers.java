package verticles.common;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.embedded.RedisServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Zero-setup mode: a real PostgreSQL and a real Redis started by the node itself, with their
 * data kept under one directory so it survives restarts. The directory is locked while a node
 * uses it; any server still running on it without a lock holder is an orphan of a crashed run
 * and is stopped before the new start. A small watchdog process stops the servers if this JVM
 * dies without running its shutdown hook (kill -9).
 */
public final class EmbeddedServers implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedServers.class);

  private final Path dataDir;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private EmbeddedPostgres postgres;
  private RedisServer redis;
  private int redisPort;
  private Process watchdog;

  private EmbeddedServers(Path dataDir, FileChannel lockChannel, FileLock lock) {
    this.dataDir = dataDir;
    this.lockChannel = lockChannel;
    this.lock = lock;
  }

  /**
   * Takes the data directory and stops orphans left in it. Fails with a clear message when
   * another live node holds the directory.
   */
  public static EmbeddedServers open(Path dataDir) throws IOException {
    Path dir = dataDir.toAbsolutePath().normalize();
    Files.createDirectories(dir);
    FileChannel channel = FileChannel.open(dir.resolve("pulse.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock = channel.tryLock();
    if (lock == null) {
      channel.close();
      throw new IllegalStateException("DATA_DIR " + dir + " is in use by another running Pulse node");
    }
    return new EmbeddedServers(dir, channel, lock);
  }

  /** Starts PostgreSQL on {@code port} (0: any free port); returns its URL. */
  public String startPostgres(int port) throws IOException {
    Path pgData = dataDir.resolve("postgres");
    stopOrphan(pgData.resolve("postmaster.pid"), "postgres");
    boolean fresh = !Files.exists(pgData.resolve("PG_VERSION"));
    postgres = EmbeddedPostgres.builder()
      .setDataDirectory(pgData)
      .setCleanDataDirectory(false)
      .setRegisterShutdownHook(false)
      .setPort(port == 0 ? freePort() : port)
      .setServerConfig("listen_addresses", "127.0.0.1")
      .setServerConfig("max_connections", "200")
      // The library's defaults favour throwaway test databases (fsync off); this data is kept.
      .setServerConfig("fsync", "on")
      .setServerConfig("synchronous_commit", "on")
      // A task leaves two dead row versions behind (claimed, finished): at thousands a second the
      // partial indexes of waiting and running tasks fill with them within the default minute
      // between autovacuum rounds, and every reaper and reconciler pass walks them all.
      .setServerConfig("autovacuum_naptime", "5s")
      .setPGStartupWait(Duration.ofSeconds(30))
      .setOutputRedirector(ProcessBuilder.Redirect.DISCARD)
      .setErrorRedirector(ProcessBuilder.Redirect.DISCARD)
      .start();
    String url = "postgresql://postgres@127.0.0.1:" + postgres.getPort() + "/postgres";
    log.info("embedded PostgreSQL {} at {}, data in {}", fresh ? "created" : "reopened", url, pgData);
    return url;
  }

  /** Starts Redis on {@code port} (0: any free port) with an append-only file; returns its URL. */
  public String startRedis(int port) throws IOException {
    Path redisData = dataDir.resolve("redis");
    Files.createDirectories(redisData);
    Path pidFile = redisData.resolve("redis.pid");
    stopOrphan(pidFile, "redis-server");
    redisPort = port == 0 ? freePort() : port;
    redis = RedisServer.newRedisServer()
      .bind("127.0.0.1")
      .port(redisPort)
      .setting("dir " + redisData)
      .setting("pidfile " + pidFile)
      .setting("appendonly yes")
      .setting("appendfsync everysec")
      .setting("save 60 1000")
      .setting("protected-mode yes")
      .build();
    redis.start();
    String url = "redis://127.0.0.1:" + redisPort;
    log.info("embedded Redis at {}, data in {}", url, redisData);
    return url;
  }

  /** Stops Redis (a test restarts it with {@link #restartRedis()} to prove recovery). */
  public void stopRedis() throws IOException {
    if (redis != null) {
      redis.stop();
    }
  }

  public void restartRedis() throws IOException {
    startRedis(redisPort);
  }

  /**
   * Watches this JVM from outside; when it is gone, stops the servers it started. The pids are
   * taken now (the data directory may be gone by then) and checked against the command line
   * before the kill, so a reused pid is left alone.
   */
  public void startWatchdog() throws IOException {
    // stop PID NAME SIGNAL: signal it if it is still that program; after 10 s, SIGKILL.
    StringBuilder script = new StringBuilder("alive() { grep -q \"$2\" /proc/$1/cmdline 2>/dev/null; }; "
      + "stop() { alive $1 $2 || return 0; kill -$3 $1; i=0; "
      + "while [ $i -lt 10 ] && alive $1 $2; do sleep 1; i=$((i+1)); done; alive $1 $2 && kill -9 $1; return 0; }; "
      + "while kill -0 " + ProcessHandle.current().pid() + " 2>/dev/null; do sleep 1; done; ");
    if (postgres != null) {
      readPid(dataDir.resolve("postgres/postmaster.pid")).ifPresent(pid -> script.append("stop " + pid + " postgres INT; "));
    }
    if (redis != null) {
      readPid(dataDir.resolve("redis/redis.pid")).ifPresent(pid -> script.append("stop " + pid + " redis-server TERM; "));
    }
    watchdog = new ProcessBuilder("sh", "-c", script + "exit 0")
      .redirectOutput(ProcessBuilder.Redirect.DISCARD)
      .redirectError(ProcessBuilder.Redirect.DISCARD)
      .start();
  }

  /** Stops both servers cleanly (PostgreSQL fast shutdown, Redis with its final fsync). */
  @Override
  public synchronized void close() {
    if (!lock.isValid()) {
      return;
    }
    if (redis != null) {
      try {
        redis.stop();
      } catch (IOException | RuntimeException e) {
        log.warn("embedded Redis did not stop cleanly: {}", e.toString());
      }
      redis = null;
    }
    if (postgres != null) {
      try {
        postgres.close();
      } catch (IOException | RuntimeException e) {
        log.warn("embedded PostgreSQL did not stop cleanly: {}", e.toString());
      }
      postgres = null;
    }
    if (watchdog != null) {
      watchdog.descendants().forEach(ProcessHandle::destroy);
      watchdog.destroy();
      watchdog = null;
    }
    try {
      lock.release();
      lockChannel.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The pid file names a process that no node owns any more (we hold the lock): stop it, then
   * remove the file so a reused pid cannot block the next start.
   */
  private static void stopOrphan(Path pidFile, String commandName) throws IOException {
    if (!Files.exists(pidFile)) {
      return;
    }
    Optional<ProcessHandle> orphan = readPid(pidFile).flatMap(ProcessHandle::of)
      .filter(p -> p.info().command().map(c -> c.contains(commandName)).orElse(false));
    if (orphan.isPresent()) {
      ProcessHandle process = orphan.get();
      log.warn("stopping {} (pid {}) left running by an earlier run", commandName, process.pid());
      process.destroy();
      try {
        process.onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception timedOut) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
      }
    }
    Files.deleteIfExists(pidFile);
  }

  private static Optional<Long> readPid(Path pidFile) throws IOException {
    List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
    try {
      return lines.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(lines.get(0).trim()));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static int freePort() throws IOException {
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
