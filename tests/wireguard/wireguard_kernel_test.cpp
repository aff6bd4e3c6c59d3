// The kernel path against a real kernel with WireGuard: the generic netlink messages on one
// device, then twilld with --wireguard-impl kernel in a three-node cluster with real etcd (the
// scenarios wireguard_integration_test runs with wireguard-go). Where the kernel has no
// WireGuard the tests are skipped and say why; scripts/test-vm runs them on Debian 12's
// kernel (6.1) in a VM, where a skip is a failure.
#include "netns_topology.hpp"
#include "twill/netlink/handle.hpp"
#include "wireguard_cluster.hpp"

using namespace twill;
using namespace twill::testing;

namespace {

TEST(WireguardKernel, ConfiguresADeviceOverGenericNetlink) {
    TWILL_REQUIRE_ROOT();
    TWILL_REQUIRE_KERNEL_WIREGUARD();
    NetnsTopology topology;
    const auto& ns = topology.add_namespace("wgk");
    netlink::Handle handle(ns.netns());
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

class WireguardKernelCluster : public WireguardCluster {
  protected:
    WireguardKernelCluster() : WireguardCluster("kernel") {}
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        TWILL_REQUIRE_KERNEL_WIREGUARD();
        WireguardCluster::SetUp();
    }
};

TEST_F(WireguardKernelCluster, EncryptedMeshCaptureAndHandAddedPeer) {
    mesh_capture_and_hand_added_peer();
    if (HasFatalFailure()) return;
    // The kernel's device is twilld's own: no wireguard-go was started.
    for (const auto& n : {"a", "b", "c"}) EXPECT_FALSE(cluster_->wireguard_go_pid(n)) << n;
}

TEST_F(WireguardKernelCluster, PeersFollowRekeyAddressChangeAndLeave) {
    rekey_address_change_and_leave();
}

}  // namespace
