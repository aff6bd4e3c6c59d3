// Peer health probes end to end (issue 10): real etcd, three node namespaces running twilld,
// over VXLAN and over WireGuard (wireguard-go). A node whose encapsulation port is dropped by
// nftables must be reported unreachable by its peers, and reachable again once it is not.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "cluster_test.hpp"
#include "require_root.hpp"
#include "twill/sys/file.hpp"
#include "virtual_cluster.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;

namespace {

struct Backend {
    const char* name;
    const char* config;
    std::uint16_t port;
    std::vector<std::string> flags;
};

// The probe interval of the test: short, so two intervals pass quickly.
constexpr auto kInterval = 2s;

class TwilldProbeTest : public ClusterTest, public ::testing::WithParamInterface<Backend> {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        cluster_.emplace(GetParam().config);
    }
    std::vector<std::string> flags() const {
        auto f = GetParam().flags;
        f.insert(f.end(), {"--probe-interval", "2s"});
        return f;
    }
    void start(const std::vector<std::string>& names) {
        for (auto& [name, subnet] : cluster_->start_nodes(names, flags())) subnets_[name] = subnet;
    }
    nlohmann::json status(const std::string& node) {
        const auto result = cluster_->netctl(node, {"status", "--json"});
        if (result.output.empty() || result.output.front() != '{') return nlohmann::json::object();
        return nlohmann::json::parse(result.output);
    }
    // The probe state `node` holds for `peer` ("" when the peer is not in its table).
    std::string state(const std::string& node, const std::string& peer) {
        const auto s = status(node);
        for (const auto& p : s.value("peers", nlohmann::json::array())) {
            if (p.value("node", "") == peer)
                return p.contains("health") ? p["health"].value("state", "") : "no health";
        }
        return "";
    }
    bool all_reachable(const std::vector<std::string>& live) {
        for (const auto& a : live) {
            for (const auto& b : live) {
                if (a != b && state(a, b) != "reachable") return false;
            }
        }
        return true;
    }
    double metric(const std::string& node, const std::string& name) {
        const auto result =
            cluster_->run_in(node, {"busybox", "wget", "-qO-", "http://127.0.0.1:9474/metrics"});
        std::smatch match;
        const std::regex line("\n" + name + " ([0-9.e+]+)");
        if (!std::regex_search(result.output, match, line)) return -1;
        return std::stod(match[1]);
    }
    void expect_kernel_in_sync(const std::vector<std::string>& live) {
        for (const auto& n : live) {
            const auto check = cluster_->netctl(n, {"check"});
            EXPECT_EQ(check.exit_code, 0) << n << ": " << check.output;
        }
    }
    void drop_encapsulation(const std::string& node) {
        const auto port = std::to_string(GetParam().port);
        const auto result = cluster_->run_in(
            node,
            {"nft",
             "add table inet probe_test_drop\n"
             "add chain inet probe_test_drop input { type filter hook input priority -300; }\n"
             "add rule inet probe_test_drop input udp dport " +
                 port + " drop"});
        ASSERT_EQ(result.exit_code, 0) << result.output;
    }
    void allow_encapsulation(const std::string& node) {
        const auto result = cluster_->run_in(node, {"nft", "delete table inet probe_test_drop"});
        ASSERT_EQ(result.exit_code, 0) << result.output;
    }

    std::map<std::string, net::Prefix> subnets_;
};

TEST_P(TwilldProbeTest, UnreachableWhileTheEncapsulationPortIsDroppedReachableAfter) {
    start({"a", "b", "c"});
    ASSERT_TRUE(eventually([&] { return all_reachable({"a", "b", "c"}); }, 30s));
    auto s = status("a");
    EXPECT_EQ(s["probes"]["reachable"], 2) << s.dump();
    EXPECT_EQ(s["probes"]["interval_seconds"], 2.0);
    for (const auto& peer : s["peers"]) {
        EXPECT_GT(peer["health"]["rtt_ms"].get<double>(), 0) << peer.dump();
        EXPECT_FALSE(peer["health"]["last_seen"].get<std::string>().empty()) << peer.dump();
        EXPECT_EQ(peer["health"]["address"], subnets_[peer["node"]].first().plus(1).to_string());
    }
    auto check = cluster_->netctl("a", {"check", "--probe"});
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_NE(check.output.find("probed 2 peers: 2 reachable"), std::string::npos) << check.output;
    const auto peers = cluster_->netctl("b", {"peers"});
    EXPECT_NE(peers.output.find("REACHABLE"), std::string::npos) << peers.output;

    drop_encapsulation("c");
    const auto dropped = std::chrono::steady_clock::now();
    // Within two intervals by design; the bound here is generous for sanitizer builds.
    EXPECT_TRUE(eventually(
        [&] { return state("a", "c") == "unreachable" && state("b", "c") == "unreachable"; }, 30s));
    std::cerr << "c reported unreachable by a and b after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - dropped)
                     .count()
              << " ms (probe interval 2000 ms)\n";
    EXPECT_EQ(state("a", "b"), "reachable");
    check = cluster_->netctl("a", {"check", "--probe"});
    EXPECT_EQ(check.exit_code, 1) << check.output;
    EXPECT_NE(check.output.find("1 unreachable"), std::string::npos) << check.output;
    EXPECT_NE(check.output.find(subnets_["c"].to_string()), std::string::npos) << check.output;
    const auto human = cluster_->netctl("a", {"status"});
    EXPECT_NE(human.output.find("Peers reachable: 1/2; unreachable: c since"), std::string::npos)
        << human.output;
    EXPECT_EQ(metric("a", "twill_peers_unreachable"), 1);
    EXPECT_EQ(metric("a", "twill_peers_reachable"), 1);
    EXPECT_GT(metric("a", "twill_probes_lost_total"), 0);
    EXPECT_GT(metric("a", "twill_probes_sent_total"), 0);
    EXPECT_GT(metric("a", "twill_probe_rtt_seconds_count"), 0);
    expect_kernel_in_sync({"a", "b", "c"});  // the kernel state stays exact throughout

    allow_encapsulation("c");
    EXPECT_TRUE(eventually([&] { return all_reachable({"a", "b", "c"}); }, 30s));
    EXPECT_EQ(metric("a", "twill_peers_unreachable"), 0);
    check = cluster_->netctl("a", {"check", "--probe"});
    EXPECT_EQ(check.exit_code, 0) << check.output;
    expect_kernel_in_sync({"a", "b", "c"});
}

TEST_P(TwilldProbeTest, ALeavingNodeLeavesEveryTableAndAJoiningOneIsProbedAtOnce) {
    start({"a", "b", "c"});
    ASSERT_TRUE(eventually([&] { return all_reachable({"a", "b", "c"}); }, 30s));
    const auto leave = cluster_->netctl("c", {"leave"});
    ASSERT_EQ(leave.exit_code, 0) << leave.output;
    EXPECT_TRUE(
        eventually([&] { return state("a", "c").empty() && state("b", "c").empty(); }, 30s));
    EXPECT_EQ(status("a")["probes"]["reachable"], 1);

    cluster_->add_node("d");
    cluster_->start_daemon("d", flags());
    subnets_["d"] = cluster_->wait_ready("d");
    const auto joined = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually(
        [&] { return state("a", "d") == "reachable" && state("b", "d") == "reachable"; }, 30s));
    std::cerr << "d reported reachable by a and b "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - joined)
                     .count()
              << " ms after its subnet.json appeared\n";
    EXPECT_EQ(status("a")["probes"]["reachable"], 2);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, TwilldProbeTest,
    ::testing::Values(
        Backend{"vxlan", R"({"Type":"vxlan","VNI":1,"Port":8472})", 8472, {}},
        Backend{"wireguard",
                R"({"Type":"wireguard","ListenPort":51820,"PersistentKeepaliveInterval":25})",
                51820,
                {"--wireguard-impl", "userspace"}}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
