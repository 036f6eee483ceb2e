package verticles;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.embedded.RedisServer;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Zero-setup mode: a real PostgreSQL and a real Redis started by the node itself, with their
 * data kept under one directory so it survives restarts. The directory is locked while a node
 * uses it; any server still running on it without a lock holder is an orphan of a crashed run
 * and is stopped before the new start. A small watchdog process stops the servers if this JVM
 * dies without running its shutdown hook (kill -9).
 *
 * <p>The servers are supervised: when one dies (kill -9, a crash), a daemon thread of its own
 * starts it again on the same data directory and port, up to {@link #MAX_RESTARTS} times in a
 * row with a backoff of 1, 2, 4, 8, then 10 seconds; a server that stays up for a minute starts
 * the count afresh. A deliberate stop ({@link #stopRedis()}, {@link #close()}) is not healed.
 * Plain Java, blocking: never call it from an event loop.
 */
public final class EmbeddedServers implements AutoCloseable {

  /** Restarts in a row (without a minute of uptime between them) before the supervisor gives up. */
  public static final int MAX_RESTARTS = 5;

  private static final Logger log = LoggerFactory.getLogger(EmbeddedServers.class);
  private static final long FIRST_DELAY_MS = 1_000;
  private static final long MAX_DELAY_MS = 10_000;
  private static final long STABLE_MS = 60_000;
  private static final long POLL_MS = 250;
  /** Where PostgreSQL puts its Unix socket and that socket's lock file (the binaries' default, said explicitly). */
  private static final Path SOCKET_DIR = Path.of("/tmp");
  /**
   * Set when the JVM starts exiting: the libraries' own shutdown hooks (embedded-redis has one)
   * may stop a server before ours runs, and a death while the JVM exits is not one to heal.
   */
  private static final AtomicBoolean EXITING = new AtomicBoolean();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> EXITING.set(true), "pulse-embedded-exiting"));
  }

  private final Path dataDir;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Supervised postgres;
  private final Supervised redis;
  private final AtomicInteger restarts = new AtomicInteger();
  private EmbeddedPostgres postgresServer;
  private RedisServer redisServer;
  private Process watchdog;
  private Thread supervisor;
  private boolean closed;

  private EmbeddedServers(Path dataDir, FileChannel lockChannel, FileLock lock) {
    this.dataDir = dataDir;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.postgres = new Supervised("PostgreSQL", "postgres", dataDir.resolve("postgres/postmaster.pid"), this::launchPostgres);
    this.redis = new Supervised("Redis", "redis-server", dataDir.resolve("redis/redis.pid"), this::launchRedis);
  }

  /**
   * Takes the data directory and stops orphans left in it (so their ports are free again).
   * Fails with a clear message when another live node holds the directory.
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
    EmbeddedServers servers = new EmbeddedServers(dir, channel, lock);
    try {
      ServerProcesses.stopOrphan(servers.postgres.pidFile, servers.postgres.command);
      ServerProcesses.stopOrphan(servers.redis.pidFile, servers.redis.command);
    } catch (IOException | RuntimeException e) {
      servers.close();
      throw e;
    }
    return servers;
  }

  /** True when nothing listens on 127.0.0.1:{@code port} (it can be bound now). */
  public static boolean portFree(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      // As the servers themselves bind: a connection of the port's last owner in TIME_WAIT is no obstacle.
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Starts PostgreSQL on {@code port} (0: any free port); returns its URL. Fails if the port is in use. */
  public synchronized String startPostgres(int port) throws IOException {
    boolean fresh = !Files.exists(dataDir.resolve("postgres/PG_VERSION"));
    start(postgres, port == 0 ? freePort() : port);
    String url = "postgresql://postgres@127.0.0.1:" + postgres.port + "/postgres";
    log.info("embedded PostgreSQL {} at {}, data in {}", fresh ? "created" : "reopened", url, dataDir.resolve("postgres"));
    return url;
  }

  /** Starts Redis on {@code port} (0: any free port) with an append-only file; returns its URL. Fails if the port is in use. */
  public synchronized String startRedis(int port) throws IOException {
    start(redis, port == 0 ? freePort() : port);
    String url = "redis://127.0.0.1:" + redis.port;
    log.info("embedded Redis at {}, data in {}", url, dataDir.resolve("redis"));
    return url;
  }

  /** Stops Redis on purpose: it is not restarted until {@link #restartRedis()} (tests prove recovery with it). */
  public synchronized void stopRedis() throws IOException {
    redis.wanted = false;
    if (redisServer != null) {
      redisServer.stop();
    }
  }

  /** Starts Redis again on its port after {@link #stopRedis()}. */
  public synchronized void restartRedis() throws IOException {
    startRedis(redis.port);
  }

  /** How many times the supervisor has brought a dead server back. */
  public int restarts() {
    return restarts.get();
  }

  /**
   * Watches this JVM from outside; when it is gone, stops the servers it started. The pid of
   * each server is handed over a pipe when the server starts, and again after every restart,
   * so the data directory need not exist any more by then; each pid is checked against the
   * command line before the kill, so a reused pid is left alone. The pipe closing (the JVM's end
   * closes with the JVM, however it dies) is the signal.
   */
  public synchronized void startWatchdog() throws IOException {
    if (watchdog != null || closed) {
      return;
    }
    // stop PID NAME SIGNAL: signal it if it is still that program; after 10 s, SIGKILL.
    String script = "alive() { grep -q \"$2\" /proc/$1/cmdline 2>/dev/null; }; "
      + "stop() { [ -n \"$1\" ] || return 0; alive $1 $2 || return 0; kill -$3 $1; i=0; "
      + "while [ $i -lt 10 ] && alive $1 $2; do sleep 1; i=$((i+1)); done; alive $1 $2 && kill -9 $1; return 0; }; "
      + "pg=; redis=; "
      + "while read -r name pid; do case $name in postgres) pg=$pid;; redis-server) redis=$pid;; esac; done; "
      + "stop \"$pg\" postgres INT; stop \"$redis\" redis-server TERM; exit 0";
    watchdog = new ProcessBuilder("sh", "-c", script)
      .redirectOutput(ProcessBuilder.Redirect.DISCARD)
      .redirectError(ProcessBuilder.Redirect.DISCARD)
      .start();
    for (Supervised server : List.of(postgres, redis)) {
      if (server.wanted) {
        tellWatchdog(server);
      }
    }
  }

  /** Stops both servers cleanly (PostgreSQL fast shutdown, Redis with its final fsync); neither is healed after. */
  @Override
  public synchronized void close() {
    if (!lock.isValid()) {
      return;
    }
    closed = true;
    postgres.wanted = false;
    redis.wanted = false;
    if (redisServer != null) {
      try {
        redisServer.stop();
      } catch (IOException | RuntimeException e) {
        log.warn("embedded Redis did not stop cleanly: {}", e.toString());
      }
      redisServer = null;
    }
    if (postgresServer != null) {
      try {
        postgresServer.close();
      } catch (IOException | RuntimeException e) {
        log.warn("embedded PostgreSQL did not stop cleanly: {}", e.toString());
      }
      postgresServer = null;
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

  /** First start (or a deliberate restart) of one server: it is supervised from now on. */
  private void start(Supervised server, int port) throws IOException {
    if (closed) {
      throw new IllegalStateException("embedded servers of " + dataDir + " are closed");
    }
    server.launcher.launch(port);
    server.port = port;
    server.wanted = true;
    server.gaveUp = false;
    server.attempts = 0;
    server.downSince = 0;
    server.upSince = System.nanoTime();
    server.pid = ServerProcesses.readPidQuietly(server.pidFile);
    tellWatchdog(server);
    if (supervisor == null) {
      supervisor = new Thread(this::supervise, "pulse-embedded-supervisor");
      supervisor.setDaemon(true);
      supervisor.start();
    }
  }

  private void launchPostgres(int port) throws IOException {
    Path pgData = dataDir.resolve("postgres");
    Path pidFile = pgData.resolve("postmaster.pid");
    ServerProcesses.stopOrphan(pidFile, "postgres");
    requireFree(port);
    removeStaleSocketLock(port);
    // zonky locks epg-lock in the data directory for as long as its EmbeddedPostgres object lives,
    // also when its server died or never came up, and a JVM may not lock one file twice. The
    // directory is ours already (pulse.lock): each start locks a new file of that name instead.
    Files.deleteIfExists(pgData.resolve("epg-lock"));
    postgresServer = EmbeddedPostgres.builder()
      .setDataDirectory(pgData)
      .setCleanDataDirectory(false)
      .setRegisterShutdownHook(false)
      .setPort(port)
      .setServerConfig("listen_addresses", "127.0.0.1")
      .setServerConfig("unix_socket_directories", SOCKET_DIR.toString())
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
  }

  private void launchRedis(int port) throws IOException {
    Path redisData = dataDir.resolve("redis");
    Files.createDirectories(redisData);
    Path pidFile = redisData.resolve("redis.pid");
    ServerProcesses.stopOrphan(pidFile, "redis-server");
    requireFree(port);
    if (redisServer != null) {
      // Dead or stopped already: this only lets the library forget its process.
      redisServer.stop();
      redisServer = null;
    }
    RedisServer server = RedisServer.newRedisServer()
      .bind("127.0.0.1")
      .port(port)
      .setting("dir " + redisData)
      .setting("pidfile " + pidFile)
      .setting("appendonly yes")
      .setting("appendfsync everysec")
      .setting("save 60 1000")
      .setting("protected-mode yes")
      .build();
    server.start();
    redisServer = server;
  }

  /** The supervisor's loop: a daemon thread, polling each wanted server's pid. */
  private void supervise() {
    while (true) {
      synchronized (this) {
        if (closed) {
          return;
        }
      }
      check(postgres);
      check(redis);
      try {
        Thread.sleep(POLL_MS);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /**
   * One look at one server: notices its death (WARN, once), restarts it when its backoff is
   * over (INFO when it is back), gives up after {@link #MAX_RESTARTS} in a row (ERROR). Holds
   * the lock while restarting, so a deliberate stop waits for the attempt instead of racing it.
   */
  private synchronized void check(Supervised server) {
    if (closed || !server.wanted || server.gaveUp || EXITING.get()) {
      return;
    }
    long now = System.nanoTime();
    if (server.downSince == 0) {
      if (server.pid <= 0) {
        server.pid = ServerProcesses.readPidQuietly(server.pidFile);
        return;
      }
      if (ServerProcesses.running(server.pid)) {
        return;
      }
      server.downSince = now;
      if (now - server.upSince >= TimeUnit.MILLISECONDS.toNanos(STABLE_MS)) {
        server.attempts = 0;
      }
      log.warn("embedded {} (pid {}) on port {} died; restarting it on the same data and port", server.name, server.pid, server.port);
      scheduleRestart(server, now);
      return;
    }
    if (now < server.nextAttempt) {
      return;
    }
    server.attempts++;
    try {
      server.launcher.launch(server.port);
    } catch (IOException | RuntimeException e) {
      log.info("embedded {} did not start again (attempt {} of {}): {}", server.name, server.attempts, MAX_RESTARTS, e.toString());
      scheduleRestart(server, System.nanoTime());
      return;
    }
    long back = System.nanoTime();
    server.pid = ServerProcesses.readPidQuietly(server.pidFile);
    server.upSince = back;
    restarts.incrementAndGet();
    log.info("embedded {} is back on port {} (pid {}) after {} ms down, restart {} in a row", server.name, server.port,
      server.pid, TimeUnit.NANOSECONDS.toMillis(back - server.downSince), server.attempts);
    server.downSince = 0;
    tellWatchdog(server);
  }

  private void scheduleRestart(Supervised server, long now) {
    if (server.attempts >= MAX_RESTARTS) {
      server.gaveUp = true;
      log.error("embedded {} on port {} stays down: gave up after {} restart attempts in a row; "
          + "find the cause (its data is in {}), then restart the node", server.name, server.port, server.attempts,
        server.pidFile.getParent());
      return;
    }
    long delayMs = Math.min(FIRST_DELAY_MS << server.attempts, MAX_DELAY_MS);
    server.nextAttempt = now + TimeUnit.MILLISECONDS.toNanos(delayMs);
  }

  /** Hands a server's pid to the watchdog; a watchdog that is gone is said once. */
  private void tellWatchdog(Supervised server) {
    if (watchdog == null || server.pid <= 0) {
      return;
    }
    try {
      OutputStream pipe = watchdog.getOutputStream();
      pipe.write((server.command + " " + server.pid + "\n").getBytes(StandardCharsets.UTF_8));
      pipe.flush();
    } catch (IOException e) {
      log.warn("the watchdog process is gone: if this JVM is killed, embedded {} (pid {}) will be left running until the next start",
        server.name, server.pid);
      watchdog = null;
    }
  }

  /**
   * A killed postmaster leaves the lock file of its Unix socket behind. PostgreSQL takes it over
   * when the pid it names is gone, but not while that pid is a zombie nobody has reaped yet (init
   * may take seconds; in a container whose first process is this JVM, forever): a lock naming a
   * process that is not running is removed here.
   */
  private static void removeStaleSocketLock(int port) throws IOException {
    Path lockFile = SOCKET_DIR.resolve(".s.PGSQL." + port + ".lock");
    if (!Files.exists(lockFile)) {
      return;
    }
    long pid = ServerProcesses.readPidQuietly(lockFile);
    if (pid > 0 && !ServerProcesses.running(pid)) {
      Files.deleteIfExists(lockFile);
    }
  }

  private static void requireFree(int port) throws IOException {
    if (!portFree(port)) {
      throw new IOException("port " + port + " on 127.0.0.1 is in use by another program");
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** Starts one server, blocking until it serves. */
  @FunctionalInterface
  private interface Launcher {
    void launch(int port) throws IOException;
  }

  /** One server under supervision: what it is, where it writes its pid, and how its healing goes. */
  private static final class Supervised {
    final String name;
    /** The program's name, as on its command line (checked before any kill). */
    final String command;
    final Path pidFile;
    final Launcher launcher;
    int port;
    /** Started on purpose and not stopped on purpose: a death is healed. Guarded by the outer lock, like the rest. */
    volatile boolean wanted;
    long pid = -1;
    long upSince;
    /** When the death was seen (System.nanoTime); 0 while the server is up. */
    long downSince;
    long nextAttempt;
    /** Restarts in a row; a minute of uptime before a death starts the count afresh. */
    int attempts;
    boolean gaveUp;

    Supervised(String name, String command, Path pidFile, Launcher launcher) {
      this.name = name;
      this.command = command;
      this.pidFile = pidFile;
      this.launcher = launcher;
    }
  }
}
