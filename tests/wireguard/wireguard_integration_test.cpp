// The WireGuard backend end to end with --wireguard-impl userspace (issue 6): real etcd, three
// node namespaces on a fabric, the real twilld with Debian's wireguard-go. The same scenarios
// run against the kernel's WireGuard in wireguard_kernel_test.
#include "wireguard_cluster.hpp"

using namespace twill;
using namespace twill::testing;

namespace {

class WireguardUserspaceTest : public WireguardCluster {
  protected:
    WireguardUserspaceTest() : WireguardCluster("userspace") {}
};

TEST_F(WireguardUserspaceTest, EncryptedMeshCaptureHandAddedPeerAndWireguardGoRestart) {
    mesh_capture_and_hand_added_peer();
    if (HasFatalFailure()) return;

    // wireguard-go killed: twilld starts it again and restores its configuration.
    const auto pid = cluster_->wireguard_go_pid("a");
    ASSERT_TRUE(pid);
    ASSERT_EQ(::kill(*pid, SIGKILL), 0);
    EXPECT_TRUE(eventually(
        [&] {
            const auto now = cluster_->wireguard_go_pid("a");
            return now && *now != *pid && converged({"a", "b", "c"});
        },
        20s))
        << "wireguard-go was not restarted and reconfigured";
    expect_mesh({"a", "b", "c"});
}

TEST_F(WireguardUserspaceTest, PeersFollowRekeyAddressChangeAndLeave) {
    rekey_address_change_and_leave();
}

}  // namespace
