// `twilld --uninstall` end to end: a node runs twilld with pods made by the real CNI plugin,
// masquerade on (so twill's nftables table exists) and an install step's plugin and conflist;
// after SIGTERM (the data plane stays) and --uninstall, with etcd stopped, the node's links,
// routes of every table, neighbours, FDB, nftables ruleset and CNI dirs are what they were
// before twill came. A second run changes nothing.
#include <gtest/gtest.h>

#include <set>

#include "cluster_test.hpp"
#include "require_root.hpp"
#include "twill/sys/file.hpp"
#include "virtual_cluster.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class TwilldUninstallTest : public ClusterTest, public ::testing::WithParamInterface<std::string> {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        cluster_.emplace(GetParam() == "wireguard" ? R"({"Type":"wireguard","ListenPort":51820})"
                                                   : R"({"Type":"vxlan","VNI":1,"Port":8472})");
        cni_root_ = fs::temp_directory_path() / (cluster_->topology().prefix() + "cni-dirs");
        fs::remove_all(cni_root_);
        fs::create_directories(bin_dir());
        fs::create_directories(conf_dir());
        // Another plugin's files, which uninstall must leave alone (one under twill's
        // default conflist name's neighbour, one a plugin binary).
        sys::write_file_atomic(bin_dir() / "portmap", "#!/bin/sh\n", 0755);
        sys::write_file_atomic(conf_dir() / "05-other.conflist", R"({"name":"other"})");
    }
    void TearDown() override {
        ClusterTest::TearDown();
        std::error_code ec;
        fs::remove_all(cni_root_, ec);
    }

    fs::path bin_dir() const { return cni_root_ / "bin"; }
    fs::path conf_dir() const { return cni_root_ / "net.d"; }

    std::string run(const std::string& node, std::vector<std::string> argv) {
        const auto result = cluster_->run_in(node, argv);
        EXPECT_EQ(result.exit_code, 0) << argv[0] << ": " << result.output;
        // `ip -d link` names each veth peer's namespace and says so on stderr when one of
        // another test's namespaces vanishes meanwhile (ctest -j2): not this node's state.
        std::string out;
        std::size_t at = 0;
        while (at < result.output.size()) {
            auto end = result.output.find('\n', at);
            if (end == std::string::npos) end = result.output.size() - 1;
            const auto line = result.output.substr(at, end - at + 1);
            if (!line.starts_with("Error: Peer netns reference is invalid")) out += line;
            at = end + 1;
        }
        return out;
    }

    // Everything uninstall must restore, as the tools print it.
    std::string snapshot(const std::string& node) {
        std::string out;
        auto section = [&](const std::string& title, std::vector<std::string> argv) {
            out += "== " + title + "\n" + run(node, argv);
        };
        section("links", {"ip", "-d", "link", "show"});
        section("routes v4", {"ip", "-4", "route", "show", "table", "all"});
        section("routes v6", {"ip", "-6", "route", "show", "table", "all"});
        // Entries the kernel learns by itself (ARP towards etcd) come and go; twill's are
        // permanent.
        section("neighbours v4", {"ip", "-4", "neigh", "show", "nud", "permanent"});
        section("neighbours v6", {"ip", "-6", "neigh", "show", "nud", "permanent"});
        section("fdb", {"bridge", "fdb", "show"});
        section("nft", {"nft", "list", "ruleset"});
        for (const auto& dir : {bin_dir(), conf_dir()}) {
            std::set<std::string> names;
            for (const auto& entry : fs::directory_iterator(dir)) {
                names.insert(entry.path().filename().string() + " " +
                             std::to_string(fs::file_size(entry.path())));
            }
            out += "== " + dir.string() + "\n";
            for (const auto& name : names) out += name + "\n";
        }
        return out;
    }

    // What the DaemonSet's init container does: the plugin and the conflist, and the record.
    void install_step(const std::string& node) {
        fs::copy_file(std::string(std::getenv("TWILL_BUILD_DIR")) + "/bin/twill",
                      bin_dir() / "twill");
        sys::write_file_atomic(
            conf_dir() / "10-twill.conflist",
            R"({"cniVersion":"1.0.0","name":"twill","plugins":[{"type":"twill"}]})");
        sys::make_directories(cluster_->state_dir(node));
        sys::write_file_atomic(cluster_->state_dir(node) / "cni-installed",
                               "bin twill\nconf 10-twill.conflist\n");
    }

    std::vector<std::string> uninstall_flags() const {
        return {"--uninstall", "--cni-bin-dir", bin_dir().string(), "--cni-conf-dir",
                conf_dir().string()};
    }

    fs::path cni_root_;
};

TEST_P(TwilldUninstallTest, LeavesTheNodeAsItWasBeforeTheInstall) {
    auto& cluster = *cluster_;
    cluster.add_node("a");
    cluster.add_node("b");
    // The underlay's IPv6 link-local address settles (DAD) on its own time, twill or not.
    ASSERT_TRUE(eventually(
        [&] {
            return run("a", {"ip", "-6", "route", "show", "table", "local"}).find("local fe80::") !=
                   std::string::npos;
        },
        20s));
    const auto before = snapshot("a");

    install_step("a");
    for (const auto* name : {"a", "b"}) cluster.start_daemon(name, {"--ip-masq=true"});
    for (const auto* name : {"a", "b"}) cluster.wait_ready(name);
    const auto& pod_a = cluster.add_pod("a", "pa");
    const auto& pod_b = cluster.add_pod("b", "pb");
    const auto pod_a_ns = pod_a.netns;
    ASSERT_TRUE(eventually(
        [&] {
            return cluster.run_in_pod("pa", {"ping", "-c1", "-W1", pod_b.ip.to_string()})
                       .exit_code == 0;
        },
        60s))
        << "pods never reached each other";
    ASSERT_NE(run("a", {"nft", "list", "tables"}).find("inet twill"), std::string::npos);
    ASSERT_NE(run("a", {"ip", "route", "show", "table", "all", "proto", "137"}), "");
    std::optional<pid_t> wireguard_go;
    if (GetParam() == "wireguard") {
        wireguard_go = cluster.wireguard_go_pid("a");
        ASSERT_TRUE(wireguard_go);
    }

    // Refused while the daemon answers: it would only put everything back.
    auto refused = cluster.run_twilld("a", uninstall_flags());
    EXPECT_EQ(refused.exit_code, 1) << refused.output;
    EXPECT_NE(refused.output.find("twilld is running"), std::string::npos) << refused.output;
    EXPECT_TRUE(cluster.handle("a").find_link("twill0"));

    ASSERT_EQ(cluster.stop_daemon("a"), 0);
    ASSERT_TRUE(cluster.handle("a").find_link("twill0")) << "SIGTERM keeps the data plane";
    cluster.etcd().stop();  // uninstall needs no etcd

    auto first = cluster.run_twilld("a", uninstall_flags());
    ASSERT_EQ(first.exit_code, 0) << first.output;
    EXPECT_EQ(snapshot("a"), before);
    EXPECT_FALSE(fs::exists(cluster.run_dir("a"))) << "run dir left";
    EXPECT_FALSE(fs::exists(cluster.state_dir("a"))) << "state dir left";
    EXPECT_FALSE(fs::exists(cluster.state_dir("a").parent_path() / "cni")) << "IP store left";
    EXPECT_TRUE(fs::exists(bin_dir() / "portmap"));
    EXPECT_TRUE(fs::exists(conf_dir() / "05-other.conflist"));
    if (wireguard_go) {
        EXPECT_TRUE(eventually([&] { return !process_alive(*wireguard_go); }, 10s))
            << "wireguard-go " << *wireguard_go << " still runs";
    }
    // The pod lost its interface with its host end.
    SpawnOptions in_pod;
    in_pod.netns = pod_a_ns;
    EXPECT_NE(run_command({"ip", "link", "show", "eth0"}, in_pod).exit_code, 0);

    auto second = cluster.run_twilld("a", uninstall_flags());
    EXPECT_EQ(second.exit_code, 0) << second.output;
    EXPECT_NE(second.output.find("nothing of twill's"), std::string::npos) << second.output;
    EXPECT_EQ(snapshot("a"), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, TwilldUninstallTest, ::testing::Values("vxlan", "wireguard"),
                         [](const auto& info) { return info.param; });

TEST(TwilldUninstallRecord, WithoutARecordOnlyTwillsOwnNamesGo) {
    TWILL_REQUIRE_ROOT();
    VirtualCluster cluster;
    cluster.add_node("a");
    const auto root = fs::temp_directory_path() / (cluster.topology().prefix() + "cni-norecord");
    fs::create_directories(root / "bin");
    fs::create_directories(root / "net.d");
    for (auto name : {"twill", "bridge", "twill-extra"})
        sys::write_file_atomic(root / "bin" / name, "x");
    for (auto name : {"10-twill.conflist", "10-flannel.conflist", "20-twill.conflist"})
        sys::write_file_atomic(root / "net.d" / name, "{}");
    const auto result =
        cluster.run_twilld("a", {"--uninstall", "--cni-bin-dir", (root / "bin").string(),
                                 "--cni-conf-dir", (root / "net.d").string()});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    std::set<std::string> left;
    for (const auto& dir : {root / "bin", root / "net.d"})
        for (const auto& entry : fs::directory_iterator(dir)) left.insert(entry.path().filename());
    fs::remove_all(root);
    EXPECT_EQ(left, (std::set<std::string>{"bridge", "twill-extra", "10-flannel.conflist",
                                           "20-twill.conflist"}));
}

TEST(TwilldUninstallRecord, ABadRecordChangesNothing) {
    TWILL_REQUIRE_ROOT();
    VirtualCluster cluster;
    cluster.add_node("a");
    const auto root = fs::temp_directory_path() / (cluster.topology().prefix() + "cni-bad");
    fs::create_directories(root / "bin");
    sys::write_file_atomic(root / "bin" / "twill", "x");
    sys::make_directories(cluster.state_dir("a"));
    sys::write_file_atomic(cluster.state_dir("a") / "cni-installed", "bin twill\nconf ../../x\n");
    sys::write_file_atomic(cluster.state_dir("a") / "lease.json", "{}");
    const auto result =
        cluster.run_twilld("a", {"--uninstall", "--cni-bin-dir", (root / "bin").string(),
                                 "--cni-conf-dir", (root / "net.d").string()});
    const bool plugin_kept = fs::exists(root / "bin" / "twill");
    fs::remove_all(root);
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_NE(result.output.find("cni-installed line 2"), std::string::npos) << result.output;
    EXPECT_TRUE(plugin_kept);
    EXPECT_TRUE(fs::exists(cluster.state_dir("a") / "lease.json"));
}

// --join (the way back after `netctl leave`) removes the leave marker before the daemon starts.
TEST(TwilldJoin, RemovesTheLeaveMarkerAndTheDaemonComesUp) {
    TWILL_REQUIRE_ROOT();
    VirtualCluster cluster;
    cluster.add_node("a");
    const auto marker = cluster.state_dir("a") / "left";
    sys::make_directories(cluster.state_dir("a"));
    sys::write_file_atomic(marker, "netctl leave\n");
    cluster.start_daemon("a", {"--join"});
    cluster.wait_ready("a");
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_NE(cluster.log("a").find("--join: removed"), std::string::npos) << cluster.log("a");
}

}  // namespace
