#include "twill/backend/wireguard_backend.hpp"

#include <gtest/gtest.h>

#include "test_leases.hpp"
#include "twill/reconcile/object_sets.hpp"

using namespace twill;
using namespace twill::backend;

namespace {

netlink::WireguardKey key(std::uint8_t fill) {
    netlink::WireguardKey k;
    k.fill(fill);
    return k;
}

subnet::Lease lease(const char* subnet, const char* ip, std::uint8_t key_fill, const char* node) {
    subnet::Lease l;
    l.subnet = net::Prefix::parse(subnet);
    l.value.public_ip = net::Address::parse(ip);
    l.value.node = node;
    l.value.backend_data = subnet::WireguardLeaseData{key(key_fill)};
    return l;
}

netlink::WireguardPeer peer(std::uint8_t key_fill, const char* ip, const char* subnet,
                            std::uint16_t keepalive = 0) {
    netlink::WireguardPeer p;
    p.public_key = key(key_fill);
    p.endpoint = netlink::WireguardEndpoint{net::Address::parse(ip), 51820};
    p.allowed_ips = {net::Prefix::parse(subnet)};
    p.persistent_keepalive = keepalive;
    return p;
}

NodeContext node() {
    NodeContext context;
    context.node = "a";
    context.network = net::Prefix::parse("10.244.0.0/16");
    context.subnet = net::Prefix::parse("10.244.1.0/24");
    return context;
}

}  // namespace

TEST(WireguardPeers, PlanAddsRemovesAndUpdatesOnlyWhatDiffers) {
    const std::vector desired{peer(1, "192.0.2.1", "10.244.1.0/24"),
                              peer(2, "192.0.2.2", "10.244.2.0/24"),
                              peer(3, "192.0.2.3", "10.244.3.0/24")};
    auto moved = peer(2, "192.0.2.20", "10.244.2.0/24");
    auto same_ips_other_order = peer(3, "192.0.2.3", "10.244.3.0/24");
    const std::vector actual{moved, same_ips_other_order, peer(9, "198.51.100.9", "10.0.0.0/8")};
    const auto plan = plan_peers(desired, actual);
    ASSERT_EQ(plan.change.peers.size(), 3u);
    EXPECT_EQ(plan.change.peers[0].peer, desired[0]);
    EXPECT_FALSE(plan.change.peers[0].remove);
    EXPECT_EQ(plan.change.peers[1].peer, desired[1]);
    EXPECT_EQ(plan.change.peers[2].peer.public_key, key(9));
    EXPECT_TRUE(plan.change.peers[2].remove);
    EXPECT_FALSE(plan.change.replace_peers);
    ASSERT_EQ(plan.changes.size(), 3u);
    EXPECT_EQ(plan.changes[0].kind, "wireguard-peer");
    EXPECT_EQ(plan.changes[0].action, reconcile::Action::added);
    EXPECT_EQ(plan.changes[1].action, reconcile::Action::replaced);
    EXPECT_NE(plan.changes[1].detail.find("endpoint 192.0.2.20:51820"), std::string::npos)
        << plan.changes[1].detail;
    EXPECT_EQ(plan.changes[2].action, reconcile::Action::deleted);
    // Nothing was desired before: the extra peer was never twill's (drift), the rest follows etcd.
    EXPECT_TRUE(plan.changes[2].drift);
    EXPECT_FALSE(plan.changes[0].drift);
}

TEST(WireguardPeers, AllowedIpsCompareAsSetsAndEqualPeersNeedNothing) {
    auto a = peer(1, "192.0.2.1", "10.244.1.0/24");
    a.allowed_ips.push_back(net::Prefix::parse("fd00::/64"));
    auto b = a;
    std::swap(b.allowed_ips[0], b.allowed_ips[1]);
    const auto plan = plan_peers({a}, {b});
    EXPECT_TRUE(plan.change.peers.empty());
    EXPECT_TRUE(plan.changes.empty());
}

TEST(WireguardPeers, ChangesToPeersThatWereAlreadyDesiredAreDrift) {
    const auto p = peer(1, "192.0.2.1", "10.244.1.0/24");
    reconcile::DriftRecord previous;
    previous.set("wireguard-peer", key_to_base64(p.public_key), p);
    const auto plan = plan_peers({p}, {}, previous);
    ASSERT_EQ(plan.changes.size(), 1u);
    EXPECT_TRUE(plan.changes[0].drift);
    // A peer that was desired and is no longer (its lease went away) is not drift.
    const auto gone = plan_peers({}, {p}, previous);
    ASSERT_EQ(gone.changes.size(), 1u);
    EXPECT_FALSE(gone.changes[0].drift);
}

TEST(WireguardBackendUnit, DesiredPeersRoutesOverheadAndLeaseData) {
    subnet::WireguardBackend config;
    config.listen_port = 51821;
    config.persistent_keepalive_interval = 25;
    const auto keys = generate_key_pair();
    WireguardBackend backend(config, keys, std::make_unique<twill::testing::NoWireguardDevice>());
    EXPECT_EQ(backend.overhead(net::Family::v4), 60u);
    EXPECT_EQ(backend.overhead(net::Family::v6), 80u);
    EXPECT_EQ(backend.detail(), "memory, port 51821, device twill-wg");
    EXPECT_EQ(std::get<subnet::WireguardLeaseData>(backend.lease_data(node())).public_key,
              keys.public_key);

    const std::vector leases{lease("10.244.2.0/24", "192.0.2.2", 2, "b"),
                             lease("10.244.3.0/24", "192.0.2.3", 3, "c")};
    const auto first = backend.peer(node(), leases[0]);
    const auto second = backend.peer(node(), leases[1]);
    ASSERT_TRUE(first && second);
    auto expected = peer(3, "192.0.2.3", "10.244.3.0/24", 25);
    expected.endpoint->port = 51821;
    EXPECT_EQ(second->device_peer, expected);

    ASSERT_EQ(first->objects.routes.size(), 1u);
    const auto& route = first->objects.routes[0];
    EXPECT_EQ(route.destination, net::Prefix::parse("10.244.2.0/24"));
    EXPECT_FALSE(route.gateway);
    EXPECT_EQ(route.oif, 0);  // bound to the device by the node reconciler
    EXPECT_EQ(route.protocol, reconcile::twill_route_protocol);
    EXPECT_EQ(route.scope, netlink::route_scope_link);
    EXPECT_TRUE(first->objects.neighbours.empty());
    EXPECT_TRUE(first->objects.fdb.empty());
}
