package verticles.common;

import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The node's settings, read once at start-up: {@code conf/config.json} holds every key and its
 * default, a {@code .env} file overrides it, the environment overrides both. Every value is
 * checked here, so the rest of the code reads typed values from {@link #json()} and never
 * parses a string again. Must not log: logging is configured from these values.
 */
public final class Config {

  public static final String HTTP_HOST = "HTTP_HOST";
  public static final String HTTP_PORT = "HTTP_PORT";
  public static final String HTTP_INSTANCES = "HTTP_INSTANCES";
  public static final String EVENT_LOOPS = "EVENT_LOOPS";
  public static final String HTTP_IDLE_TIMEOUT_MS = "HTTP_IDLE_TIMEOUT_MS";
  public static final String HTTP_READ_TIMEOUT_MS = "HTTP_READ_TIMEOUT_MS";
  public static final String HTTP_REQUEST_TIMEOUT_MS = "HTTP_REQUEST_TIMEOUT_MS";
  public static final String ROLES = "ROLES";
  public static final String LEDGER_INSTANCES = "LEDGER_INSTANCES";
  public static final String DATABASE_URL = "DATABASE_URL";
  public static final String DB_POOL_SIZE = "DB_POOL_SIZE";
  public static final String REDIS_URL = "REDIS_URL";
  public static final String REDIS_POOL_SIZE = "REDIS_POOL_SIZE";
  public static final String DATA_DIR = "DATA_DIR";
  public static final String EMBEDDED_PG_PORT = "EMBEDDED_PG_PORT";
  public static final String EMBEDDED_REDIS_PORT = "EMBEDDED_REDIS_PORT";
  public static final String CLUSTER = "CLUSTER";
  public static final String CLUSTER_HOST = "CLUSTER_HOST";
  public static final String CLUSTER_PORT = "CLUSTER_PORT";
  public static final String CLUSTER_MEMBERS = "CLUSTER_MEMBERS";
  public static final String CLUSTER_NAME = "CLUSTER_NAME";
  public static final String CLUSTER_TLS_CERT_FILE = "CLUSTER_TLS_CERT_FILE";
  public static final String CLUSTER_TLS_KEY_FILE = "CLUSTER_TLS_KEY_FILE";
  public static final String CLUSTER_TLS_CA_FILE = "CLUSTER_TLS_CA_FILE";
  public static final String CLUSTER_ALLOW_PLAINTEXT = "CLUSTER_ALLOW_PLAINTEXT";
  public static final String OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT";
  public static final String OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME";
  public static final String BUS_TIMEOUT_MS = "BUS_TIMEOUT_MS";
  public static final String HEALTH_TIMEOUT_MS = "HEALTH_TIMEOUT_MS";
  public static final String SHUTDOWN_GRACE_MS = "SHUTDOWN_GRACE_MS";
  public static final String LOG_FORMAT = "LOG_FORMAT";
  public static final String LOG_LEVEL = "LOG_LEVEL";
  public static final String BODY_LIMIT_BYTES = "BODY_LIMIT_BYTES";
  public static final String DEFAULT_CURRENCY = "DEFAULT_CURRENCY";
  public static final String TASK_LEASE_MS = "TASK_LEASE_MS";
  public static final String TASK_NODE_CONCURRENCY = "TASK_NODE_CONCURRENCY";
  public static final String TASK_RECONCILE_MS = "TASK_RECONCILE_MS";
  public static final String OUTBOUND_ALLOWLIST = "OUTBOUND_ALLOWLIST";
  public static final String IMAGE_MAX_BYTES = "IMAGE_MAX_BYTES";
  public static final String IMAGE_MAX_PIXELS = "IMAGE_MAX_PIXELS";
  public static final String IMAGE_READ_TIMEOUT_MS = "IMAGE_READ_TIMEOUT_MS";
  /** Off when empty; otherwise typed as {@code {"min": ms, "max": ms}}. */
  public static final String RETAIL_SIMULATED_PROCESSING_MS = "RETAIL_SIMULATED_PROCESSING_MS";
  public static final String CORS_ORIGINS = "CORS_ORIGINS";
  /** The origin browsers load the dashboard from; when set, the event-bus bridge accepts no other. */
  public static final String PUBLIC_ORIGIN = "PUBLIC_ORIGIN";
  public static final String RATE_LIMIT_AUTH_PER_MINUTE = "RATE_LIMIT_AUTH_PER_MINUTE";
  public static final String RATE_LIMIT_USER_PER_MINUTE = "RATE_LIMIT_USER_PER_MINUTE";
  public static final String RATE_LIMIT_RETAIL_PER_MINUTE = "RATE_LIMIT_RETAIL_PER_MINUTE";
  public static final String RATE_LIMIT_PUBLIC_PER_MINUTE = "RATE_LIMIT_PUBLIC_PER_MINUTE";
  public static final String RETAIL_REQUIRE_TOKEN = "RETAIL_REQUIRE_TOKEN";
  public static final String JWT_ALGORITHM = "JWT_ALGORITHM";
  public static final String JWT_SECRET = "JWT_SECRET";
  public static final String JWT_PRIVATE_KEY_FILE = "JWT_PRIVATE_KEY_FILE";
  public static final String JWT_PUBLIC_KEY_FILE = "JWT_PUBLIC_KEY_FILE";
  public static final String JWT_ISSUER = "JWT_ISSUER";
  public static final String JWT_AUDIENCE = "JWT_AUDIENCE";
  public static final String JWT_TTL_SECONDS = "JWT_TTL_SECONDS";
  public static final String PASSWORD_HASH_THREADS = "PASSWORD_HASH_THREADS";
  public static final String ADMIN_USERNAME = "ADMIN_USERNAME";
  public static final String ADMIN_PASSWORD = "ADMIN_PASSWORD";
  public static final String ADMIN_EMAIL = "ADMIN_EMAIL";
  /** JWT secrets shorter than this many bytes are refused (HS256 wants at least 256 bits). */
  public static final int MIN_SECRET_BYTES = 32;
  /** Set by the node itself, not read from outside: the schema version it migrated to. */
  public static final String SCHEMA_VERSION = "SCHEMA_VERSION";
  /** Set by the node itself, not read from outside: how this node names itself in health and logs. */
  public static final String NODE_NAME = "NODE_NAME";

  private enum Kind { TEXT, SECRET, PORT, POSITIVE, COUNT, BOOLEAN, PG_URL, REDIS_URL, ROLES, MEMBERS, LOG_FORMAT, LOG_LEVEL, JWT_ALGORITHM, CURRENCY, ALLOWLIST, RANGE }

  private static final Map<String, Kind> KINDS = Map.ofEntries(
    Map.entry(HTTP_HOST, Kind.TEXT),
    Map.entry(HTTP_PORT, Kind.PORT),
    Map.entry(HTTP_INSTANCES, Kind.COUNT),
    Map.entry(EVENT_LOOPS, Kind.COUNT),
    Map.entry(HTTP_IDLE_TIMEOUT_MS, Kind.POSITIVE),
    Map.entry(HTTP_READ_TIMEOUT_MS, Kind.POSITIVE),
    Map.entry(HTTP_REQUEST_TIMEOUT_MS, Kind.POSITIVE),
    Map.entry(ROLES, Kind.ROLES),
    Map.entry(LEDGER_INSTANCES, Kind.POSITIVE),
    Map.entry(DATABASE_URL, Kind.PG_URL),
    Map.entry(DB_POOL_SIZE, Kind.POSITIVE),
    Map.entry(REDIS_URL, Kind.REDIS_URL),
    Map.entry(REDIS_POOL_SIZE, Kind.POSITIVE),
    Map.entry(DATA_DIR, Kind.TEXT),
    Map.entry(EMBEDDED_PG_PORT, Kind.PORT),
    Map.entry(EMBEDDED_REDIS_PORT, Kind.PORT),
    Map.entry(CLUSTER, Kind.BOOLEAN),
    Map.entry(CLUSTER_HOST, Kind.TEXT),
    Map.entry(CLUSTER_PORT, Kind.PORT),
    Map.entry(CLUSTER_MEMBERS, Kind.MEMBERS),
    Map.entry(CLUSTER_NAME, Kind.TEXT),
    Map.entry(CLUSTER_TLS_CERT_FILE, Kind.TEXT),
    Map.entry(CLUSTER_TLS_KEY_FILE, Kind.TEXT),
    Map.entry(CLUSTER_TLS_CA_FILE, Kind.TEXT),
    Map.entry(CLUSTER_ALLOW_PLAINTEXT, Kind.BOOLEAN),
    Map.entry(OTEL_EXPORTER_OTLP_ENDPOINT, Kind.TEXT),
    Map.entry(OTEL_SERVICE_NAME, Kind.TEXT),
    Map.entry(BUS_TIMEOUT_MS, Kind.POSITIVE),
    Map.entry(HEALTH_TIMEOUT_MS, Kind.POSITIVE),
    Map.entry(SHUTDOWN_GRACE_MS, Kind.POSITIVE),
    Map.entry(LOG_FORMAT, Kind.LOG_FORMAT),
    Map.entry(LOG_LEVEL, Kind.LOG_LEVEL),
    Map.entry(BODY_LIMIT_BYTES, Kind.POSITIVE),
    Map.entry(DEFAULT_CURRENCY, Kind.CURRENCY),
    Map.entry(TASK_LEASE_MS, Kind.POSITIVE),
    Map.entry(TASK_NODE_CONCURRENCY, Kind.POSITIVE),
    Map.entry(TASK_RECONCILE_MS, Kind.POSITIVE),
    Map.entry(OUTBOUND_ALLOWLIST, Kind.ALLOWLIST),
    Map.entry(IMAGE_MAX_BYTES, Kind.POSITIVE),
    Map.entry(IMAGE_MAX_PIXELS, Kind.POSITIVE),
    Map.entry(IMAGE_READ_TIMEOUT_MS, Kind.POSITIVE),
    Map.entry(RETAIL_SIMULATED_PROCESSING_MS, Kind.RANGE),
    Map.entry(CORS_ORIGINS, Kind.TEXT),
    Map.entry(PUBLIC_ORIGIN, Kind.TEXT),
    Map.entry(RATE_LIMIT_AUTH_PER_MINUTE, Kind.POSITIVE),
    Map.entry(RATE_LIMIT_USER_PER_MINUTE, Kind.POSITIVE),
    Map.entry(RATE_LIMIT_RETAIL_PER_MINUTE, Kind.POSITIVE),
    Map.entry(RATE_LIMIT_PUBLIC_PER_MINUTE, Kind.POSITIVE),
    Map.entry(RETAIL_REQUIRE_TOKEN, Kind.BOOLEAN),
    Map.entry(JWT_ALGORITHM, Kind.JWT_ALGORITHM),
    Map.entry(JWT_SECRET, Kind.SECRET),
    Map.entry(JWT_PRIVATE_KEY_FILE, Kind.TEXT),
    Map.entry(JWT_PUBLIC_KEY_FILE, Kind.TEXT),
    Map.entry(JWT_ISSUER, Kind.TEXT),
    Map.entry(JWT_AUDIENCE, Kind.TEXT),
    Map.entry(JWT_TTL_SECONDS, Kind.POSITIVE),
    Map.entry(PASSWORD_HASH_THREADS, Kind.COUNT),
    Map.entry(ADMIN_USERNAME, Kind.TEXT),
    Map.entry(ADMIN_PASSWORD, Kind.SECRET),
    Map.entry(ADMIN_EMAIL, Kind.TEXT));

  private static final String DEFAULTS = "conf/config.json";

  private final JsonObject values;
  /** Where each key's value came from: conf/config.json, .env or the environment. */
  private final Map<String, String> sources;

  private Config(JsonObject values, Map<String, String> sources) {
    this.values = values;
    this.sources = sources;
  }

  /** Defaults from the packaged conf/config.json, then {@code dotEnv} if it exists, then {@code env}. */
  public static Config load(Map<String, String> env, Path dotEnv) {
    return from(packagedDefaults(), DotEnv.read(dotEnv), env);
  }

  /** Applies the overrides in order (later wins) and validates every key. */
  public static Config from(JsonObject defaults, Map<String, String> dotEnv, Map<String, String> env) {
    JsonObject values = new JsonObject();
    Map<String, String> sources = new LinkedHashMap<>();
    for (String key : defaults.fieldNames()) {
      Kind kind = KINDS.get(key);
      if (kind == null) {
        throw new ConfigException(key + " in conf/config.json is not a setting Pulse knows");
      }
      String source = DEFAULTS;
      String raw = String.valueOf(defaults.getValue(key));
      if (dotEnv.containsKey(key)) {
        source = ".env";
        raw = dotEnv.get(key);
      }
      if (env.containsKey(key)) {
        source = "the environment";
        raw = env.get(key);
      }
      values.put(key, parse(key, kind, kind == Kind.SECRET ? raw : raw.trim(), source));
      sources.put(key, source);
    }
    checkJwt(values);
    return new Config(values, Map.copyOf(sources));
  }

  /**
   * A token key is never defaulted: HS256 needs JWT_SECRET of 32+ bytes, except in zero-setup
   * mode (no DATABASE_URL), where the node makes a development secret and says so;
   * RS256/ES256 need the PEM files.
   */
  private static void checkJwt(JsonObject values) {
    String secret = values.getString(JWT_SECRET, "");
    if ("HS256".equals(values.getString(JWT_ALGORITHM))) {
      if (!secret.isEmpty() && secret.getBytes(StandardCharsets.UTF_8).length < MIN_SECRET_BYTES) {
        throw new ConfigException(JWT_SECRET + " is " + secret.getBytes(StandardCharsets.UTF_8).length
          + " bytes, expected at least " + MIN_SECRET_BYTES);
      }
      if (secret.isEmpty() && !values.getString(DATABASE_URL, "").isEmpty()) {
        throw new ConfigException(JWT_SECRET + " is not set, expected a secret of at least " + MIN_SECRET_BYTES
          + " bytes (only zero-setup mode, without DATABASE_URL, makes one up)");
      }
    } else {
      for (String file : List.of(JWT_PUBLIC_KEY_FILE, JWT_PRIVATE_KEY_FILE)) {
        String path = values.getString(file, "");
        if (path.isEmpty() || !Files.isReadable(Path.of(path))) {
          throw new ConfigException(file + " is '" + path + "', expected a readable PEM file for "
            + values.getString(JWT_ALGORITHM));
        }
      }
    }
  }

  public JsonObject json() {
    return values.copy();
  }

  public String string(String key) {
    return values.getString(key);
  }

  public int integer(String key) {
    return values.getInteger(key);
  }

  public boolean flag(String key) {
    return values.getBoolean(key);
  }

  public Set<Role> roles() {
    return Role.parse(values.getString(ROLES));
  }

  /** True when the node must start its own PostgreSQL (no DATABASE_URL). */
  public boolean embeddedPostgres() {
    return values.getString(DATABASE_URL).isEmpty();
  }

  /** True when the node must start its own Redis (no REDIS_URL). */
  public boolean embeddedRedis() {
    return values.getString(REDIS_URL).isEmpty();
  }

  /** True when {@code key} was set in .env or the environment, not left at its default. */
  public boolean explicit(String key) {
    return sources.containsKey(key) && !DEFAULTS.equals(sources.get(key));
  }

  /**
   * Refuses {@code key}'s value for a reason found after loading (a port in use), in the words
   * of every other refusal: the key, where it came from, the value, what was expected.
   */
  public ConfigException refuse(String key, String expected) {
    String raw = String.valueOf(values.getValue(key));
    String shown = KINDS.get(key) == Kind.SECRET ? "***" : redact(raw);
    return invalid(key, shown, sources.getOrDefault(key, DEFAULTS), expected);
  }

  /** A copy with some keys replaced by already-typed values (used for resolved server URLs). */
  public Config with(String key, Object value) {
    JsonObject copy = values.copy();
    copy.put(key, value);
    return new Config(copy, sources);
  }

  private static Object parse(String key, Kind kind, String raw, String source) {
    switch (kind) {
      case TEXT:
      case SECRET:
        return raw;
      case PORT:
        return number(key, raw, source, 1, 65535, "a port number (1-65535)");
      case POSITIVE:
        return number(key, raw, source, 1, Integer.MAX_VALUE, "a whole number above 0");
      case COUNT:
        return number(key, raw, source, 0, 1024, "a whole number from 0 to 1024");
      case BOOLEAN:
        switch (raw.toLowerCase(Locale.ROOT)) {
          case "true": case "1": case "yes": case "on": return true;
          case "false": case "0": case "no": case "off": case "": return false;
          default: throw invalid(key, raw, source, "true or false");
        }
      case PG_URL:
        return url(key, raw, source, Set.of("postgres", "postgresql"), "a postgresql://user:password@host:port/database URL");
      case REDIS_URL:
        if (RedisEndpoint.namesSentinels(raw)) {
          try {
            RedisEndpoint.options(raw);
            return raw;
          } catch (IllegalArgumentException e) {
            throw invalid(key, redact(raw), source, e.getMessage());
          }
        }
        return url(key, raw, source, Set.of("redis", "rediss"),
          "a redis://[:password@]host:port[/db] URL, or redis-sentinel://[:password@]host:port,host:port/master-name[/db]");
      case ROLES:
        try {
          Role.parse(raw);
          return raw;
        } catch (IllegalArgumentException e) {
          throw invalid(key, raw, source, e.getMessage());
        }
      case MEMBERS:
        for (String member : list(raw)) {
          int colon = member.lastIndexOf(':');
          if (colon == 0 || colon == member.length() - 1) {
            throw invalid(key, raw, source, "a comma list of host or host:port");
          }
          if (colon > 0) {
            number(key, member.substring(colon + 1), source, 1, 65535, "a comma list of host or host:port");
          }
        }
        return raw;
      case LOG_FORMAT:
        return oneOf(key, raw, source, List.of("json", "text"));
      case LOG_LEVEL:
        return oneOf(key, raw.toUpperCase(Locale.ROOT), source, List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR"));
      case CURRENCY:
        try {
          return java.util.Currency.getInstance(raw).getCurrencyCode();
        } catch (IllegalArgumentException e) {
          throw invalid(key, raw, source, "an ISO-4217 currency code such as USD");
        }
      case ALLOWLIST:
        try {
          new OutboundPolicy(raw);
          return raw;
        } catch (IllegalArgumentException e) {
          throw invalid(key, raw, source, "a comma list of host names and CIDRs such as 127.0.0.1/32");
        }
      case RANGE:
        return range(key, raw, source);
      case JWT_ALGORITHM:
        return oneOf(key, raw.toUpperCase(Locale.ROOT), source, List.of("HS256", "RS256", "ES256"));
      default:
        throw new IllegalStateException(kind.name());
    }
  }

  /** Splits a comma list, dropping blanks. */
  public static List<String> list(String raw) {
    List<String> items = new ArrayList<>();
    for (String item : raw.split(",")) {
      if (!item.isBlank()) {
        items.add(item.trim());
      }
    }
    return items;
  }

  private static int number(String key, String raw, String source, int min, int max, String expected) {
    try {
      int value = Integer.parseInt(raw);
      if (value >= min && value <= max) {
        return value;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw invalid(key, raw, source, expected);
  }

  /** Empty (off: null) or {@code min-max} milliseconds, typed as {@code {"min": .., "max": ..}}; a lone number is min = max. */
  private static JsonObject range(String key, String raw, String source) {
    if (raw.isEmpty()) {
      return null;
    }
    String expected = "empty (off) or a range of milliseconds such as 100-400";
    String[] bounds = raw.split("-", -1);
    if (bounds.length > 2) {
      throw invalid(key, raw, source, expected);
    }
    int min = number(key, bounds[0].trim(), source, 0, 3_600_000, expected);
    int max = bounds.length == 1 ? min : number(key, bounds[1].trim(), source, 0, 3_600_000, expected);
    if (min > max) {
      throw invalid(key, raw, source, expected + " (the smaller number first)");
    }
    return new JsonObject().put("min", min).put("max", max);
  }

  private static String url(String key, String raw, String source, Set<String> schemes, String expected) {
    if (raw.isEmpty()) {
      return raw;
    }
    try {
      URI uri = new URI(raw);
      if (uri.getScheme() != null && schemes.contains(uri.getScheme()) && uri.getHost() != null) {
        return raw;
      }
    } catch (URISyntaxException ignored) {
      // reported below
    }
    throw invalid(key, redact(raw), source, expected);
  }

  private static String oneOf(String key, String raw, String source, List<String> allowed) {
    String value = raw.toLowerCase(Locale.ROOT);
    for (String candidate : allowed) {
      if (candidate.equalsIgnoreCase(value)) {
        return candidate;
      }
    }
    throw invalid(key, raw, source, "one of " + String.join(", ", allowed));
  }

  /** URLs may carry a password: never echo what follows the scheme's user part. */
  private static String redact(String raw) {
    int at = raw.lastIndexOf('@');
    int scheme = raw.indexOf("://");
    return at > 0 && scheme > 0 && at > scheme ? raw.substring(0, scheme + 3) + "***" + raw.substring(at) : raw;
  }

  private static ConfigException invalid(String key, String raw, String source, String expected) {
    return new ConfigException(key + " (from " + source + ") is '" + raw + "', expected " + expected);
  }

  private static JsonObject packagedDefaults() {
    try (InputStream in = Config.class.getResourceAsStream("/conf/config.json")) {
      if (in == null) {
        throw new ConfigException("conf/config.json is missing from the classpath");
      }
      return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A setting that stops the start: its message is one line naming the key. */
  public static final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
      super(message, null, false, false);
    }
  }
}
