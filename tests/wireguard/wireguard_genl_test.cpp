// The kernel path's messages, checked byte for byte against the "wireguard" generic netlink
// family's layout (linux/wireguard.h) with an encoder of this test's own.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>

#include <algorithm>
#include <cstring>

#include "twill/error.hpp"
#include "twill/netlink/wireguard.hpp"

using namespace twill;
using namespace twill::netlink;

namespace {

constexpr std::uint16_t kFamily = 0x1d;

class Encoder {
  public:
    void u8(std::uint8_t v) { bytes_.push_back(v); }
    void u16(std::uint16_t v) { raw(&v, 2); }
    void u32(std::uint32_t v) { raw(&v, 4); }
    void raw(const void* data, std::size_t size) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        bytes_.insert(bytes_.end(), p, p + size);
    }
    void pad() {
        while (bytes_.size() % 4) bytes_.push_back(0);
    }
    void attr(std::uint16_t type, const void* data, std::size_t size) {
        u16(static_cast<std::uint16_t>(4 + size));
        u16(type);
        raw(data, size);
        pad();
    }
    void attr_u16(std::uint16_t type, std::uint16_t v) { attr(type, &v, 2); }
    void attr_u32(std::uint16_t type, std::uint32_t v) { attr(type, &v, 4); }
    void attr_u8(std::uint16_t type, std::uint8_t v) { attr(type, &v, 1); }
    std::size_t begin_nest(std::uint16_t type) {
        const auto at = bytes_.size();
        u16(0);
        u16(static_cast<std::uint16_t>(type | NLA_F_NESTED));
        return at;
    }
    void end_nest(std::size_t at) {
        const auto length = static_cast<std::uint16_t>(bytes_.size() - at);
        std::memcpy(&bytes_[at], &length, 2);
    }
    void header(std::uint16_t flags, std::uint32_t seq, std::uint8_t cmd) {
        u32(0);  // length, patched by finish()
        u16(kFamily);
        u16(flags);
        u32(seq);
        u32(0);
        u8(cmd);
        u8(WG_GENL_VERSION);
        u16(0);
    }
    std::vector<std::uint8_t> finish() {
        const auto length = static_cast<std::uint32_t>(bytes_.size());
        std::memcpy(&bytes_[0], &length, 4);
        return bytes_;
    }

  private:
    std::vector<std::uint8_t> bytes_;
};

WireguardKey key(std::uint8_t fill) {
    WireguardKey k;
    k.fill(fill);
    return k;
}

WireguardPeer v4_peer() {
    WireguardPeer peer;
    peer.public_key = key(0x22);
    peer.endpoint = WireguardEndpoint{net::Address::parse("192.0.2.2"), 51820};
    peer.allowed_ips = {net::Prefix::parse("10.244.2.0/24")};
    peer.persistent_keepalive = 25;
    return peer;
}

}  // namespace

TEST(WireguardGenl, GetDeviceIsADumpByName) {
    Encoder e;
    e.header(NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, 7, WG_CMD_GET_DEVICE);
    e.attr(WGDEVICE_A_IFNAME, "twill-wg", 9);
    EXPECT_EQ(build_wireguard_get(kFamily, 7, "twill-wg"), e.finish());
}

TEST(WireguardGenl, SetDeviceLayout) {
    WireguardChange change;
    change.private_key = key(0x11);
    change.listen_port = 51820;
    change.replace_peers = true;
    WireguardPeer gone;
    gone.public_key = key(0x33);
    change.peers = {{v4_peer(), false}, {gone, true}};

    Encoder e;
    e.header(NLM_F_REQUEST | NLM_F_ACK, 42, WG_CMD_SET_DEVICE);
    e.attr(WGDEVICE_A_IFNAME, "twill-wg", 9);
    e.attr(WGDEVICE_A_PRIVATE_KEY, key(0x11).data(), 32);
    e.attr_u16(WGDEVICE_A_LISTEN_PORT, 51820);
    e.attr_u32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
    const auto peers = e.begin_nest(WGDEVICE_A_PEERS);
    {
        const auto peer = e.begin_nest(0);
        e.attr(WGPEER_A_PUBLIC_KEY, key(0x22).data(), 32);
        e.attr_u32(WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS);
        sockaddr_in endpoint{};
        endpoint.sin_family = AF_INET;
        endpoint.sin_port = htons(51820);
        endpoint.sin_addr.s_addr = htonl(0xc0000202);
        e.attr(WGPEER_A_ENDPOINT, &endpoint, sizeof endpoint);
        e.attr_u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
        const auto ips = e.begin_nest(WGPEER_A_ALLOWEDIPS);
        const auto ip = e.begin_nest(0);
        e.attr_u16(WGALLOWEDIP_A_FAMILY, AF_INET);
        const std::uint8_t address[4] = {10, 244, 2, 0};
        e.attr(WGALLOWEDIP_A_IPADDR, address, 4);
        e.attr_u8(WGALLOWEDIP_A_CIDR_MASK, 24);
        e.end_nest(ip);
        e.end_nest(ips);
        e.end_nest(peer);
    }
    {
        const auto peer = e.begin_nest(0);
        e.attr(WGPEER_A_PUBLIC_KEY, key(0x33).data(), 32);
        e.attr_u32(WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME);
        e.end_nest(peer);
    }
    e.end_nest(peers);

    const auto messages = build_wireguard_set(kFamily, 42, "twill-wg", change);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0], e.finish());
}

TEST(WireguardGenl, Ipv6EndpointAndAllowedIp) {
    WireguardChange change;
    WireguardPeer peer;
    peer.public_key = key(0x44);
    peer.endpoint = WireguardEndpoint{net::Address::parse("2001:db8::2"), 51821};
    peer.allowed_ips = {net::Prefix::parse("fd00:1::/64")};
    change.peers = {{peer, false}};

    Encoder e;
    e.header(NLM_F_REQUEST | NLM_F_ACK, 1, WG_CMD_SET_DEVICE);
    e.attr(WGDEVICE_A_IFNAME, "wg0", 4);
    const auto peers = e.begin_nest(WGDEVICE_A_PEERS);
    const auto p = e.begin_nest(0);
    e.attr(WGPEER_A_PUBLIC_KEY, key(0x44).data(), 32);
    e.attr_u32(WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS);
    sockaddr_in6 endpoint{};
    endpoint.sin6_family = AF_INET6;
    endpoint.sin6_port = htons(51821);
    inet_pton(AF_INET6, "2001:db8::2", &endpoint.sin6_addr);
    e.attr(WGPEER_A_ENDPOINT, &endpoint, sizeof endpoint);
    e.attr_u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 0);
    const auto ips = e.begin_nest(WGPEER_A_ALLOWEDIPS);
    const auto ip = e.begin_nest(0);
    e.attr_u16(WGALLOWEDIP_A_FAMILY, AF_INET6);
    in6_addr address{};
    inet_pton(AF_INET6, "fd00:1::", &address);
    e.attr(WGALLOWEDIP_A_IPADDR, &address, 16);
    e.attr_u8(WGALLOWEDIP_A_CIDR_MASK, 64);
    e.end_nest(ip);
    e.end_nest(ips);
    e.end_nest(p);
    e.end_nest(peers);
    EXPECT_EQ(build_wireguard_set(kFamily, 1, "wg0", change), std::vector<GenlMessage>{e.finish()});
}

TEST(WireguardGenl, ManyPeersSpreadOverMessagesThatEachFit) {
    WireguardChange change;
    change.private_key = key(0xee);
    change.replace_peers = true;
    for (std::uint8_t i = 1; i <= 20; ++i) {
        auto peer = v4_peer();
        peer.public_key = key(i);
        peer.allowed_ips = {net::Prefix(net::Address::parse("10.244.0.0").plus(256u * i), 24)};
        change.peers.push_back({peer, false});
    }
    const auto messages = build_wireguard_set(kFamily, 100, "twill-wg", change, 512);
    ASSERT_GT(messages.size(), 1u);
    WireguardDeviceConfig parsed;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const auto* header = reinterpret_cast<const nlmsghdr*>(messages[i].data());
        EXPECT_LE(messages[i].size(), 512u);
        EXPECT_EQ(header->nlmsg_len, messages[i].size());
        EXPECT_EQ(header->nlmsg_seq, 100 + i);
        parse_wireguard_device(messages[i].data(), messages[i].size(), parsed);
        // Only the first message replaces peers or sets the key: later ones add to it.
        const bool has_key =
            std::search(messages[i].begin(), messages[i].end(), change.private_key->begin(),
                        change.private_key->end()) != messages[i].end();
        EXPECT_EQ(has_key, i == 0);
    }
    ASSERT_EQ(parsed.peers.size(), change.peers.size());
    for (std::size_t i = 0; i < parsed.peers.size(); ++i)
        EXPECT_EQ(parsed.peers[i], change.peers[i].peer);
    EXPECT_EQ(parsed.private_key, change.private_key);
    EXPECT_THROW(build_wireguard_set(kFamily, 1, "twill-wg", change, 64), Error);
    EXPECT_THROW(build_wireguard_set(kFamily, 1, "twill-wg", change, 120), Error);
    EXPECT_THROW(build_wireguard_set(kFamily, 1, "a-name-far-too-long", change), ParseError);
}

TEST(WireguardGenl, ParseJoinsAPeerContinuedInTheNextMessage) {
    auto first = v4_peer();
    auto second = v4_peer();
    second.allowed_ips = {net::Prefix::parse("10.245.0.0/16")};
    WireguardChange a, b;
    a.peers = {{first, false}};
    b.peers = {{second, false}};
    WireguardDeviceConfig parsed;
    for (const auto& m : build_wireguard_set(kFamily, 1, "twill-wg", a))
        parse_wireguard_device(m.data(), m.size(), parsed);
    for (const auto& m : build_wireguard_set(kFamily, 2, "twill-wg", b))
        parse_wireguard_device(m.data(), m.size(), parsed);
    ASSERT_EQ(parsed.peers.size(), 1u);
    EXPECT_EQ(parsed.peers[0].allowed_ips,
              (std::vector<net::Prefix>{net::Prefix::parse("10.244.2.0/24"),
                                        net::Prefix::parse("10.245.0.0/16")}));
    EXPECT_EQ(parsed.peers[0].endpoint, first.endpoint);
}
