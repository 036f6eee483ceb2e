package verticles.http;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

/**
 * Headers every response carries: no MIME sniffing, no framing, no referrer; a strict CSP
 * (API answers load nothing; pages load only from this origin); HSTS when the request came
 * over TLS (directly or through a proxy that says so).
 */
final class EdgeHeaders implements Handler<RoutingContext> {

  private static final String API_CSP = "default-src 'none'; frame-ancestors 'none'";
  private static final String PAGE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    + "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

  @Override
  public void handle(RoutingContext rc) {
    boolean tls = rc.request().isSSL() || "https".equalsIgnoreCase(rc.request().getHeader("X-Forwarded-Proto"));
    rc.addHeadersEndHandler(ignored -> {
      HttpServerResponse response = rc.response();
      response.putHeader("X-Content-Type-Options", "nosniff");
      response.putHeader("X-Frame-Options", "DENY");
      response.putHeader("Referrer-Policy", "no-referrer");
      String type = response.headers().get("Content-Type");
      response.putHeader("Content-Security-Policy", type != null && type.startsWith("text/html") ? PAGE_CSP : API_CSP);
      if (tls) {
        response.putHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
      }
    });
    rc.next();
  }
}
