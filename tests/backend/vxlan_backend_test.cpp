#include "twill/backend/vxlan_backend.hpp"

#include <gtest/gtest.h>

using namespace twill;
using backend::VxlanBackend;

namespace {

subnet::Lease peer(const char* subnet, const char* ip, const char* mac, const char* node) {
    subnet::Lease lease;
    lease.subnet = net::Prefix::parse(subnet);
    lease.value.public_ip = net::Address::parse(ip);
    lease.value.node = node;
    lease.value.backend_data = subnet::VxlanLeaseData{net::MacAddress::parse(mac)};
    return lease;
}

backend::NodeContext node() {
    backend::NodeContext context;
    context.node = "n1";
    context.network = net::Prefix::parse("10.244.0.0/16");
    context.subnet = net::Prefix::parse("10.244.3.0/24");
    context.underlay = {7, "eth0", net::Address::parse("192.0.2.11"), 1500};
    context.overlay_mtu = 1450;
    return context;
}

}  // namespace

TEST(VxlanBackend, VtepMacIsStableUnicastAndLocal) {
    auto a = VxlanBackend::vtep_mac("node-a", 1);
    EXPECT_EQ(a, VxlanBackend::vtep_mac("node-a", 1));
    EXPECT_NE(a, VxlanBackend::vtep_mac("node-b", 1));
    EXPECT_NE(a, VxlanBackend::vtep_mac("node-a", 2));
    EXPECT_TRUE(a.is_unicast());
    EXPECT_TRUE(a.is_locally_administered());
}

TEST(VxlanBackend, OverheadFollowsUnderlayFamily) {
    VxlanBackend b({1, 8472});
    EXPECT_EQ(b.overhead(net::Family::v4), 50u);
    EXPECT_EQ(b.overhead(net::Family::v6), 70u);
    EXPECT_EQ(backend::overlay_mtu(b, node().underlay), 1450u);
}

TEST(VxlanBackend, DeviceMatchesTheContract) {
    VxlanBackend b({42, 4789});
    auto devices = b.devices(node());
    ASSERT_EQ(devices.size(), 1u);
    const auto& d = devices[0];
    EXPECT_EQ(d.name, "twill.42");
    ASSERT_TRUE(d.vxlan);
    EXPECT_EQ(d.vxlan->vni, 42u);
    EXPECT_EQ(d.vxlan->port, 4789);
    EXPECT_EQ(d.vxlan->local, net::Address::parse("192.0.2.11"));
    EXPECT_EQ(d.vxlan->underlay_index, 7);
    EXPECT_FALSE(d.vxlan->learning);
    EXPECT_EQ(d.mtu, 1450u);
    EXPECT_EQ(d.mac, VxlanBackend::vtep_mac("n1", 42));
    ASSERT_EQ(d.addresses.size(), 1u);
    EXPECT_EQ(d.addresses[0].to_string(), "10.244.3.0/32");
}

TEST(VxlanBackend, OneRouteNeighbourAndFdbEntryPerPeer) {
    VxlanBackend b({1, 8472});
    const auto first =
        b.peer(node(), peer("10.244.5.0/24", "192.0.2.12", "02:00:00:00:00:05", "n2"));
    const auto second =
        b.peer(node(), peer("10.244.9.0/24", "192.0.2.13", "02:00:00:00:00:09", "n3"));
    ASSERT_TRUE(first && second);
    EXPECT_FALSE(first->device_peer);
    const auto& s = first->objects;
    ASSERT_EQ(s.routes.size(), 1u);
    EXPECT_EQ(s.routes[0].destination.to_string(), "10.244.5.0/24");
    EXPECT_EQ(s.routes[0].gateway, net::Address::parse("10.244.5.0"));
    EXPECT_EQ(s.routes[0].oif, 0);  // bound to the device by the node reconciler
    EXPECT_TRUE(s.routes[0].onlink);
    EXPECT_EQ(s.routes[0].protocol, 137);
    ASSERT_EQ(s.neighbours.size(), 1u);
    EXPECT_EQ(s.neighbours[0].address, net::Address::parse("10.244.5.0"));
    EXPECT_EQ(s.neighbours[0].lladdr, net::MacAddress::parse("02:00:00:00:00:05"));
    EXPECT_EQ(s.neighbours[0].state, netlink::nud_permanent);
    ASSERT_EQ(s.fdb.size(), 1u);
    EXPECT_EQ(s.fdb[0].mac, net::MacAddress::parse("02:00:00:00:00:05"));
    EXPECT_EQ(s.fdb[0].dst, net::Address::parse("192.0.2.12"));
    EXPECT_TRUE(s.fdb[0].is_self());
    EXPECT_EQ(second->objects.fdb[0].dst, net::Address::parse("192.0.2.13"));
}
