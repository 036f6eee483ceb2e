package verticles.common;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Where Pulse may send requests on a user's behalf (webhooks, image downloads): public
 * addresses only. Loopback, private, link-local, unique-local, carrier-grade NAT, benchmarking,
 * multicast, reserved and unspecified addresses are refused, and so is an IPv6 address that
 * carries one of those IPv4 addresses (IPv4-mapped, IPv4-compatible, NAT64, 6to4), unless
 * OUTBOUND_ALLOWLIST names the host or a CIDR holding the address (e.g. {@code 127.0.0.1/32}).
 * Checked against the resolved address, which is the one then connected to (no second lookup
 * to rebind).
 */
public final class OutboundPolicy {

  /** The addresses whose first {@code bits} bits are those of {@code prefix}. */
  private record Network(byte[] prefix, int bits) {

    /** {@code address/bits} with a literal address (never a name: parsing must not look anything up). */
    static Network parse(String cidr) {
      String[] parts = cidr.split("/", -1);
      boolean literal = parts[0].contains(":") || parts[0].matches("\\d{1,3}(\\.\\d{1,3}){3}");
      if (parts.length != 2 || !literal) {
        throw new IllegalArgumentException("OUTBOUND_ALLOWLIST entry '" + cidr + "' is not a CIDR");
      }
      try {
        byte[] prefix = InetAddress.getByName(parts[0]).getAddress();
        int bits = Integer.parseInt(parts[1]);
        // Out of range is a typo, not "everything": a mask of -1 bits would once have allowed every address.
        if (bits < 0 || bits > prefix.length * 8) {
          throw new IllegalArgumentException("OUTBOUND_ALLOWLIST entry '" + cidr + "' has a prefix length out of range");
        }
        return new Network(prefix, bits);
      } catch (UnknownHostException | NumberFormatException e) {
        throw new IllegalArgumentException("OUTBOUND_ALLOWLIST entry '" + cidr + "' is not a CIDR");
      }
    }

    boolean contains(byte[] address) {
      if (address.length != prefix.length) {
        return false;
      }
      for (int bit = 0; bit < bits; bit++) {
        int mask = 0x80 >>> (bit % 8);
        if ((address[bit / 8] & mask) != (prefix[bit / 8] & mask)) {
          return false;
        }
      }
      return true;
    }
  }

  /** A block no request may reach on its own, and what it is (for the refusal). */
  private record Refused(Network network, String what) {
    Refused(String cidr, String what) {
      this(Network.parse(cidr), what);
    }
  }

  /** One list, IPv4 and IPv6, instead of InetAddress's is*Address() which miss NAT, 0/8, 240/4 and more. */
  private static final List<Refused> REFUSED = List.of(
    // 0.0.0.0 connects to the local host on Linux; the rest of 0/8 is "this network".
    new Refused("0.0.0.0/8", "a 'this network' address"),
    new Refused("127.0.0.0/8", "a loopback address"),
    new Refused("10.0.0.0/8", "a private address"),
    new Refused("172.16.0.0/12", "a private address"),
    new Refused("192.168.0.0/16", "a private address"),
    new Refused("100.64.0.0/10", "a carrier-grade NAT address"),
    // Cloud metadata services live here (169.254.169.254).
    new Refused("169.254.0.0/16", "a link-local address"),
    new Refused("198.18.0.0/15", "a benchmarking address"),
    new Refused("224.0.0.0/4", "a multicast address"),
    // Reserved, and the limited broadcast 255.255.255.255 with it.
    new Refused("240.0.0.0/4", "a reserved or broadcast address"),
    new Refused("::/128", "the unspecified address"),
    new Refused("::1/128", "a loopback address"),
    new Refused("fc00::/7", "a unique-local address"),
    new Refused("fe80::/10", "a link-local address"),
    new Refused("fec0::/10", "a site-local address"),
    new Refused("ff00::/8", "a multicast address"));

  // IPv6 forms that reach an IPv4 address: the stack, a NAT64 gateway or a 6to4 relay connects to it.
  // Written out: InetAddress reads "::ffff:0:0" as the IPv4 address 0.0.0.0.
  private static final Network IPV4_MAPPED = new Network(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 0, 0, 0, 0}, 96);
  private static final Network IPV4_COMPATIBLE = Network.parse("::/96");
  private static final Network NAT64 = Network.parse("64:ff9b::/96");
  private static final Network SIX_TO_FOUR = Network.parse("2002::/16");

  private final List<String> hosts = new ArrayList<>();
  private final List<Network> networks = new ArrayList<>();

  /** {@code allowlist}: comma-separated host names and CIDRs; null or blank allows nothing extra. */
  public OutboundPolicy(String allowlist) {
    for (String entry : Config.list(allowlist == null ? "" : allowlist)) {
      if (entry.contains("/")) {
        networks.add(Network.parse(entry));
      } else {
        hosts.add(entry.toLowerCase(Locale.ROOT));
      }
    }
  }

  /** Null when allowed; otherwise why not. */
  public String refusal(String host, InetAddress address) {
    byte[] bytes = address.getAddress();
    byte[] ipv4 = embeddedIpv4(bytes);
    // An allowed IPv4 network allows its IPv6 spellings too: they reach the same address.
    if (hosts.contains(host.toLowerCase(Locale.ROOT)) || allowed(bytes) || ipv4 != null && allowed(ipv4)) {
      return null;
    }
    String what = what(bytes);
    if (what == null && ipv4 != null && what(ipv4) != null) {
      what = "an address carrying " + text(ipv4) + ", " + what(ipv4);
    }
    return what == null ? null : host + " resolves to " + address.getHostAddress() + ", " + what;
  }

  private boolean allowed(byte[] address) {
    return networks.stream().anyMatch(network -> network.contains(address));
  }

  /** What refused block {@code address} is in, or null when it is in none. */
  private static String what(byte[] address) {
    return REFUSED.stream().filter(refused -> refused.network().contains(address)).map(Refused::what).findFirst().orElse(null);
  }

  /** The IPv4 address an IPv6 one carries and so reaches, or null. */
  private static byte[] embeddedIpv4(byte[] address) {
    if (IPV4_MAPPED.contains(address) || IPV4_COMPATIBLE.contains(address) || NAT64.contains(address)) {
      return Arrays.copyOfRange(address, 12, 16);
    }
    if (SIX_TO_FOUR.contains(address)) {
      return Arrays.copyOfRange(address, 2, 6);  // 2002:AABB:CCDD::/48 is the site behind A.B.C.D
    }
    return null;
  }

  private static String text(byte[] ipv4) {
    try {
      return InetAddress.getByAddress(ipv4).getHostAddress();
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);  // four bytes are always an address
    }
  }
}
