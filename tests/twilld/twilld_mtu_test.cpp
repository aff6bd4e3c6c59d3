// An overlay MTU that follows the underlay (issue 9): real etcd, two VXLAN nodes running
// twilld, pods made by the real CNI plugin. Node a's underlay MTU drops from 1500 to 1400
// while pods run.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cluster_test.hpp"
#include "require_root.hpp"
#include "twill/cni/node_subnet.hpp"
#include "virtual_cluster.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;

namespace {

class TwilldMtuTest : public ClusterTest {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        cluster_.emplace();
    }

    std::uint32_t link_mtu(const std::string& node, const std::string& link) {
        const auto found = cluster_->handle(node).find_link(link);
        return found ? found->mtu : 0;
    }
    std::uint32_t pod_mtu(const VirtualCluster::Pod& pod) {
        netlink::Handle handle(netlink::Netns::open_path(pod.netns));
        const auto eth0 = handle.find_link("eth0");
        return eth0 ? eth0->mtu : 0;
    }
    int subnet_json_mtu(const std::string& node) {
        const auto file = cni::read_node_subnet(cluster_->run_dir(node));
        return file ? file->mtu : 0;
    }
    nlohmann::json status_json(const std::string& node) {
        const auto status = cluster_->netctl(node, {"status", "--json"});
        auto json = nlohmann::json::parse(status.output, nullptr, false);
        return json.is_discarded() ? nlohmann::json::object() : json;
    }
    // One ping with DF set and `size` bytes of payload (IP packet: size + 28).
    CommandResult ping_df(const VirtualCluster::Pod& from, const net::Address& to, int size) {
        return cluster_->run_in_pod(
            from.name, {"ping", "-n", "-M", "do", "-s", std::to_string(size), "-c", "1", "-W", "2",
                        to.to_string()});
    }
    void must(const std::filesystem::path& netns, const std::vector<std::string>& argv) {
        SpawnOptions spawn;
        spawn.netns = netns;
        const auto result = run_command(argv, spawn);
        ASSERT_EQ(result.exit_code, 0) << argv.back() << ": " << result.output;
    }
};

TEST_F(TwilldMtuTest, OverlayFollowsTheUnderlayOlderPodsAreCountedAndToldFragNeeded) {
    auto subnets = cluster_->start_nodes({"a", "b"});
    const auto& older = cluster_->add_pod("a", "older");
    const auto& far = cluster_->add_pod("b", "far");
    ASSERT_EQ(pod_mtu(older), 1450u);
    ASSERT_EQ(link_mtu("a", "twill.1"), 1450u);
    ASSERT_TRUE(eventually([&] { return ping_df(older, far.ip, 1422).exit_code == 0; }, 20s))
        << "no full-size path across the overlay before the change: "
        << ping_df(older, far.ip, 1422).output;
    EXPECT_EQ(status_json("a").value("pod_interfaces_oversized", -1), 0);

    // Node a's wire to the fabric now carries 1400: both of its ends, so the underlay path
    // really is that small and a packet that the overlay lets through must fit it.
    must(cluster_->topology().fabric().path(), {"ip", "link", "set", "f-a", "mtu", "1400"});
    const auto changed = std::chrono::steady_clock::now();
    must(cluster_->netns_path("a"), {"ip", "link", "set", "eth0", "mtu", "1400"});
    ASSERT_TRUE(eventually(
        [&] {
            return link_mtu("a", "twill.1") == 1350 && link_mtu("a", "twill0") == 1350 &&
                   subnet_json_mtu("a") == 1350;
        },
        10s))
        << "twill.1 " << link_mtu("a", "twill.1") << ", twill0 " << link_mtu("a", "twill0")
        << ", subnet.json " << subnet_json_mtu("a");
    std::cout << "twill.1, twill0 and subnet.json at 1350 after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - changed)
                     .count()
              << " ms\n";
    EXPECT_EQ(link_mtu("b", "twill.1"), 1450u);  // b's underlay did not change

    const auto& newer = cluster_->add_pod("a", "newer");
    EXPECT_EQ(pod_mtu(newer), 1350u);
    EXPECT_EQ(pod_mtu(older), 1450u);  // pods keep what they were created with

    auto json = status_json("a");
    EXPECT_EQ(json.value("mtu", 0), 1350) << json.dump();
    EXPECT_EQ(json.value("pod_interfaces_oversized", -1), 1) << json.dump();
    const auto human = cluster_->netctl("a", {"status"});
    EXPECT_NE(human.output.find("Oversized pods:  1 interface(s) above MTU 1350"),
              std::string::npos)
        << human.output;
    const auto metrics =
        cluster_->run_in("a", {"busybox", "wget", "-qO-", "http://127.0.0.1:9474/metrics"});
    EXPECT_NE(metrics.output.find("\ntwill_pod_interfaces_oversized 1\n"), std::string::npos)
        << metrics.output;

    // A full-size packet of the new MTU crosses the overlay with DF set.
    CommandResult fits;
    EXPECT_TRUE(eventually(
        [&] {
            fits = ping_df(newer, far.ip, 1322);
            return fits.exit_code == 0;
        },
        10s))
        << fits.output;
    std::cout << "ping -M do -s 1322 from the new pod:\n" << fits.output;

    // The older pod's 1400-byte packet is refused by its node with the MTU to use, not lost.
    const auto too_big = ping_df(older, far.ip, 1372);
    std::cout << "ping -M do -s 1372 from the older pod:\n" << too_big.output;
    EXPECT_NE(too_big.exit_code, 0) << too_big.output;
    const bool told = too_big.output.find("mtu = 1350") != std::string::npos ||
                      too_big.output.find("mtu=1350") != std::string::npos;
    EXPECT_TRUE(told) << too_big.output;
    EXPECT_NE(too_big.output.find("From " + subnets["a"].first().plus(1).to_string()),
              std::string::npos)
        << "the answer should come from node a's gateway: " << too_big.output;

    cluster_->delete_pod("older");
    EXPECT_TRUE(eventually(
        [&] { return status_json("a").value("pod_interfaces_oversized", -1) == 0; }, 10s));
    cluster_->delete_pod("newer");
    cluster_->delete_pod("far");
    EXPECT_TRUE(eventually([&] { return status_json("a").value("pod_ips_in_use", -1) == 0; }, 10s));
}

}  // namespace
