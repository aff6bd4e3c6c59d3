#include "twill/backend/wireguard_uapi.hpp"

#include <gtest/gtest.h>

#include "twill/backend/wireguard_keys.hpp"
#include "twill/error.hpp"

using namespace twill;
using namespace twill::backend;

namespace {
netlink::WireguardKey key(std::uint8_t fill) {
    netlink::WireguardKey k;
    k.fill(fill);
    return k;
}
}  // namespace

TEST(WireguardUapi, FormatsSetWithRemovalsAndReplacedAllowedIps) {
    netlink::WireguardChange change;
    change.private_key = key(0x11);
    change.listen_port = 51820;
    netlink::WireguardPeer add;
    add.public_key = key(0x22);
    add.endpoint = netlink::WireguardEndpoint{net::Address::parse("192.0.2.2"), 51820};
    add.allowed_ips = {net::Prefix::parse("10.244.2.0/24")};
    add.persistent_keepalive = 25;
    netlink::WireguardPeer v6;
    v6.public_key = key(0x44);
    v6.endpoint = netlink::WireguardEndpoint{net::Address::parse("2001:db8::2"), 51821};
    v6.allowed_ips = {net::Prefix::parse("10.244.4.0/24"), net::Prefix::parse("fd00:1::/64")};
    netlink::WireguardPeer gone;
    gone.public_key = key(0x33);
    change.peers = {{add, false}, {gone, true}, {v6, false}};
    EXPECT_EQ(format_uapi_set(change),
              "set=1\n"
              "private_key=" +
                  std::string(64, '1') +
                  "\n"
                  "listen_port=51820\n"
                  "public_key=" +
                  std::string(64, '2') +
                  "\n"
                  "replace_allowed_ips=true\n"
                  "endpoint=192.0.2.2:51820\n"
                  "persistent_keepalive_interval=25\n"
                  "allowed_ip=10.244.2.0/24\n"
                  "public_key=" +
                  std::string(64, '3') +
                  "\n"
                  "remove=true\n"
                  "public_key=" +
                  std::string(64, '4') +
                  "\n"
                  "replace_allowed_ips=true\n"
                  "endpoint=[2001:db8::2]:51821\n"
                  "persistent_keepalive_interval=0\n"
                  "allowed_ip=10.244.4.0/24\n"
                  "allowed_ip=fd00:1::/64\n"
                  "\n");
}

TEST(WireguardUapi, ParsesGetReplyOfWireguardGo) {
    const std::string reply = "private_key=" + std::string(64, 'a') +
                              "\n"
                              "listen_port=51820\n"
                              "public_key=" +
                              std::string(64, 'b') +
                              "\n"
                              "preshared_key=" +
                              std::string(64, '0') +
                              "\n"
                              "protocol_version=1\n"
                              "endpoint=192.0.2.3:51820\n"
                              "last_handshake_time_sec=0\n"
                              "last_handshake_time_nsec=0\n"
                              "tx_bytes=0\n"
                              "rx_bytes=0\n"
                              "persistent_keepalive_interval=25\n"
                              "allowed_ip=10.244.3.0/24\n"
                              "public_key=" +
                              std::string(64, 'c') +
                              "\n"
                              "endpoint=[2001:db8::3]:51820\n"
                              "allowed_ip=10.244.5.0/24\n"
                              "allowed_ip=10.244.6.0/24\n"
                              "errno=0\n\n";
    const auto config = parse_uapi_get(reply);
    ASSERT_TRUE(config.private_key);
    EXPECT_EQ(*config.private_key, key(0xaa));
    EXPECT_EQ(config.listen_port, 51820);
    ASSERT_EQ(config.peers.size(), 2u);
    EXPECT_EQ(config.peers[0].public_key, key(0xbb));
    EXPECT_EQ(config.peers[0].endpoint->to_string(), "192.0.2.3:51820");
    EXPECT_EQ(config.peers[0].persistent_keepalive, 25);
    EXPECT_EQ(config.peers[0].allowed_ips,
              std::vector<net::Prefix>{net::Prefix::parse("10.244.3.0/24")});
    EXPECT_EQ(config.peers[1].endpoint->address, net::Address::parse("2001:db8::3"));
    EXPECT_EQ(config.peers[1].allowed_ips.size(), 2u);
    EXPECT_EQ(config.peers[1].persistent_keepalive, 0);
}

TEST(WireguardUapi, DeviceWithoutKeyOrPeers) {
    const auto config =
        parse_uapi_get("private_key=" + std::string(64, '0') + "\nlisten_port=0\nerrno=0\n\n");
    EXPECT_FALSE(config.private_key);
    EXPECT_TRUE(config.peers.empty());
}

TEST(WireguardUapi, ErrnoAndBadLinesAreErrors) {
    EXPECT_EQ(uapi_errno("errno=0\n\n"), 0);
    EXPECT_EQ(uapi_errno("errno=22\n\n"), 22);
    EXPECT_THROW(uapi_errno("listen_port=1\n\n"), ParseError);
    try {
        parse_uapi_get("errno=2\n\n");
        FAIL();
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), 2);
    }
    EXPECT_THROW(parse_uapi_get("public_key=zz\nerrno=0\n\n"), ParseError);
    EXPECT_THROW(
        parse_uapi_get("public_key=" + std::string(64, 'b') + "\nendpoint=nonsense\nerrno=0\n\n"),
        ParseError);
}
