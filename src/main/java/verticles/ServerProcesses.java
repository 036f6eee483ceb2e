package verticles;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** The embedded servers' processes as the system sees them: the pid a file names, whether it runs, stopping one left behind. */
final class ServerProcesses {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedServers.class);

  private ServerProcesses() {
  }

  /**
   * Alive and not a zombie: a killed server that its parent (init, for PostgreSQL, which detaches
   * itself) has not reaped yet still answers kill -0.
   */
  static boolean running(long pid) {
    Optional<ProcessHandle> process = ProcessHandle.of(pid);
    if (process.isEmpty() || !process.get().isAlive()) {
      return false;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      int end = stat.lastIndexOf(')');
      char state = end > 0 && end + 2 < stat.length() ? stat.charAt(end + 2) : '?';
      return state != 'Z' && state != 'X';
    } catch (IOException e) {
      return process.get().isAlive();
    }
  }

  /**
   * The pid file names a process that no node owns any more (we hold the lock): stop it, then
   * remove the file so a reused pid cannot block the next start.
   */
  static void stopOrphan(Path pidFile, String commandName) throws IOException {
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

  static Optional<Long> readPid(Path pidFile) throws IOException {
    List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
    try {
      return lines.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(lines.get(0).trim()));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** The pid in the file, or -1 while there is none (yet). */
  static long readPidQuietly(Path pidFile) {
    try {
      return Files.exists(pidFile) ? readPid(pidFile).orElse(-1L) : -1L;
    } catch (IOException e) {
      return -1L;
    }
  }
}
