package verticles.common;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Where Pulse may send requests on a user's behalf (webhooks, image downloads): public
 * addresses only. Loopback, private, link-local, unique-local, carrier-grade NAT, multicast and
 * unspecified addresses are refused unless OUTBOUND_ALLOWLIST names the host or a CIDR holding
 * the address (e.g. {@code 127.0.0.1/32}). Checked against the resolved address, which is the
 * one then connected to (no second lookup to rebind).
 */
public final class OutboundPolicy {

  private final List<String> hosts = new ArrayList<>();
  private final List<byte[][]> networks = new ArrayList<>();  // {address, mask}

  public OutboundPolicy(String allowlist) {
    for (String entry : Config.list(allowlist)) {
      if (entry.contains("/")) {
        networks.add(cidr(entry));
      } else {
        hosts.add(entry.toLowerCase(Locale.ROOT));
      }
    }
  }

  /** Null when allowed; otherwise why not. */
  public String refusal(String host, InetAddress address) {
    if (hosts.contains(host.toLowerCase(Locale.ROOT)) || inAllowedNetwork(address)) {
      return null;
    }
    byte[] b = address.getAddress();
    boolean carrierNat = b.length == 4 && (b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64;
    boolean uniqueLocal = b.length == 16 && (b[0] & 0xfe) == 0xfc;
    if (address.isLoopbackAddress() || address.isSiteLocalAddress() || address.isLinkLocalAddress()
      || address.isAnyLocalAddress() || address.isMulticastAddress() || carrierNat || uniqueLocal) {
      return host + " resolves to " + address.getHostAddress() + ", a loopback, private or link-local address";
    }
    return null;
  }

  private boolean inAllowedNetwork(InetAddress address) {
    byte[] bytes = address.getAddress();
    for (byte[][] network : networks) {
      if (network[0].length != bytes.length) {
        continue;
      }
      boolean match = true;
      for (int i = 0; i < bytes.length && match; i++) {
        match = (bytes[i] & network[1][i]) == (network[0][i] & network[1][i]);
      }
      if (match) {
        return true;
      }
    }
    return false;
  }

  private static byte[][] cidr(String entry) {
    String[] parts = entry.split("/");
    try {
      byte[] address = InetAddress.getByName(parts[0]).getAddress();
      int bits = Integer.parseInt(parts[1]);
      byte[] mask = new byte[address.length];
      for (int i = 0; i < mask.length; i++) {
        int take = Math.max(0, Math.min(8, bits - 8 * i));
        mask[i] = (byte) (take == 0 ? 0 : 0xff << (8 - take));
      }
      return new byte[][] {address, mask};
    } catch (UnknownHostException | NumberFormatException e) {
      throw new IllegalArgumentException("OUTBOUND_ALLOWLIST entry '" + entry + "' is not a CIDR");
    }
  }
}
