// Egress masquerade end to end (issue 9): real etcd, node namespaces running twilld, pods
// (veths on twill0), and an "outside" host on the fabric that is not in Network.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cluster_test.hpp"
#include "require_root.hpp"
#include "twill/sys/file.hpp"
#include "virtual_cluster.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPort = "8080";

class TwilldMasqueradeTest : public ClusterTest {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        cluster_.emplace();
        web_root_ =
            std::filesystem::temp_directory_path() / ("twill-masq-" + std::to_string(::getpid()));
        // A CGI script answers with the client address the server sees.
        sys::make_directories(web_root_ / "cgi-bin");
        {
            std::ofstream script(web_root_ / "cgi-bin" / "ip");
            script << "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n";
        }
        std::filesystem::permissions(web_root_ / "cgi-bin" / "ip",
                                     std::filesystem::perms::owner_all);
    }
    void TearDown() override {
        servers_.clear();
        ClusterTest::TearDown();
        std::error_code ec;
        std::filesystem::remove_all(web_root_, ec);
    }

    CommandResult run_in_ns(const std::filesystem::path& ns, const std::vector<std::string>& argv) {
        SpawnOptions spawn;
        spawn.netns = ns;
        return run_command(argv, spawn, 20s);
    }
    void must(const std::filesystem::path& ns, const std::vector<std::string>& argv) {
        auto result = run_in_ns(ns, argv);
        ASSERT_EQ(result.exit_code, 0) << argv[0] << " " << argv[1] << ": " << result.output;
    }
    void serve(const std::filesystem::path& ns) {
        SpawnOptions spawn;
        spawn.netns = ns;
        servers_.push_back(std::make_unique<ChildProcess>(
            std::vector<std::string>{"busybox", "httpd", "-f", "-p",
                                     std::string("0.0.0.0:") + kPort, "-h", web_root_.string()},
            spawn));
    }
    // The client address a server at `server` saw for a request from namespace `from`.
    std::string seen_from(const std::filesystem::path& from, const net::Address& server) {
        std::string seen;
        eventually(
            [&] {
                auto r =
                    run_in_ns(from, {"timeout", "5", "busybox", "wget", "-q", "-O-",
                                     "http://" + server.to_string() + ":" + kPort + "/cgi-bin/ip"});
                if (r.exit_code != 0) return false;
                seen = r.output;
                while (!seen.empty() && (seen.back() == '\n' || seen.back() == '\r'))
                    seen.pop_back();
                return true;
            },
            20s);
        return seen;
    }

    // A pod namespace with eth0 (a veth on the node's twill0) at subnet .10.
    std::filesystem::path add_pod(const std::string& node, const net::Prefix& subnet,
                                  net::Address& ip) {
        const auto& ns = cluster_->topology().add_namespace("p" + node);
        const std::string host_end = "vp" + node;
        ip = subnet.first().plus(10);
        const auto node_ns = cluster_->netns_path(node);
        must(node_ns, {"ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                       "netns", ns.name()});
        must(node_ns, {"ip", "link", "set", host_end, "master", "twill0", "up"});
        must(ns.path(), {"ip", "addr", "add",
                         ip.to_string() + "/" + std::to_string(subnet.length()), "dev", "eth0"});
        must(ns.path(), {"ip", "link", "set", "eth0", "up"});
        must(ns.path(),
             {"ip", "route", "add", "default", "via", subnet.first().plus(1).to_string()});
        return ns.path();
    }

    std::map<std::string, net::Prefix> start(const std::vector<std::string>& names,
                                             const std::vector<std::string>& flags = {}) {
        return cluster_->start_nodes(names, flags);
    }
    bool has_table(const std::string& node) {
        return cluster_->run_in(node, {"nft", "list", "table", "inet", "twill"}).exit_code == 0;
    }
    std::string ruleset(const std::string& node) {
        return cluster_->run_in(node, {"nft", "-a", "list", "ruleset"}).output;
    }
    bool ready(const std::string& node) {
        auto status = cluster_->netctl(node, {"status", "--json"});
        if (status.exit_code != 0) return false;
        auto json = nlohmann::json::parse(status.output, nullptr, false);
        return !json.is_discarded() && json.value("ready", false);
    }

    std::filesystem::path web_root_;
    std::vector<std::unique_ptr<ChildProcess>> servers_;
};

TEST_F(TwilldMasqueradeTest, EgressIsMasqueradedPodToPodIsNot) {
    auto subnets = start({"a", "b"});
    const auto& outside = cluster_->add_node("out");
    // The outside host routes Network back via node a, so an unmasqueraded pod could answer.
    must(outside.netns.path(), {"ip", "route", "add", VirtualCluster::kNetwork, "via",
                                cluster_->node("a").address().to_string()});
    serve(outside.netns.path());
    net::Address pod_a, pod_b;
    const auto ns_a = add_pod("a", subnets["a"], pod_a);
    const auto ns_b = add_pod("b", subnets["b"], pod_b);
    serve(ns_b);

    ASSERT_TRUE(eventually([&] { return has_table("a"); }));
    EXPECT_EQ(seen_from(ns_a, outside.address()), cluster_->node("a").address().to_string());
    EXPECT_EQ(seen_from(ns_a, pod_b), pod_a.to_string());
    // A host process on node a reaches a pod on node b.
    EXPECT_FALSE(seen_from(cluster_->netns_path("a"), pod_b).empty());

    auto check = cluster_->netctl("a", {"check"});
    EXPECT_EQ(check.exit_code, 0) << check.output;

    // --ip-masq=false: the table goes, the outside server sees the pod IP.
    cluster_->stop_daemon("a");
    cluster_->start_daemon("a", {"--ip-masq=false"});
    EXPECT_TRUE(eventually([&] { return !has_table("a"); }));
    EXPECT_EQ(seen_from(ns_a, outside.address()), pod_a.to_string());
}

TEST_F(TwilldMasqueradeTest, TamperedTableIsRestoredOthersAreLeftAlone) {
    start({"a"});
    ASSERT_TRUE(eventually([&] { return has_table("a"); }));
    ASSERT_EQ(
        cluster_
            ->run_in("a", {"nft",
                           "add table ip other; add chain ip other c { type filter hook forward "
                           "priority 0; policy drop; }; add rule ip other c counter accept"})
            .exit_code,
        0);
    const auto other = cluster_->run_in("a", {"nft", "-a", "list", "table", "ip", "other"}).output;
    const auto good = cluster_->run_in("a", {"nft", "list", "table", "inet", "twill"}).output;

    ASSERT_EQ(cluster_->run_in("a", {"nft", "delete", "table", "inet", "twill"}).exit_code, 0);
    EXPECT_TRUE(eventually([&] { return has_table("a"); }, 10s));
    EXPECT_EQ(cluster_->run_in("a", {"nft", "list", "table", "inet", "twill"}).output, good);

    ASSERT_EQ(
        cluster_->run_in("a", {"nft", "flush", "chain", "inet", "twill", "postrouting"}).exit_code,
        0);
    ASSERT_EQ(
        cluster_->run_in("a", {"nft", "add", "rule", "inet", "twill", "postrouting", "accept"})
            .exit_code,
        0);
    EXPECT_TRUE(eventually(
        [&] {
            return cluster_->run_in("a", {"nft", "list", "table", "inet", "twill"}).output == good;
        },
        10s));
    EXPECT_EQ(cluster_->run_in("a", {"nft", "-a", "list", "table", "ip", "other"}).output, other);

    auto status = cluster_->netctl("a", {"status"});
    EXPECT_NE(status.output.find("ip other c"), std::string::npos) << status.output;
}

TEST_F(TwilldMasqueradeTest, RestartWithUnchangedRulesetTouchesNothing) {
    start({"a"});
    ASSERT_TRUE(eventually([&] { return has_table("a") && ready("a"); }));
    const auto before = ruleset("a");
    cluster_->stop_daemon("a");
    cluster_->start_daemon("a");
    ASSERT_TRUE(eventually([&] { return ready("a"); }));
    auto check = cluster_->netctl("a", {"check"});
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_EQ(ruleset("a"), before);  // same handles: no flush and re-add
}

TEST_F(TwilldMasqueradeTest, StatusCountsPodInterfacesAboveTheOverlayMtu) {
    auto subnets = start({"a"});
    ASSERT_TRUE(eventually([&] { return ready("a"); }));
    net::Address pod;
    add_pod("a", subnets["a"], pod);
    must(cluster_->netns_path("a"), {"ip", "link", "set", "vpa", "mtu", "1450"});
    auto status = cluster_->netctl("a", {"status"});
    EXPECT_EQ(status.output.find("pod interface(s)"), std::string::npos) << status.output;
    // The overlay is 1450 (underlay 1500 - VXLAN 50): a pod made before with 1500 is too big.
    must(cluster_->netns_path("a"), {"ip", "link", "set", "vpa", "mtu", "1500"});
    status = cluster_->netctl("a", {"status"});
    EXPECT_NE(
        status.output.find("1 pod interface(s) on twill0 have an MTU above the overlay MTU 1450"),
        std::string::npos)
        << status.output;
}

TEST_F(TwilldMasqueradeTest, DryRunReportsTheMissingTableAndWritesNothing) {
    cluster_->add_node("a");
    cluster_->start_daemon("a", {"--dry-run"});
    CommandResult check;
    ASSERT_TRUE(eventually([&] {
        check = cluster_->netctl("a", {"check"});
        return check.output.find("nftables") != std::string::npos;
    })) << check.output;
    EXPECT_EQ(check.exit_code, 1) << check.output;
    EXPECT_NE(check.output.find("table inet twill"), std::string::npos) << check.output;
    EXPECT_FALSE(has_table("a"));
}

}  // namespace
