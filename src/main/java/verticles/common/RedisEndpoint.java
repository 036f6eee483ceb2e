package verticles.common;

import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.RedisRole;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What REDIS_URL names: one Redis server ({@code redis://}, {@code rediss://}), or the Sentinels
 * that watch a replicated set and know which of its servers is the master now
 * ({@code redis-sentinel://[:password@]host:port,host:port/master-name[/db]},
 * {@code rediss-sentinel://} for TLS). With Sentinels the client asks them for the master on
 * every new connection (their answer is cached for a second), so after a failover new connections
 * go to the new master; the password, when given, is used for the Sentinels and the master alike.
 */
public final class RedisEndpoint {

  private static final Pattern MASTER_NAME = Pattern.compile("[A-Za-z0-9._-]{1,100}");
  private static final Pattern HOST_PORT = Pattern.compile("(\\[[0-9A-Fa-f:.]+]|[A-Za-z0-9.-]+)(:\\d{1,5})?");
  private static final int SENTINEL_PORT = 26379;

  private RedisEndpoint() {
  }

  /** Whether {@code url} names Sentinels rather than one server. */
  public static boolean namesSentinels(String url) {
    return url.startsWith("redis-sentinel://") || url.startsWith("rediss-sentinel://");
  }

  /**
   * Client options for {@code url} (pool sizes are the caller's). Throws IllegalArgumentException,
   * saying what is expected, for a Sentinel URL it cannot read; the message never repeats the URL.
   */
  public static RedisOptions options(String url) {
    if (!namesSentinels(url)) {
      return new RedisOptions().setConnectionString(url);
    }
    String expected = "redis-sentinel://[:password@]host:port,host:port/master-name[/db]";
    boolean tls = url.startsWith("rediss-");
    String rest = url.substring(url.indexOf("://") + 3);
    int slash = rest.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException(expected + " (the master's name is missing)");
    }
    String authority = rest.substring(0, slash);
    String[] path = rest.substring(slash + 1).split("/", -1);
    int at = authority.lastIndexOf('@');
    String userInfo = at >= 0 ? authority.substring(0, at + 1) : "";
    String hosts = authority.substring(at + 1);
    if (path.length > 2 || !MASTER_NAME.matcher(path[0]).matches()) {
      throw new IllegalArgumentException(expected + " (a master name of letters, digits, '.', '_' or '-')");
    }
    String db = "";
    if (path.length == 2 && !path[1].isEmpty()) {
      if (!path[1].matches("\\d{1,4}")) {
        throw new IllegalArgumentException(expected + " (the database is a number)");
      }
      db = "/" + path[1];
    }
    List<String> endpoints = new ArrayList<>();
    for (String host : Config.list(hosts)) {
      if (!HOST_PORT.matcher(host).matches()) {
        throw new IllegalArgumentException(expected + " (each Sentinel as host:port)");
      }
      String withPort = host.matches(".*:\\d+$") && !host.endsWith("]") ? host : host + ":" + SENTINEL_PORT;
      int port = Integer.parseInt(withPort.substring(withPort.lastIndexOf(':') + 1));
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException(expected + " (a port from 1 to 65535)");
      }
      endpoints.add((tls ? "rediss://" : "redis://") + userInfo + withPort + db);
    }
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException(expected + " (at least one Sentinel)");
    }
    return new RedisOptions()
      .setType(RedisClientType.SENTINEL)
      .setRole(RedisRole.MASTER)
      .setMasterName(path[0])
      .setEndpoints(endpoints);
  }
}
