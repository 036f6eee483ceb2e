package verticles;

import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Who may speak on the clustered event bus. The caller's identity crosses the bus as delivery
 * headers, so whoever can open a bus connection can act as any user: every bus connection is
 * mutual TLS, both ends showing a certificate signed by the cluster's CA (CLUSTER_TLS_CA_FILE).
 * A cluster without it does not start, unless CLUSTER_ALLOW_PLAINTEXT says so (and the node warns).
 *
 * <p>Hazelcast's open edition has no TLS and no member authentication: it checks only the
 * cluster name (CLUSTER_NAME) and, here, binds to CLUSTER_HOST alone. A stranger that joins
 * Hazelcast that way learns which addresses exist, but cannot send or receive a single bus
 * message: it has no certificate for the bus connections.
 */
final class BusSecurity {

  private static final Logger log = LoggerFactory.getLogger(BusSecurity.class);
  private static final List<String> FILES = List.of(Config.CLUSTER_TLS_CERT_FILE, Config.CLUSTER_TLS_KEY_FILE, Config.CLUSTER_TLS_CA_FILE);

  private BusSecurity() {
  }

  /** Refuses (a configuration error) a cluster without its certificates, unless plaintext is explicitly allowed. */
  static void check(Config config) {
    if (!config.flag(Config.CLUSTER)) {
      return;
    }
    boolean any = FILES.stream().anyMatch(key -> !config.string(key).isEmpty());
    if (!any && config.flag(Config.CLUSTER_ALLOW_PLAINTEXT)) {
      return;
    }
    for (String key : FILES) {
      String path = config.string(key);
      if (path.isEmpty() || !Files.isReadable(Path.of(path))) {
        throw config.refuse(key, "a readable PEM file: a clustered bus is mutual TLS (scripts/dev-ca.sh makes a development CA), "
          + "or set CLUSTER_ALLOW_PLAINTEXT=true to run a cluster anyone on its network can join");
      }
    }
  }

  /** The bus's TLS settings, or a warning that there are none. */
  static void apply(Config config, EventBusOptions bus) {
    if (config.string(Config.CLUSTER_TLS_CERT_FILE).isEmpty()) {
      log.warn("the clustered event bus is PLAINTEXT (CLUSTER_ALLOW_PLAINTEXT=true): anyone who reaches {} can join it and act as any user. "
        + "Use it only on a private test network; set CLUSTER_TLS_CERT_FILE, CLUSTER_TLS_KEY_FILE and CLUSTER_TLS_CA_FILE otherwise",
        config.string(Config.CLUSTER_HOST));
      return;
    }
    bus.setSsl(true)
      .setKeyCertOptions(new PemKeyCertOptions()
        .setCertPath(config.string(Config.CLUSTER_TLS_CERT_FILE))
        .setKeyPath(config.string(Config.CLUSTER_TLS_KEY_FILE)))
      .setTrustOptions(new PemTrustOptions().addCertPath(config.string(Config.CLUSTER_TLS_CA_FILE)))
      .setClientAuth(ClientAuth.REQUIRED);
    log.info("the clustered event bus is mutual TLS: members need a certificate signed by {}", config.string(Config.CLUSTER_TLS_CA_FILE));
  }
}
