package verticles.common;

import io.vertx.core.Future;
import io.vertx.redis.client.RedisAPI;
import io.vertx.redis.client.Response;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A Redis Lua script run by its SHA-1 (EVALSHA), so hot paths do not send the script's text on
 * every call; when Redis does not know it (a restart, SCRIPT FLUSH) it is sent once with EVAL.
 */
public final class LuaScript {

  private final String text;
  private final String sha;

  public LuaScript(String text) {
    this.text = text;
    try {
      this.sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Runs the script with {@code keys}, then {@code args}. */
  public Future<Response> run(RedisAPI redis, List<String> keys, List<String> args) {
    return redis.evalsha(call(sha, keys, args)).recover(error -> error.getMessage() != null && error.getMessage().startsWith("NOSCRIPT")
      ? redis.eval(call(text, keys, args))
      : Future.failedFuture(error));
  }

  private static List<String> call(String script, List<String> keys, List<String> args) {
    List<String> call = new ArrayList<>(2 + keys.size() + args.size());
    call.add(script);
    call.add(String.valueOf(keys.size()));
    call.addAll(keys);
    call.addAll(args);
    return call;
  }
}
