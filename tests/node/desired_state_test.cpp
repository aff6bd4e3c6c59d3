// The node's desired state as a pure function: no kernel, no etcd, no root.
#include "twill/node/desired_state.hpp"

#include <gtest/gtest.h>

#include "test_leases.hpp"
#include "twill/backend/host_gw_backend.hpp"
#include "twill/backend/vxlan_backend.hpp"
#include "twill/backend/wireguard_backend.hpp"
#include "twill/backend/wireguard_keys.hpp"
#include "twill/reconcile/object_sets.hpp"

using namespace twill;
using twill::testing::vxlan_lease;
using twill::testing::wireguard_lease;

namespace {

class DesiredStateTest : public ::testing::Test {
  protected:
    DesiredStateTest() {
        own_ = vxlan_lease("10.244.3.0/24", "192.0.2.3", "a", 3);
        leases_.emplace(own_.subnet, own_);
        for (const auto& l : {vxlan_lease("10.244.5.0/24", "192.0.2.5", "b", 5),
                              vxlan_lease("10.244.9.0/24", "192.0.2.9", "c", 9)}) {
            leases_.emplace(l.subnet, l);
        }
        inputs_.node_name = "a";
        inputs_.network = net::Prefix::parse("10.244.0.0/16");
        inputs_.own = own_;
        inputs_.leases = &leases_;
        inputs_.underlay = {7, "eth0", net::Address::parse("192.0.2.3"), 1500};
    }

    subnet::Lease own_;
    std::map<net::Prefix, subnet::Lease> leases_;
    node::NodeInputs inputs_;
    backend::VxlanBackend vxlan_{subnet::VxlanBackend{1, 8472}};
};

namespace {

void expect_same(const reconcile::ObjectSet& a, const reconcile::ObjectSet& b,
                 const std::string& what) {
    EXPECT_EQ(a.routes, b.routes) << what;
    EXPECT_EQ(a.neighbours, b.neighbours) << what;
    EXPECT_EQ(a.fdb, b.fdb) << what;
}

// The flat sets hold every peer's objects, each peer's exactly what the backend gives for its
// lease, and nothing else.
void expect_each_peer_as_the_backend_gives_it(const node::DesiredState& state,
                                              const backend::Backend& backend) {
    std::size_t objects = 0, device_peers = 0;
    for (const auto& [subnet, peer] : state.peers) {
        const auto want = node::peer_objects(backend, state.context, *peer.lease);
        ASSERT_TRUE(want) << subnet.to_string();
        const auto got = state.objects_of(subnet);
        const auto name = subnet.to_string();
        expect_same(got.objects, want->objects, name);
        expect_same(got.ipv6_device_objects, want->ipv6_device_objects, name);
        expect_same(got.underlay_objects, want->underlay_objects, name);
        EXPECT_EQ(got.device_peer, want->device_peer) << name;
        EXPECT_EQ(got.off_link, want->off_link) << name;
        EXPECT_EQ(peer.off_link, want->off_link) << name;
        objects +=
            want->objects.size() + want->ipv6_device_objects.size() + want->underlay_objects.size();
        device_peers += want->device_peer ? 1 : 0;
    }
    const auto& sets = state.peer_sets;
    EXPECT_EQ(sets.objects.size() + sets.ipv6_device_objects.size() + sets.underlay_objects.size(),
              objects);
    EXPECT_EQ(sets.device_peers.size(), device_peers);
}

}  // namespace

TEST_F(DesiredStateTest, BridgeHoldsTheGatewayAndSubnetJsonMatches) {
    const auto state = node::desired_state(vxlan_, inputs_);
    EXPECT_EQ(state.bridge.name, "twill0");
    EXPECT_EQ(state.bridge.kind, reconcile::DeviceSpec::Kind::bridge);
    ASSERT_EQ(state.bridge.addresses.size(), 1u);
    EXPECT_EQ(state.bridge.addresses[0].to_string(), "10.244.3.1/24");
    EXPECT_EQ(state.subnet_file.gateway, net::Address::parse("10.244.3.1"));
    EXPECT_EQ(state.subnet_file.subnet.to_string(), "10.244.3.0/24");
    EXPECT_EQ(state.subnet_file.network.to_string(), "10.244.0.0/16");
    EXPECT_EQ(state.subnet_file.bridge, "twill0");
    EXPECT_FALSE(state.bridge_ports);
}

TEST_F(DesiredStateTest, UnreachableRouteCoversTheNetworkBehindEverything) {
    const auto state = node::desired_state(vxlan_, inputs_);
    ASSERT_EQ(state.unreachable.size(), 1u);
    EXPECT_EQ(state.unreachable[0].destination.to_string(), "10.244.0.0/16");
    EXPECT_EQ(state.unreachable[0].type, netlink::RouteType::unreachable);
    EXPECT_EQ(state.unreachable[0].protocol, reconcile::twill_route_protocol);
    EXPECT_EQ(state.unreachable[0].priority, node::kUnreachableMetric);
}

TEST_F(DesiredStateTest, MtuFollowsTheUnderlayUnlessPinned) {
    auto state = node::desired_state(vxlan_, inputs_);
    EXPECT_EQ(state.context.overlay_mtu, 1450u);
    EXPECT_EQ(state.bridge.mtu, 1450u);
    EXPECT_EQ(state.subnet_file.mtu, 1450);
    inputs_.underlay.mtu = 9000;
    EXPECT_EQ(node::desired_state(vxlan_, inputs_).subnet_file.mtu, 8950);
    inputs_.mtu = 1300;
    state = node::desired_state(vxlan_, inputs_);
    EXPECT_EQ(state.context.overlay_mtu, 1300u);
    EXPECT_EQ(state.bridge.mtu, 1300u);
}

TEST_F(DesiredStateTest, MasqueradeTableUnlessIpMasqIsOff) {
    auto state = node::desired_state(vxlan_, inputs_);
    ASSERT_TRUE(state.firewall);
    EXPECT_EQ(state.firewall->network.to_string(), "10.244.0.0/16");
    EXPECT_EQ(state.firewall->subnet.to_string(), "10.244.3.0/24");
    inputs_.ip_masq = false;
    EXPECT_FALSE(node::desired_state(vxlan_, inputs_).firewall);
}

TEST_F(DesiredStateTest, ForwardingIsTheOneSysctl) {
    const auto state = node::desired_state(vxlan_, inputs_);
    ASSERT_EQ(state.sysctls.size(), 1u);
    EXPECT_EQ(state.sysctls[0].name, "net.ipv4.ip_forward");
    EXPECT_EQ(state.sysctls[0].value, "1");
}

TEST_F(DesiredStateTest, VxlanPeersKeyedBySubnetWithRouteNeighbourAndFdb) {
    const auto state = node::desired_state(vxlan_, inputs_);
    ASSERT_EQ(state.peers.size(), 2u);  // the own lease is no peer
    EXPECT_EQ(state.peers.at(net::Prefix::parse("10.244.5.0/24")).lease->value.node, "b");
    const auto b = state.objects_of(net::Prefix::parse("10.244.5.0/24"));
    ASSERT_EQ(b.objects.routes.size(), 1u);
    EXPECT_EQ(b.objects.routes[0].gateway, net::Address::parse("10.244.5.0"));
    ASSERT_EQ(b.objects.fdb.size(), 1u);
    EXPECT_EQ(b.objects.fdb[0].dst, net::Address::parse("192.0.2.5"));
    EXPECT_EQ(b.objects.neighbours.size(), 1u);
    EXPECT_FALSE(b.device_peer);
    EXPECT_TRUE(state.peers.contains(net::Prefix::parse("10.244.9.0/24")));
}

// DirectRouting: a peer on a subnet of the underlay interface gets a route via its public
// address and no VXLAN entry; one elsewhere keeps VXLAN.
TEST_F(DesiredStateTest, DirectRoutingForPeersOnTheUnderlaysSubnet) {
    inputs_.underlay.prefixes = {net::Prefix::parse("192.0.2.3/28")};  // b (.5) and c (.9)
    const auto far = vxlan_lease("10.244.11.0/24", "198.51.100.11", "far", 11);
    leases_.emplace(far.subnet, far);
    subnet::VxlanBackend config{1, 8472};
    config.direct_routing = true;
    const backend::VxlanBackend direct(config);
    const auto state = node::desired_state(direct, inputs_);
    ASSERT_EQ(state.peers.size(), 3u);
    const auto b = state.objects_of(net::Prefix::parse("10.244.5.0/24"));
    EXPECT_EQ(b.objects.size(), 0u);
    ASSERT_EQ(b.underlay_objects.routes.size(), 1u);
    EXPECT_EQ(b.underlay_objects.routes[0].gateway, net::Address::parse("192.0.2.5"));
    EXPECT_EQ(b.underlay_objects.routes[0].protocol, reconcile::twill_route_protocol);
    EXPECT_FALSE(b.underlay_objects.routes[0].onlink);
    EXPECT_TRUE(b.underlay_objects.neighbours.empty());
    EXPECT_TRUE(b.underlay_objects.fdb.empty());
    const auto f = state.objects_of(far.subnet);
    EXPECT_TRUE(f.underlay_objects.routes.empty());
    EXPECT_EQ(f.objects.fdb.size(), 1u);
    EXPECT_EQ(f.objects.routes.size(), 1u);
    // One MTU per node: VXLAN's, as flannel does.
    EXPECT_EQ(state.context.overlay_mtu, 1450u);
    // Without DirectRouting, all VXLAN.
    const auto plain = node::desired_state(vxlan_, inputs_);
    EXPECT_TRUE(
        plain.objects_of(net::Prefix::parse("10.244.5.0/24")).underlay_objects.routes.empty());
}

// host-gw: direct routes only; an off-link peer is flagged and gets nothing; pods get the
// underlay's MTU.
TEST_F(DesiredStateTest, HostGwRoutesOnLinkPeersAndFlagsTheOthers) {
    const auto host_gw_lease = [](const char* subnet, const char* ip, const char* node) {
        auto l = vxlan_lease(subnet, ip, node, 1);
        l.value.backend_data = subnet::HostGwLeaseData{};
        return l;
    };
    leases_.clear();
    for (const auto& l : {host_gw_lease("10.244.3.0/24", "192.0.2.3", "a"),
                          host_gw_lease("10.244.5.0/24", "192.0.2.5", "b"),
                          host_gw_lease("10.244.11.0/24", "198.51.100.11", "far")}) {
        leases_.emplace(l.subnet, l);
    }
    inputs_.own = leases_.at(net::Prefix::parse("10.244.3.0/24"));
    inputs_.underlay.prefixes = {net::Prefix::parse("192.0.2.3/24")};
    const backend::HostGwBackend host_gw;
    const auto state = node::desired_state(host_gw, inputs_);
    ASSERT_EQ(state.peers.size(), 2u);
    const auto b = state.objects_of(net::Prefix::parse("10.244.5.0/24"));
    EXPECT_FALSE(b.off_link);
    ASSERT_EQ(b.underlay_objects.routes.size(), 1u);
    EXPECT_EQ(b.underlay_objects.routes[0].gateway, net::Address::parse("192.0.2.5"));
    const auto f = state.objects_of(net::Prefix::parse("10.244.11.0/24"));
    EXPECT_TRUE(f.off_link);
    EXPECT_EQ(f.underlay_objects.size() + f.objects.size(), 0u);
    EXPECT_EQ(state.context.overlay_mtu, 1500u);
    EXPECT_EQ(state.subnet_file.mtu, 1500);
    // A VXLAN lease is another backend's: no peer.
    leases_.emplace(net::Prefix::parse("10.244.9.0/24"),
                    vxlan_lease("10.244.9.0/24", "192.0.2.9", "c", 9));
    EXPECT_EQ(node::desired_state(host_gw, inputs_).peers.size(), 2u);
}

// A lease that parses but lies: a PublicIP that is this node's own address, or the
// broadcast address of the underlay's subnet, is on the subnet yet no gateway (the kernel
// refuses such a route, and one refused route would keep the node from being ready).
TEST_F(DesiredStateTest, APublicIPNoRouteCanUseIsNeverADirectGateway) {
    inputs_.underlay.prefixes = {net::Prefix::parse("192.0.2.3/24")};
    leases_.clear();
    leases_.emplace(own_.subnet, own_);
    for (const auto& l : {vxlan_lease("10.244.5.0/24", "192.0.2.3", "liar", 5),
                          vxlan_lease("10.244.9.0/24", "192.0.2.255", "broadcast", 9)}) {
        leases_.emplace(l.subnet, l);
    }
    subnet::VxlanBackend config{1, 8472};
    config.direct_routing = true;
    const auto direct = node::desired_state(backend::VxlanBackend(config), inputs_);
    for (const auto& [subnet, peer] : direct.peers) {
        const auto objects = direct.objects_of(subnet);
        EXPECT_TRUE(objects.underlay_objects.routes.empty()) << subnet.to_string();
        EXPECT_EQ(objects.objects.fdb.size(), 1u) << subnet.to_string();
    }
    for (auto& [subnet, lease] : leases_) lease.value.backend_data = subnet::HostGwLeaseData{};
    inputs_.own = leases_.at(own_.subnet);
    const auto host_gw = node::desired_state(backend::HostGwBackend(), inputs_);
    ASSERT_EQ(host_gw.peers.size(), 2u);
    for (const auto& [subnet, peer] : host_gw.peers) {
        EXPECT_TRUE(peer.off_link) << subnet.to_string();
        const auto objects = host_gw.objects_of(subnet);
        EXPECT_TRUE(objects.off_link) << subnet.to_string();
        EXPECT_TRUE(objects.underlay_objects.routes.empty()) << subnet.to_string();
    }
}

TEST_F(DesiredStateTest, APeerIsAnotherNodeOnAnotherSubnet) {
    // A stale lease of this node's own name (an old subnet being given up) is no peer.
    const auto stale = vxlan_lease("10.244.7.0/24", "192.0.2.3", "a", 7);
    leases_.emplace(stale.subnet, stale);
    EXPECT_FALSE(node::is_peer(stale, own_.subnet, "a"));
    EXPECT_FALSE(node::is_peer(own_, own_.subnet, "a"));
    EXPECT_TRUE(node::is_peer(leases_.at(net::Prefix::parse("10.244.5.0/24")), own_.subnet, "a"));
    EXPECT_EQ(node::desired_state(vxlan_, inputs_).peers.size(), 2u);
}

TEST_F(DesiredStateTest, LeasesOfAnotherBackendAreNoPeers) {
    const auto wg = wireguard_lease("10.244.11.0/24", "192.0.2.11", "w", 1);
    leases_.emplace(wg.subnet, wg);
    EXPECT_EQ(node::desired_state(vxlan_, inputs_).peers.size(), 2u);
}

TEST_F(DesiredStateTest, WireguardPeersCarryTheDevicePeerAndALinkRoute) {
    leases_.clear();
    own_ = wireguard_lease("10.244.3.0/24", "192.0.2.3", "a", 3);
    inputs_.own = own_;
    leases_.emplace(own_.subnet, own_);
    const auto b = wireguard_lease("10.244.5.0/24", "192.0.2.5", "b", 5);
    leases_.emplace(b.subnet, b);
    subnet::WireguardBackend config;
    config.listen_port = 51820;
    config.persistent_keepalive_interval = 25;
    backend::WireguardBackend wireguard(config, backend::generate_key_pair(),
                                        std::make_unique<twill::testing::NoWireguardDevice>());
    const auto state = node::desired_state(wireguard, inputs_);
    EXPECT_EQ(state.context.overlay_mtu, 1440u);
    ASSERT_EQ(state.peers.size(), 1u);
    const auto peer = state.objects_of(state.peers.begin()->first);
    ASSERT_TRUE(peer.device_peer);
    EXPECT_EQ(peer.device_peer->endpoint->to_string(), "192.0.2.5:51820");
    ASSERT_EQ(peer.device_peer->allowed_ips.size(), 1u);
    EXPECT_EQ(peer.device_peer->allowed_ips[0].to_string(), "10.244.5.0/24");
    EXPECT_EQ(peer.device_peer->persistent_keepalive, 25);
    ASSERT_EQ(peer.objects.routes.size(), 1u);
    EXPECT_EQ(peer.objects.routes[0].scope, netlink::route_scope_link);
    EXPECT_TRUE(peer.objects.fdb.empty());
}

TEST_F(DesiredStateTest, BridgePortsPassThrough) {
    inputs_.bridge_ports = std::vector<std::string>{"tw0123456789ab"};
    const auto state = node::desired_state(vxlan_, inputs_);
    ASSERT_TRUE(state.bridge_ports);
    EXPECT_EQ(state.bridge_ports->front(), "tw0123456789ab");
}

}  // namespace

// Dual-stack: every IPv4 object gets its IPv6 twin over the same overlay device; a v4-only
// peer gets no IPv6 entry.
class DualStackDesiredStateTest : public DesiredStateTest {
  protected:
    DualStackDesiredStateTest() {
        leases_.clear();
        own_.ipv6_subnet = net::Prefix::parse("fd00:10:244:3::/64");
        leases_.emplace(own_.subnet, own_);
        auto b = vxlan_lease("10.244.5.0/24", "192.0.2.5", "b", 5);
        b.ipv6_subnet = net::Prefix::parse("fd00:10:244:5::/64");
        leases_.emplace(b.subnet, b);
        auto c = vxlan_lease("10.244.9.0/24", "192.0.2.9", "c", 9);  // v4-only
        leases_.emplace(c.subnet, c);
        inputs_.own = own_;
        inputs_.ipv6_network = net::Prefix::parse("fd00:10:244::/48");
    }
};

TEST_F(DualStackDesiredStateTest, EveryObjectHasItsIPv6Twin) {
    const auto state = node::desired_state(vxlan_, inputs_);
    EXPECT_EQ(state.bridge.addresses,
              (std::vector<net::Prefix>{net::Prefix::parse("10.244.3.1/24"),
                                        net::Prefix::parse("fd00:10:244:3::1/64")}));
    const auto devices = vxlan_.devices(state.context);
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0].addresses,
              (std::vector<net::Prefix>{net::Prefix::parse("10.244.3.0/32"),
                                        net::Prefix::parse("fd00:10:244:3::/128")}));
    ASSERT_EQ(state.unreachable.size(), 2u);
    EXPECT_EQ(state.unreachable[1].destination.to_string(), "fd00:10:244::/48");
    ASSERT_EQ(state.sysctls.size(), 2u);
    EXPECT_EQ(state.sysctls[1].name, "net.ipv6.conf.all.forwarding");
    ASSERT_TRUE(state.subnet_file.ipv6);
    EXPECT_EQ(state.subnet_file.ipv6->gateway, net::Address::parse("fd00:10:244:3::1"));
    ASSERT_TRUE(state.firewall && state.firewall->ipv6);
    EXPECT_EQ(state.firewall->ipv6->subnet.to_string(), "fd00:10:244:3::/64");

    const auto b = state.objects_of(net::Prefix::parse("10.244.5.0/24")).objects;
    ASSERT_EQ(b.routes.size(), 2u);
    EXPECT_EQ(b.routes[1].destination.to_string(), "fd00:10:244:5::/64");
    EXPECT_EQ(b.routes[1].gateway, net::Address::parse("fd00:10:244:5::"));
    ASSERT_EQ(b.neighbours.size(), 2u);
    EXPECT_EQ(b.neighbours[1].address, net::Address::parse("fd00:10:244:5::"));
    EXPECT_EQ(b.neighbours[1].lladdr, b.neighbours[0].lladdr);
    EXPECT_EQ(b.fdb.size(), 1u);  // one VTEP, both families

    const auto c = state.objects_of(net::Prefix::parse("10.244.9.0/24")).objects;
    EXPECT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.neighbours.size(), 1u);
}

TEST_F(DualStackDesiredStateTest, WireguardAllowsBothSubnets) {
    leases_.clear();
    auto own = wireguard_lease("10.244.3.0/24", "192.0.2.3", "a", 3);
    own.ipv6_subnet = net::Prefix::parse("fd00:10:244:3::/64");
    auto b = wireguard_lease("10.244.5.0/24", "192.0.2.5", "b", 5);
    b.ipv6_subnet = net::Prefix::parse("fd00:10:244:5::/64");
    leases_.emplace(own.subnet, own);
    leases_.emplace(b.subnet, b);
    inputs_.own = own;
    backend::WireguardBackend wireguard(subnet::WireguardBackend{}, backend::generate_key_pair(),
                                        std::make_unique<twill::testing::NoWireguardDevice>());
    const auto state = node::desired_state(wireguard, inputs_);
    const auto peer = state.objects_of(net::Prefix::parse("10.244.5.0/24"));
    ASSERT_TRUE(peer.device_peer);
    EXPECT_EQ(peer.device_peer->allowed_ips,
              (std::vector<net::Prefix>{net::Prefix::parse("10.244.5.0/24"),
                                        net::Prefix::parse("fd00:10:244:5::/64")}));
    EXPECT_EQ(peer.objects.routes.size(), 2u);
}

TEST_F(DualStackDesiredStateTest, AnOwnLeaseWithoutItsIPv6HalfIsIPv4Only) {
    inputs_.own.ipv6_subnet.reset();
    const auto state = node::desired_state(vxlan_, inputs_);
    EXPECT_EQ(state.bridge.addresses.size(), 1u);
    EXPECT_FALSE(state.subnet_file.ipv6);
    EXPECT_EQ(state.unreachable.size(), 1u);
    EXPECT_EQ(state.objects_of(net::Prefix::parse("10.244.5.0/24")).objects.routes.size(), 1u);
}

// With an IPv6 underlay address beside the IPv4 one, IPv6 rides twill-v6.<VNI> towards peers
// that announce PublicIPv6 and BackendV6Data, and the IPv4 device towards the others.
TEST_F(DualStackDesiredStateTest, IPv6UnderlayCarriesIPv6OverItsOwnDevice) {
    inputs_.underlay.ipv6_address = net::Address::parse("2001:db8::3");
    auto& b = leases_.at(net::Prefix::parse("10.244.5.0/24"));
    b.value.public_ipv6 = net::Address::parse("2001:db8::5");
    b.value.backend_v6_data = subnet::VxlanLeaseData{net::MacAddress::parse("02:00:00:00:66:05")};
    auto c = vxlan_lease("10.244.9.0/24", "192.0.2.9", "c", 9);  // dual-stack, no IPv6 underlay
    c.ipv6_subnet = net::Prefix::parse("fd00:10:244:9::/64");
    leases_.insert_or_assign(c.subnet, c);
    const auto state = node::desired_state(vxlan_, inputs_);

    const auto devices = vxlan_.devices(state.context);
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0].addresses, std::vector<net::Prefix>{net::Prefix::parse("10.244.3.0/32")})
        << "the IPv6 address moves to the IPv6 device";
    const auto v6_data = vxlan_.lease_data_v6(state.context);
    ASSERT_TRUE(v6_data);
    EXPECT_EQ(std::get<subnet::VxlanLeaseData>(*v6_data).vtep_mac,
              backend::VxlanBackend::vtep_mac_v6("a", 1));

    const auto to_b = state.objects_of(b.subnet);
    EXPECT_EQ(to_b.objects.routes.size(), 1u);
    ASSERT_EQ(to_b.ipv6_device_objects.routes.size(), 1u);
    EXPECT_EQ(to_b.ipv6_device_objects.routes[0].destination.to_string(), "fd00:10:244:5::/64");
    ASSERT_EQ(to_b.ipv6_device_objects.fdb.size(), 1u);
    EXPECT_EQ(to_b.ipv6_device_objects.fdb[0].dst, net::Address::parse("2001:db8::5"));
    EXPECT_EQ(to_b.ipv6_device_objects.neighbours[0].lladdr,
              net::MacAddress::parse("02:00:00:00:66:05"));

    const auto to_c = state.objects_of(c.subnet);
    EXPECT_EQ(to_c.objects.routes.size(), 2u) << "IPv6 to c rides the IPv4 device";
    EXPECT_TRUE(to_c.ipv6_device_objects.routes.empty());
}

namespace {

// DirectRouting in dual-stack: a peer goes direct only when each of its routed subnets has an
// on-link public address of its family; otherwise all of it stays on VXLAN.
TEST_F(DualStackDesiredStateTest, DirectRoutingNeedsAnOnLinkAddressPerFamily) {
    inputs_.underlay.prefixes = {net::Prefix::parse("192.0.2.3/24"),
                                 net::Prefix::parse("2001:db8:2::/64")};
    subnet::VxlanBackend config{1, 8472};
    config.direct_routing = true;
    const backend::VxlanBackend direct(config);

    auto state = node::desired_state(direct, inputs_);
    // b has an IPv6 subnet but no PublicIPv6: VXLAN for both families.
    const auto b = state.objects_of(net::Prefix::parse("10.244.5.0/24"));
    EXPECT_TRUE(b.underlay_objects.routes.empty());
    EXPECT_EQ(b.objects.routes.size(), 2u);
    // c is v4-only: one direct route.
    const auto c = state.objects_of(net::Prefix::parse("10.244.9.0/24"));
    ASSERT_EQ(c.underlay_objects.routes.size(), 1u);
    EXPECT_TRUE(c.objects.routes.empty());

    leases_.at(net::Prefix::parse("10.244.5.0/24")).value.public_ipv6 =
        net::Address::parse("2001:db8:2::15");
    state = node::desired_state(direct, inputs_);
    const auto b2 = state.objects_of(net::Prefix::parse("10.244.5.0/24"));
    ASSERT_EQ(b2.underlay_objects.routes.size(), 2u);
    EXPECT_EQ(b2.underlay_objects.routes[1].destination.to_string(), "fd00:10:244:5::/64");
    EXPECT_EQ(b2.underlay_objects.routes[1].gateway, net::Address::parse("2001:db8:2::15"));
    EXPECT_EQ(b2.objects.size() + b2.ipv6_device_objects.size(), 0u);
}

}  // namespace

// Peers of every shape side by side (IPv6 over its own device, IPv6 over the IPv4 device,
// IPv4 only, direct, over VXLAN, first and last in subnet order): each gets back exactly its
// own objects from the desired state's flat sets.
TEST_F(DualStackDesiredStateTest, EachPeerGetsBackExactlyItsOwnObjects) {
    inputs_.underlay.ipv6_address = net::Address::parse("2001:db8::3");
    auto& b = leases_.at(net::Prefix::parse("10.244.5.0/24"));
    b.value.public_ipv6 = net::Address::parse("2001:db8::5");
    b.value.backend_v6_data = subnet::VxlanLeaseData{net::MacAddress::parse("02:00:00:00:66:05")};
    auto c = vxlan_lease("10.244.9.0/24", "192.0.2.9", "c", 9);
    c.ipv6_subnet = net::Prefix::parse("fd00:10:244:9::/64");
    leases_.insert_or_assign(c.subnet, c);
    for (const auto& l : {vxlan_lease("10.244.1.0/24", "192.0.2.1", "d", 1),
                          vxlan_lease("10.244.12.0/24", "198.51.100.12", "e", 12)}) {
        leases_.emplace(l.subnet, l);
    }
    const auto vxlan = node::desired_state(vxlan_, inputs_);
    ASSERT_EQ(vxlan.peers.size(), 4u);
    expect_each_peer_as_the_backend_gives_it(vxlan, vxlan_);
    EXPECT_FALSE(vxlan.objects_of(b.subnet).ipv6_device_objects.fdb.empty());

    inputs_.underlay.prefixes = {net::Prefix::parse("192.0.2.3/24"),
                                 net::Prefix::parse("2001:db8::/64")};
    subnet::VxlanBackend config{1, 8472};
    config.direct_routing = true;
    const backend::VxlanBackend direct_backend(config);
    const auto direct = node::desired_state(direct_backend, inputs_);
    expect_each_peer_as_the_backend_gives_it(direct, direct_backend);
    EXPECT_EQ(direct.objects_of(b.subnet).underlay_objects.routes.size(), 2u);
    EXPECT_FALSE(direct.objects_of(net::Prefix::parse("10.244.12.0/24")).objects.fdb.empty());

    EXPECT_THROW(direct.objects_of(own_.subnet), std::out_of_range);
}

TEST_F(DesiredStateTest, EveryWireguardPeerGetsBackItsOwnDevicePeer) {
    leases_.clear();
    own_ = wireguard_lease("10.244.3.0/24", "192.0.2.3", "a", 3);
    inputs_.own = own_;
    leases_.emplace(own_.subnet, own_);
    for (int i : {1, 5, 9}) {
        const auto n = std::to_string(i);
        const auto subnet = "10.244." + n + ".0/24", ip = "192.0.2." + n, node = "n" + n;
        const auto l =
            wireguard_lease(subnet.c_str(), ip.c_str(), node.c_str(), static_cast<std::uint8_t>(i));
        leases_.emplace(l.subnet, l);
    }
    subnet::WireguardBackend config;
    config.listen_port = 51820;
    backend::WireguardBackend wireguard(config, backend::generate_key_pair(),
                                        std::make_unique<twill::testing::NoWireguardDevice>());
    const auto state = node::desired_state(wireguard, inputs_);
    ASSERT_EQ(state.peers.size(), 3u);
    expect_each_peer_as_the_backend_gives_it(state, wireguard);
    EXPECT_EQ(state.peer_sets.device_peers.size(), 3u);
}
