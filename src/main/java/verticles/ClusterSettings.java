package verticles;

import com.hazelcast.config.Config;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.config.XmlConfigBuilder;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * Hazelcast's settings: conf/cluster.xml (packaged into the jar) plus what differs per node,
 * CLUSTER_HOST, CLUSTER_PORT, CLUSTER_MEMBERS and CLUSTER_NAME. Members are found by TCP only, and
 * Hazelcast binds to CLUSTER_HOST alone, never to every interface.
 */
final class ClusterSettings {

  private ClusterSettings() {
  }

  static Config hazelcast(verticles.common.Config pulse) {
    Config config;
    try (InputStream xml = ClusterSettings.class.getResourceAsStream("/conf/cluster.xml")) {
      if (xml == null) {
        throw new IllegalStateException("conf/cluster.xml is missing from the classpath");
      }
      config = new XmlConfigBuilder(xml).build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String host = pulse.string(verticles.common.Config.CLUSTER_HOST);
    int port = pulse.integer(verticles.common.Config.CLUSTER_PORT);
    List<String> members = verticles.common.Config.list(pulse.string(verticles.common.Config.CLUSTER_MEMBERS));
    config.setProperty("hazelcast.socket.bind.any", "false");
    // The one membership check Hazelcast's open edition makes; the bus itself needs a certificate (BusSecurity).
    config.setClusterName(pulse.string(verticles.common.Config.CLUSTER_NAME));
    NetworkConfig network = config.getNetworkConfig();
    network.setPort(port);
    network.getInterfaces().setEnabled(true).setInterfaces(List.of(host));
    network.getJoin().getTcpIpConfig().setEnabled(true)
      .setMembers(members.isEmpty() ? List.of(host + ":" + port) : members);
    return config;
  }
}
