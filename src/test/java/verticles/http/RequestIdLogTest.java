package verticles.http;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.core.OutputStreamAppender;
import io.vertx.core.json.JsonObject;
import net.logstash.logback.encoder.LogstashEncoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;
import verticles.common.ServiceHealth;
import verticles.common.logging.RequestIdJsonProvider;
import verticles.support.PulseNode;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The request id of an HTTP request appears on the JSON log lines written by the verticles that
 * answered it over the bus (here: every service's readiness check), and on no other request's.
 */
class RequestIdLogTest {

  @RegisterExtension
  static final PulseNode node = PulseNode.create();

  private static int port;
  private static final ByteArrayOutputStream LOG = new ByteArrayOutputStream();
  private static OutputStreamAppender<ch.qos.logback.classic.spi.ILoggingEvent> appender;

  @BeforeAll
  static void start() {
    port = node.port();
    LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
    LogstashEncoder encoder = new LogstashEncoder();
    encoder.addProvider(new RequestIdJsonProvider());
    encoder.setContext(logback);
    encoder.start();
    appender = new OutputStreamAppender<>();
    appender.setContext(logback);
    appender.setEncoder(encoder);
    appender.setOutputStream(LOG);
    appender.start();
    ch.qos.logback.classic.Logger health = logback.getLogger(ServiceHealth.class);
    health.setLevel(Level.DEBUG);
    health.addAppender(appender);
  }

  @AfterAll
  static void stop() {
    ch.qos.logback.classic.Logger health = ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(ServiceHealth.class);
    health.detachAppender(appender);
    health.setLevel(null);
  }

  @Test
  void theRequestIdReachesTheLinesOfTheVerticlesThatAnsweredOverTheBus() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    for (String id : List.of("trace-one", "trace-two")) {
      HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready"))
        .header("X-Request-Id", id).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, response.statusCode(), response.body());
    }

    List<JsonObject> lines;
    synchronized (LOG) {
      lines = LOG.toString(StandardCharsets.UTF_8).lines().map(JsonObject::new).collect(Collectors.toList());
    }
    List<JsonObject> checks = lines.stream()
      .filter(line -> line.getString("message").startsWith("readiness check of "))
      .collect(Collectors.toList());
    assertFalse(checks.isEmpty(), "the health verticles logged their checks");
    for (String id : List.of("trace-one", "trace-two")) {
      List<String> roles = checks.stream().filter(line -> id.equals(line.getString("request_id")))
        .map(line -> line.getString("message").substring("readiness check of ".length()))
        .sorted().collect(Collectors.toList());
      assertEquals(List.of("catalog", "dispatch", "identity", "jobs", "ledger", "worker"), roles,
        "one line per service verticle carries " + id);
    }
    assertTrue(checks.stream().allMatch(line -> List.of("trace-one", "trace-two").contains(line.getString("request_id"))),
      "no line carries another request's id");
  }
}
