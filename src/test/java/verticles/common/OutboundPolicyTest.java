package verticles.common;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Webhooks reach public addresses only, however an internal address is spelled, unless the allow-list says so. */
class OutboundPolicyTest {

  private static final OutboundPolicy STRICT = new OutboundPolicy("");

  /** A literal address (no lookup happens for a literal). */
  private static InetAddress ip(String literal) {
    try {
      return InetAddress.getByName(literal);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(literal, e);
    }
  }

  /**
   * An Inet6Address from its 16 bytes. Not InetAddress.getByAddress: like getByName, it turns an
   * IPv4-mapped address into an Inet4Address; a resolver or a future JDK need not.
   */
  private static InetAddress ipv6(int... bytes) {
    byte[] raw = new byte[16];
    for (int i = 0; i < 16; i++) {
      raw[i] = (byte) bytes[i];
    }
    try {
      InetAddress address = Inet6Address.getByAddress(null, raw, -1);
      assertInstanceOf(Inet6Address.class, address);
      return address;
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static void refused(OutboundPolicy policy, InetAddress address) {
    String refusal = policy.refusal("hook.example", address);
    assertNotNull(refusal, address + " must be refused");
    assertTrue(refusal.startsWith("hook.example resolves to "), refusal);
  }

  private static void allowed(OutboundPolicy policy, InetAddress address) {
    assertNull(policy.refusal("hook.example", address), address + " must be allowed");
  }

  @ParameterizedTest
  @ValueSource(strings = {"127.0.0.1", "127.5.5.5", "::1"})
  void loopbackIsRefused(String address) {
    refused(STRICT, ip(address));
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.1"})
  void privateNetworksAreRefused(String address) {
    refused(STRICT, ip(address));
  }

  @ParameterizedTest
  @ValueSource(strings = {"172.15.255.255", "172.32.0.1", "192.169.0.1", "11.0.0.1", "100.63.255.255", "100.128.0.1",
    "198.17.255.255", "198.20.0.1", "223.255.255.255"})
  void theNeighboursOfRefusedBlocksArePublic(String address) {
    allowed(STRICT, ip(address));
  }

  @ParameterizedTest
  @ValueSource(strings = {"169.254.169.254", "169.254.0.1", "fe80::1", "febf::1"})
  void linkLocalIsRefusedCloudMetadataIncluded(String address) {
    refused(STRICT, ip(address));
  }

  @ParameterizedTest
  @ValueSource(strings = {"100.64.0.1", "100.127.255.254"})
  void carrierGradeNatIsRefused(String address) {
    refused(STRICT, ip(address));
  }

  @ParameterizedTest
  @ValueSource(strings = {"fc00::1", "fd12:3456:789a::1"})
  void uniqueLocalIpv6IsRefused(String address) {
    refused(STRICT, ip(address));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0.0.0.0", "::", "0.1.2.3"})
  void unspecifiedAndThisNetworkAreRefused(String address) {
    refused(STRICT, ip(address));
  }

  @ParameterizedTest
  @ValueSource(strings = {"224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1"})
  void multicastIsRefused(String address) {
    refused(STRICT, ip(address));
  }

  @ParameterizedTest
  @ValueSource(strings = {"198.18.0.1", "198.19.255.254", "240.0.0.1", "255.255.255.254", "255.255.255.255"})
  void benchmarkingReservedAndBroadcastAreRefused(String address) {
    refused(STRICT, ip(address));
  }

  @Test
  void anIpv4MappedPrivateAddressIsRefusedAsTextAndAsRawIpv6() {
    refused(STRICT, ip("::ffff:10.0.0.1"));  // Java makes this one an Inet4Address
    InetAddress raw = ipv6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1);
    refused(STRICT, raw);
    assertTrue(STRICT.refusal("hook.example", raw).contains("10.0.0.1"), "the refusal names the address it carries");
    refused(STRICT, ipv6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1));
    allowed(STRICT, ipv6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 8, 8));
  }

  @Test
  void anIpv4CompatibleLoopbackIsRefused() {
    refused(STRICT, ip("::127.0.0.1"));
    refused(STRICT, ipv6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 192, 168, 0, 1));
  }

  @Test
  void aNat64AddressCarryingAPrivateOneIsRefused() {
    refused(STRICT, ip("64:ff9b::a00:1"));
    refused(STRICT, ip("64:ff9b::169.254.169.254"));
    allowed(STRICT, ip("64:ff9b::808:808"));
  }

  @Test
  void aSixToFourAddressCarryingAPrivateOneIsRefused() {
    refused(STRICT, ip("2002:0a00:0001::1"));
    refused(STRICT, ip("2002:7f00:0001::"));
    allowed(STRICT, ip("2002:0808:0808::1"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"8.8.8.8", "1.1.1.1", "93.184.215.14", "2001:4860:4860::8888", "2606:4700:4700::1111"})
  void publicAddressesAreAllowed(String address) {
    allowed(STRICT, ip(address));
  }

  @Test
  void aNameThatResolvesToAPrivateAddressIsRefusedByItsAddress() {
    String refusal = STRICT.refusal("innocent.example.com", ip("10.1.2.3"));
    assertNotNull(refusal, "a public-looking name is not enough");
    assertTrue(refusal.contains("innocent.example.com") && refusal.contains("10.1.2.3"), refusal);
    assertNull(STRICT.refusal("innocent.example.com", ip("8.8.4.4")));
  }

  @Test
  void anAllowListedHostMayResolveToAPrivateAddress() {
    OutboundPolicy policy = new OutboundPolicy("Hooks.Internal, other.example");
    assertNull(policy.refusal("hooks.internal", ip("10.0.0.7")), "names compare without case");
    assertNull(policy.refusal("OTHER.example", ip("127.0.0.1")));
    assertNotNull(policy.refusal("hooks.internal.evil.example", ip("10.0.0.7")), "only the exact name");
  }

  @Test
  void aSingleAddressCidrAllowsThatAddressOnly() {
    OutboundPolicy policy = new OutboundPolicy("127.0.0.1/32");
    allowed(policy, ip("127.0.0.1"));
    refused(policy, ip("127.0.0.2"));
    refused(policy, ip("10.0.0.1"));
    allowed(policy, ipv6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1));
  }

  @Test
  void aWideCidrAllowsItsWholeBlock() {
    OutboundPolicy policy = new OutboundPolicy("10.0.0.0/8, fd00::/8");
    allowed(policy, ip("10.0.0.1"));
    allowed(policy, ip("10.255.255.254"));
    allowed(policy, ip("fd00::1"));
    refused(policy, ip("172.16.0.1"));
    refused(policy, ip("192.168.0.1"));
    refused(policy, ip("fc00::1"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/x", "10.0.0.0/", "10.0.0.0/8/8", "not-an-ip/8",
    "fd00::/129", "10.0.0/8"})
  void aBadCidrIsRefusedWhenThePolicyIsMade(String entry) {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> new OutboundPolicy("127.0.0.1/32," + entry));
    assertTrue(error.getMessage().contains("OUTBOUND_ALLOWLIST") && error.getMessage().contains(entry), error.getMessage());
  }

  @Test
  void noAllowListAtAllIsTheStrictPolicy() {
    refused(new OutboundPolicy(null), ip("127.0.0.1"));
    allowed(new OutboundPolicy(null), ip("8.8.8.8"));
  }

  @Test
  void theRefusalSaysWhatKindOfAddressItIs() {
    assertEquals("hook.example resolves to 100.64.0.1, a carrier-grade NAT address", STRICT.refusal("hook.example", ip("100.64.0.1")));
    assertTrue(STRICT.refusal("hook.example", ip("2002:0a00:0001::1")).endsWith("carrying 10.0.0.1, a private address"),
      STRICT.refusal("hook.example", ip("2002:0a00:0001::1")));
  }
}
