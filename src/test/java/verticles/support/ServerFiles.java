package verticles.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** What an embedded node leaves in its DATA_DIR: the pids of its servers; and a bare Redis call. */
public final class ServerFiles {

  private ServerFiles() {
  }

  public static Optional<ProcessHandle> postgres(Path dataDir) throws IOException {
    return pidIn(dataDir.resolve("postgres/postmaster.pid"));
  }

  public static Optional<ProcessHandle> redis(Path dataDir) throws IOException {
    return pidIn(dataDir.resolve("redis/redis.pid"));
  }

  private static Optional<ProcessHandle> pidIn(Path file) throws IOException {
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    long pid = Long.parseLong(Files.readAllLines(file).get(0).trim());
    return ProcessHandle.of(pid);
  }

  /** Sends one command in RESP and returns the raw first reply line (enough for SET, GET of short values, PING). */
  public static String redisCommand(int port, String... args) throws IOException {
    StringBuilder command = new StringBuilder("*").append(args.length).append("\r\n");
    for (String arg : args) {
      command.append('$').append(arg.getBytes(StandardCharsets.UTF_8).length).append("\r\n").append(arg).append("\r\n");
    }
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.setSoTimeout(5000);
      OutputStream out = socket.getOutputStream();
      out.write(command.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = socket.getInputStream();
      StringBuilder reply = new StringBuilder();
      int lines = 0;
      int c;
      while ((c = in.read()) != -1) {
        reply.append((char) c);
        if (c == '\n' && (++lines == 2 || reply.charAt(0) != '$' || reply.toString().startsWith("$-1"))) {
          break;
        }
      }
      return reply.toString().trim();
    }
  }
}
