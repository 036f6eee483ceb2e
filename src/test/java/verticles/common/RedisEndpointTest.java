package verticles.common;

import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.RedisRole;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** REDIS_URL may name one server or the Sentinels of a replicated set. */
class RedisEndpointTest {

  @Test
  void aSentinelUrlNamesEverySentinelTheMasterSetTheDatabaseAndThePassword() {
    RedisOptions options = RedisEndpoint.options("redis-sentinel://:s3cret@10.0.0.1:26379,sentinel-b,[::1]:26380/orders/2");
    assertEquals(RedisClientType.SENTINEL, options.getType());
    assertEquals(RedisRole.MASTER, options.getRole());
    assertEquals("orders", options.getMasterName());
    assertEquals(List.of("redis://:s3cret@10.0.0.1:26379/2", "redis://:s3cret@sentinel-b:26379/2", "redis://:s3cret@[::1]:26380/2"),
      options.getEndpoints());
    assertEquals(List.of("rediss://h:1"), RedisEndpoint.options("rediss-sentinel://h:1/m").getEndpoints());
  }

  @Test
  void aPlainUrlIsOneServer() {
    RedisOptions options = RedisEndpoint.options("redis://:pw@cache:6380/1");
    assertEquals(RedisClientType.STANDALONE, options.getType());
    assertEquals("redis://:pw@cache:6380/1", options.getEndpoint());
  }

  @ParameterizedTest
  @ValueSource(strings = {"redis-sentinel://h1:26379", "redis-sentinel:///m", "redis-sentinel://h1:26379/", "redis-sentinel://h1:99999/m",
    "redis-sentinel://h1:26379/m/x", "redis-sentinel://h 1/m", "redis-sentinel://h1/m/1/2"})
  void aSentinelUrlItCannotReadStopsTheStartNamingTheKeyButNotThePassword(String url) {
    String withPassword = url.replace("://", "://:hunter2-secret@");
    Config.ConfigException refused = assertThrows(Config.ConfigException.class,
      () -> Config.load(Map.of("REDIS_URL", withPassword), Path.of("no-such.env")));
    assertTrue(refused.getMessage().startsWith("REDIS_URL (from the environment)"), refused.getMessage());
    assertTrue(refused.getMessage().contains("redis-sentinel://[:password@]host:port"), refused.getMessage());
    assertFalse(refused.getMessage().contains("hunter2"), "the password is never echoed: " + refused.getMessage());
  }

  @Test
  void theConfigurationAcceptsSentinels() {
    Config config = Config.load(Map.of("REDIS_URL", "redis-sentinel://127.0.0.1:26379,127.0.0.1:26380/pulse"), Path.of("no-such.env"));
    assertFalse(config.embeddedRedis());
  }
}
