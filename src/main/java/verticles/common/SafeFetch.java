package verticles.common;

import io.netty.channel.ConnectTimeoutException;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;

import java.net.InetAddress;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeoutException;

/**
 * Pulse's one way to call a URL someone gave it (webhooks, image downloads). Each hop's host is
 * resolved on a worker thread, the address checked by {@link OutboundPolicy} and then connected
 * to as such (the name still goes in Host, SNI and certificate checks), so a second lookup cannot
 * rebind it. A fetch has a connect timeout, a read timeout (the longest silence), and a deadline
 * over all its hops; it follows at most {@link Limits#maxRedirects} redirects, each checked like
 * the first URL; it never holds more than {@link Limits#maxBytes} of a body.
 *
 * <p>It fails with a {@link Failure}: FORBIDDEN when the policy refuses an address, VALIDATION for
 * a URL that is not http(s) with a host, a body over the cap, or one redirect too many; UNAVAILABLE
 * (try again later) when the host cannot be resolved, connected to or read from in time. Any
 * answer that arrives is returned, whatever its status: what a 404 or a 503 means is the caller's
 * business.
 */
public final class SafeFetch {

  /**
   * How far a fetch may go. {@code maxRedirects}: 0 returns a 3xx as the answer; otherwise that
   * many are followed and one more fails. {@code maxBytes}: the body's cap; past it the fetch
   * fails, or with {@code truncate} the body is cut there and the answer says so. Timeouts in ms:
   * connecting, and the longest silence while waiting for or reading an answer (both at most
   * the fetch's deadline).
   */
  public record Limits(int maxRedirects, long maxBytes, boolean truncate, long connectTimeoutMs, long readTimeoutMs) {
  }

  /** The last hop's answer: its status, headers, body (at most maxBytes), URL, and whether the body was cut. */
  public record Response(int status, MultiMap headers, Buffer body, String finalUrl, boolean truncated) {
  }

  private static final Set<Integer> REDIRECTS = Set.of(301, 302, 303, 307, 308);
  /** Connections kept open to one host by one client (one per verticle instance). */
  static final int CONNECTIONS_PER_HOST = 64;
  /** Not carried to another origin by a redirect. */
  private static final List<String> CREDENTIALS = List.of("Authorization", "Proxy-Authorization", "Cookie");

  private final Vertx vertx;
  private final OutboundPolicy policy;
  private final Limits limits;
  private final HttpClient client;

  /** Makes its own HTTP client; created in a verticle, it is closed when that verticle is undeployed. */
  public SafeFetch(Vertx vertx, OutboundPolicy policy, Limits limits) {
    this.vertx = vertx;
    this.policy = policy;
    this.limits = limits;
    // SNI carries the name we connect for (not the IP we connect to). Bodies are never asked for
    // compressed, so the byte cap counts what is actually held. Many images come from one host (a
    // CDN): the library's default of 5 connections per host made every fetch past the fifth wait.
    this.client = vertx.createHttpClient(new HttpClientOptions()
      .setForceSni(true)
      .setDecompressionSupported(false)
      .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, limits.connectTimeoutMs())),
      new PoolOptions().setHttp1MaxSize(CONNECTIONS_PER_HOST));
  }

  public Future<Response> get(String url, long deadlineMs) {
    return fetch(HttpMethod.GET, url, MultiMap.caseInsensitiveMultiMap(), null, deadlineMs);
  }

  /** Sends {@code method url} with these headers and body (null: none); the whole fetch ends within {@code deadlineMs}. */
  public Future<Response> fetch(HttpMethod method, String url, MultiMap headers, Buffer body, long deadlineMs) {
    URI uri;
    try {
      uri = checked(URI.create(Objects.requireNonNullElse(url, "")));
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(Failure.invalid("url", "not a URL"));
    } catch (ServiceFailure e) {
      return Future.failedFuture(e);
    }
    MultiMap own = MultiMap.caseInsensitiveMultiMap();
    if (headers != null) {
      own.addAll(headers);
    }
    return new Fetch(own, deadlineMs).start(method, uri, body);
  }

  /** The request target: the path ("/" when there is none) and the query, both as the URL gave them. */
  public static String target(URI uri) {
    String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    return uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
  }

  /** {@code uri} if it is an absolute http(s) URL with a host. */
  private static URI checked(URI uri) {
    String scheme = scheme(uri);
    if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
      throw Failure.invalid("url", "only http and https URLs with a host");
    }
    return uri;
  }

  private static String scheme(URI uri) {
    return uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
  }

  private static int port(URI uri) {
    return uri.getPort() > 0 ? uri.getPort() : scheme(uri).equals("https") ? 443 : 80;
  }

  private static boolean sameOrigin(URI a, URI b) {
    return scheme(a).equals(scheme(b)) && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
  }

  /** One fetch across its hops; every callback runs on the caller's context. */
  private final class Fetch {

    private final Promise<Response> result = Promise.promise();
    private final long deadlineMs;
    private final long connectTimeoutMs;
    private final long readTimeoutMs;
    private MultiMap headers;
    private long timer;
    /** The hop in flight, reset when the fetch ends early (deadline, cap, redirect). */
    private HttpClientRequest current;
    private int redirects;

    Fetch(MultiMap headers, long deadlineMs) {
      this.headers = headers;
      this.deadlineMs = Math.max(1, deadlineMs);
      this.connectTimeoutMs = Math.min(limits.connectTimeoutMs(), this.deadlineMs);
      this.readTimeoutMs = Math.min(limits.readTimeoutMs(), this.deadlineMs);
    }

    Future<Response> start(HttpMethod method, URI uri, Buffer body) {
      timer = vertx.setTimer(deadlineMs, id -> fail(Failure.UNAVAILABLE.exception(
        "no complete answer from " + uri.getHost() + " within " + deadlineMs + " ms")));
      hop(method, uri, body);
      return result.future();
    }

    private boolean over() {
      return result.future().isComplete();
    }

    private void hop(HttpMethod method, URI uri, Buffer body) {
      String host = uri.getHost();
      int port = port(uri);
      String authority = host + ":" + port;
      // Unordered: one slow lookup must not hold up the fetches behind it.
      vertx.executeBlocking(() -> InetAddress.getByName(host), false).onComplete(resolved -> {
        if (over()) {
          return;
        }
        if (resolved.failed()) {
          fail(Failure.UNAVAILABLE.exception("cannot resolve " + host));
          return;
        }
        InetAddress address = resolved.result();
        String refusal = policy.refusal(host, address);
        if (refusal != null) {
          fail(Failure.FORBIDDEN.exception("refused: " + refusal));
          return;
        }
        RequestOptions options = new RequestOptions()
          .setMethod(method)
          .setServer(SocketAddress.inetSocketAddress(port, address.getHostAddress()))
          .setHost(host).setPort(port).setSsl(scheme(uri).equals("https"))
          .setURI(target(uri))
          .setHeaders(headers)
          .setFollowRedirects(false)
          .setConnectTimeout(connectTimeoutMs)
          .setIdleTimeout(readTimeoutMs);
        client.request(options).onComplete(connected -> {
          if (connected.failed()) {
            fail(unreachable("cannot connect to " + authority, connected.cause(), connectTimeoutMs));
            return;
          }
          HttpClientRequest request = connected.result();
          if (over()) {
            request.reset();
            return;
          }
          current = request;
          (body == null ? request.send() : request.send(body))
            .onSuccess(response -> answer(method, uri, body, response))
            .onFailure(error -> fail(unreachable(authority + " did not answer", error, readTimeoutMs)));
        });
      });
    }

    private void answer(HttpMethod method, URI uri, Buffer body, HttpClientResponse response) {
      if (over()) {
        response.exceptionHandler(ignored -> { });
        response.request().reset();
        return;
      }
      int status = response.statusCode();
      String location = response.getHeader(HttpHeaders.LOCATION);
      if (limits.maxRedirects() > 0 && REDIRECTS.contains(status) && location != null) {
        // The redirect's own body is not wanted: the stream is reset (and its reset error expected).
        response.exceptionHandler(ignored -> { });
        response.request().reset();
        current = null;
        if (redirects == limits.maxRedirects()) {
          fail(Failure.VALIDATION.exception("more than " + limits.maxRedirects() + " redirects (the last one from " + uri.getHost() + ")"));
          return;
        }
        redirects++;
        URI next;
        try {
          // An empty base path would glue a relative location to the host: resolve against "/".
          URI base = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? uri.resolve("/") : uri;
          next = checked(base.resolve(URI.create(location)));
        } catch (IllegalArgumentException | ServiceFailure e) {
          fail(Failure.VALIDATION.exception(uri.getHost() + " redirected to something that is not an http(s) URL"));
          return;
        }
        if (!sameOrigin(uri, next)) {
          MultiMap kept = MultiMap.caseInsensitiveMultiMap().addAll(headers);
          CREDENTIALS.forEach(kept::remove);
          headers = kept;
        }
        // As browsers do: after 301, 302 or 303 a request with a body goes on as a GET without it.
        boolean keep = status == 307 || status == 308 || method == HttpMethod.GET || method == HttpMethod.HEAD;
        hop(keep ? method : HttpMethod.GET, next, keep ? body : null);
        return;
      }
      read(method, uri, response);
    }

    private void read(HttpMethod method, URI uri, HttpClientResponse response) {
      // Handlers first: ending the fetch early resets the stream, which the response reports.
      response.exceptionHandler(error -> fail(unreachable(uri.getHost() + " stopped sending", error, readTimeoutMs)));
      long declared = method == HttpMethod.HEAD ? -1 : contentLength(response);
      if (!limits.truncate() && declared > limits.maxBytes()) {
        fail(Failure.VALIDATION.exception(uri.getHost() + " sends " + declared + " bytes, more than the "
          + limits.maxBytes() + " allowed"));
        return;
      }
      Buffer received = Buffer.buffer((int) Math.min(limits.maxBytes(), declared > 0 ? declared : 16 * 1024));
      response.handler(chunk -> {
        if (over()) {
          return;
        }
        long room = limits.maxBytes() - received.length();
        if (chunk.length() <= room) {
          received.appendBuffer(chunk);
        } else if (limits.truncate()) {
          received.appendBuffer(chunk, 0, (int) room);
          complete(new Response(response.statusCode(), response.headers(), received, uri.toString(), true));
          response.request().reset();
        } else {
          fail(Failure.VALIDATION.exception(uri.getHost() + " sends more than the " + limits.maxBytes() + " bytes allowed"));
        }
      });
      response.endHandler(ended -> complete(new Response(response.statusCode(), response.headers(), received, uri.toString(), false)));
    }

    private void complete(Response response) {
      if (result.tryComplete(response)) {
        vertx.cancelTimer(timer);
      }
    }

    private void fail(Throwable error) {
      if (result.tryFail(error)) {
        vertx.cancelTimer(timer);
        if (current != null) {
          current.reset();  // stop reading, give the connection up
        }
      }
    }
  }

  /** -1 when the answer declares no (readable) length. */
  private static long contentLength(HttpClientResponse response) {
    String length = response.getHeader(HttpHeaders.CONTENT_LENGTH);
    try {
      return length == null ? -1 : Long.parseLong(length.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /**
   * A connection that failed or went silent: worth trying again later. Vert.x's own timeout
   * message names the request target, which may carry a token, so it is not passed on.
   */
  private static ServiceFailure unreachable(String what, Throwable error, long timeoutMs) {
    boolean timedOut = error instanceof TimeoutException || error instanceof ConnectTimeoutException;
    return Failure.UNAVAILABLE.exception(what + ": " + (timedOut ? "nothing within " + timeoutMs + " ms" : String.valueOf(error.getMessage())));
  }
}
