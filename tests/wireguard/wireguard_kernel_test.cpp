// The kernel path against a real kernel: runs where the kernel has WireGuard, and otherwise
// reports that it was skipped and why (the message layout is checked by the unit tests).
#include <gtest/gtest.h>

#include "netns_topology.hpp"
#include "require_root.hpp"
#include "twill/backend/wireguard_keys.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/netlink/wireguard.hpp"

using namespace twill;

TEST(WireguardKernel, ConfiguresADeviceOverGenericNetlink) {
    TWILL_REQUIRE_ROOT();
    twill::testing::NetnsTopology topology;
    const auto& ns = topology.add_namespace("wgk");
    netlink::Handle handle(ns.netns());
    const bool available =
        ns.netns().run([] { return netlink::WireguardNetlink::open().has_value(); });
    if (!available) {
        GTEST_SKIP()
            << "the kernel has no WireGuard: generic netlink family \"wireguard\" does not resolve "
               "(module absent or not loaded); the kernel path's messages are checked by "
               "wireguard_unit_test";
    }
    const auto link = handle.create_wireguard({"twk0", 1420});
    EXPECT_EQ(link.kind, "wireguard");
    EXPECT_EQ(link.mtu, 1420u);

    const auto keys = backend::generate_key_pair();
    netlink::WireguardPeer b, c;
    b.public_key = backend::generate_key_pair().public_key;
    b.endpoint = netlink::WireguardEndpoint{net::Address::parse("192.0.2.12"), 51820};
    b.allowed_ips = {net::Prefix::parse("10.244.2.0/24")};
    b.persistent_keepalive = 25;
    c.public_key = backend::generate_key_pair().public_key;
    c.endpoint = netlink::WireguardEndpoint{net::Address::parse("2001:db8::13"), 51820};
    c.allowed_ips = {net::Prefix::parse("10.244.3.0/24"), net::Prefix::parse("fd00:3::/64")};
    netlink::WireguardChange change;
    change.private_key = keys.private_key;
    change.listen_port = 51820;
    change.peers = {{b, false}, {c, false}};

    const auto config = ns.netns().run([&] {
        auto genl = *netlink::WireguardNetlink::open();
        genl.set_device("twk0", change);
        netlink::WireguardChange removal;
        removal.peers = {{c, true}};
        auto both = genl.get_device("twk0");
        genl.set_device("twk0", removal);
        return std::make_pair(both, genl.get_device("twk0"));
    });
    EXPECT_EQ(config.first.private_key, keys.private_key);
    EXPECT_EQ(config.first.listen_port, 51820);
    ASSERT_EQ(config.first.peers.size(), 2u);
    EXPECT_EQ(config.first.peers[0], b);
    ASSERT_EQ(config.second.peers.size(), 1u);
    EXPECT_EQ(config.second.peers[0], b);
    handle.delete_link(link.index);
}
