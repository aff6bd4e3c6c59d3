// Direct routes (issue 20), end to end: real etcd, node namespaces on one fabric, pods made by
// the real CNI plugin. VXLAN with DirectRouting reaches on-link peers by a plain route via
// their public address (no FDB entry, no VXLAN packet), falls back to VXLAN for a node moved
// behind a router into another subnet, and goes direct again when it comes back; host-gw
// routes on-link peers and reports the others.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster_test.hpp"
#include "require_root.hpp"
#include "twill/backend/vxlan_backend.hpp"
#include "virtual_cluster.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kDirectRouting =
    R"({"Type":"vxlan","VNI":1,"Port":8472,"DirectRouting":true})";
constexpr const char* kHostGw = R"({"Type":"host-gw"})";

class DirectTest : public ClusterTest {
  protected:
    void start(const char* backend, const std::vector<std::string>& names) {
        TWILL_REQUIRE_ROOT();
        cluster_.emplace(backend);
        subnets_ = cluster_->start_nodes(names);
        for (const auto& name : names) {
            pods_.emplace(name, cluster_->add_pod(name, "pod-" + name).ip);
        }
    }

    // `ip route` of twill's protocol on `node`, one line per route.
    std::string routes(const std::string& node) {
        return cluster_->run_in(node, {"ip", "route", "show", "proto", "137"}).output;
    }
    std::string route_to(const std::string& node, const std::string& peer) {
        std::istringstream lines(routes(node));
        for (std::string line; std::getline(lines, line);) {
            if (line.starts_with(subnets_.at(peer).to_string() + " ")) return line;
        }
        return "";
    }
    // The route to `peer`'s pods on `node` goes via its public address on the underlay.
    bool direct(const std::string& node, const std::string& peer) {
        const auto line = route_to(node, peer);
        return line.find("via " + cluster_->node(peer).address().to_string() + " dev eth0") !=
               std::string::npos;
    }
    bool over_vxlan(const std::string& node, const std::string& peer) {
        return route_to(node, peer).find("dev twill.1") != std::string::npos;
    }
    // Static FDB entries on the VXLAN device (one per peer reached over VXLAN).
    std::size_t fdb_entries(const std::string& node) {
        auto out = cluster_->run_in(node, {"bridge", "fdb", "show", "dev", "twill.1"}).output;
        std::size_t count = 0;
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);) {
            if (line.find("dst") != std::string::npos &&
                line.find("permanent") != std::string::npos)
                ++count;
        }
        return count;
    }
    // Packets the VXLAN device sent (the namespace's own counter: `ip -s`, not /sys, which
    // shows the namespace that mounted it).
    std::uint64_t vxlan_packets(const std::string& node) {
        auto out = cluster_->run_in(node, {"ip", "-s", "-j", "link", "show", "dev", "twill.1"});
        EXPECT_EQ(out.exit_code, 0) << out.output;
        if (out.exit_code != 0) return 0;
        return nlohmann::json::parse(out.output)
            .at(0)["stats64"]["tx"]["packets"]
            .get<std::uint64_t>();
    }
    bool pods_reach_each_other() {
        for (const auto& [from, _] : pods_) {
            for (const auto& [to, ip] : pods_) {
                if (from == to) continue;
                const bool reached = eventually(
                    [&] {
                        return cluster_
                                   ->run_in_pod("pod-" + from, {"ping", "-c", "1", "-W", "2", "-q",
                                                                ip.to_string()})
                                   .exit_code == 0;
                    },
                    20s);
                if (!reached) {
                    ADD_FAILURE() << "pod on " << from << " cannot reach the pod on " << to;
                    return false;
                }
            }
        }
        return true;
    }
    nlohmann::json peers(const std::string& node) {
        auto r = cluster_->netctl(node, {"peers", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return nlohmann::json::parse(r.output);
    }

    std::map<std::string, net::Prefix> subnets_;
    std::map<std::string, net::Address> pods_;
};

TEST_F(DirectTest, OnLinkPeersAreReachedWithoutVxlanAndFollowTheUnderlay) {
    start(kDirectRouting, {"a", "b", "c"});
    ASSERT_TRUE(eventually([&] {
        for (const std::string n : {"a", "b", "c"})
            for (const std::string p : {"a", "b", "c"})
                if (n != p && !direct(n, p)) return false;
        return true;
    })) << routes("a");
    for (const std::string n : {"a", "b", "c"}) EXPECT_EQ(fdb_entries(n), 0u) << n;
    const auto before = vxlan_packets("a");
    ASSERT_TRUE(pods_reach_each_other());
    EXPECT_EQ(vxlan_packets("a"), before) << "pod traffic went over VXLAN";
    const auto listed = peers("a");
    for (const auto& peer : listed["peers"]) {
        EXPECT_EQ(peer.value("path", ""), "direct") << peer;
        EXPECT_TRUE(peer.value("in_kernel", false)) << peer;
    }
    EXPECT_EQ(cluster_->netctl("a", {"check"}).exit_code, 0);
    // Probes to the peers' gateways go the direct way too.
    const auto probed = cluster_->netctl("a", {"check", "--probe"});
    EXPECT_EQ(probed.exit_code, 0) << probed.output;

    // Drift: a direct route deleted by hand comes back.
    ASSERT_EQ(
        cluster_->run_in("a", {"ip", "route", "del", subnets_["b"].to_string(), "proto", "137"})
            .exit_code,
        0);
    EXPECT_TRUE(eventually([&] { return direct("a", "b"); })) << routes("a");

    // A restart changes nothing.
    const auto settled = routes("a");
    cluster_->stop_daemon("a");
    cluster_->start_daemon("a");
    cluster_->wait_ready("a");
    EXPECT_TRUE(eventually([&] { return cluster_->netctl("a", {"check"}).exit_code == 0; }))
        << cluster_->netctl("a", {"check"}).output;
    EXPECT_EQ(routes("a"), settled);

    // c moves behind a router into another subnet: its peers reach it over VXLAN (through the
    // router), a and b stay direct to each other.
    const auto& fabric = cluster_->topology().add_namespace("router");
    const auto router = fabric.name();
    const auto fabric_ns = cluster_->topology().fabric().name();
    auto must = [&](const std::string& script) {
        auto r = run_command({"sh", "-c", script});
        ASSERT_EQ(r.exit_code, 0) << script << "\n" << r.output;
    };
    must("ip link add r-fab netns " + fabric_ns + " type veth peer name eth0 netns " + router);
    must("ip -n " + fabric_ns + " link set r-fab master fabric0 up");
    must("ip -n " + router + " addr add 192.0.2.254/24 dev eth0 && ip -n " + router +
         " addr add 198.51.100.254/24 dev eth0 && ip -n " + router + " link set eth0 up");
    must("ip netns exec " + router + " sysctl -qw net.ipv4.ip_forward=1");
    for (const std::string n : {"a", "b", "etcd"}) {
        const auto ns = cluster_->topology().node(n).netns_name();
        must("ip -n " + ns + " route add 198.51.100.0/24 via 192.0.2.254");
    }
    const auto& c = cluster_->node("c");
    const auto old = c.underlay.to_string();
    must("ip -n " + c.netns_name() + " addr del " + old + " dev eth0 && ip -n " + c.netns_name() +
         " addr add 198.51.100.13/24 dev eth0 && ip -n " + c.netns_name() +
         " route add 192.0.2.0/24 via 198.51.100.254");
    const auto vxlan_to_c = [&] {
        return over_vxlan("a", "c") && over_vxlan("b", "c") && over_vxlan("c", "a") &&
               over_vxlan("c", "b") && direct("a", "b") && direct("b", "a");
    };
    EXPECT_TRUE(eventually(vxlan_to_c, 30s)) << routes("a") << routes("c");
    EXPECT_EQ(fdb_entries("a"), 1u);
    EXPECT_EQ(fdb_entries("c"), 2u);
    EXPECT_TRUE(pods_reach_each_other());
    EXPECT_GT(vxlan_packets("a"), before);
    EXPECT_TRUE(eventually([&] {
        return cluster_->netctl("a", {"check", "--probe"}).exit_code == 0;
    })) << cluster_->netctl("a", {"check", "--probe"}).output;

    // Back on the fabric's subnet: direct again, no FDB entry left.
    must("ip -n " + c.netns_name() + " route del 192.0.2.0/24 via 198.51.100.254 && ip -n " +
         c.netns_name() + " addr del 198.51.100.13/24 dev eth0 && ip -n " + c.netns_name() +
         " addr add " + old + " dev eth0");
    EXPECT_TRUE(eventually(
        [&] {
            return direct("a", "c") && direct("b", "c") && direct("c", "a") && direct("c", "b");
        },
        30s))
        << routes("a") << routes("c");
    EXPECT_TRUE(eventually([&] { return fdb_entries("a") == 0 && fdb_entries("c") == 0; }));
    EXPECT_TRUE(pods_reach_each_other());

    // Leave: every direct route to the leaving node goes on its peers, and its own go too.
    ASSERT_EQ(cluster_->netctl("c", {"leave"}).exit_code, 0);
    EXPECT_TRUE(eventually([&] { return route_to("a", "c").empty(); })) << routes("a");
    EXPECT_TRUE(eventually([&] { return routes("c").empty(); })) << routes("c");
}

TEST_F(DirectTest, HostGwRoutesOnLinkPeersAndReportsTheOthers) {
    start(kHostGw, {"a", "b"});
    ASSERT_TRUE(eventually([&] { return direct("a", "b") && direct("b", "a"); })) << routes("a");
    ASSERT_TRUE(pods_reach_each_other());
    // Pods get the underlay's MTU: there is no encapsulation.
    auto mtu = cluster_->run_in_pod("pod-a", {"ip", "-o", "link", "show", "eth0"});
    EXPECT_NE(mtu.output.find(" mtu 1500 "), std::string::npos) << mtu.output;
    EXPECT_NE(cluster_->run_in("a", {"ip", "link", "show", "twill.1"}).exit_code, 0)
        << "host-gw made a VXLAN device";
    EXPECT_EQ(cluster_->netctl("a", {"check"}).exit_code, 0);
    const auto probed = cluster_->netctl("a", {"check", "--probe"});
    EXPECT_EQ(probed.exit_code, 0) << probed.output;

    // A peer whose public address is on no subnet of a's underlay: no route, reported.
    std::string far;
    for (int i = 250; far.empty(); --i) {
        const auto candidate = net::Prefix::parse("10.244." + std::to_string(i) + ".0/24");
        if (subnets_["a"] != candidate && subnets_["b"] != candidate) far = candidate.to_string();
    }
    auto key = far;
    key[key.find('/')] = '-';
    cluster_->etcd().etcdctl(
        {"put", std::string(VirtualCluster::kPrefix) + "/subnets/" + key,
         R"({"PublicIP":"198.51.100.7","Node":"far","BackendType":"host-gw"})"});
    const auto metric = [&] {
        return cluster_->run_in("a", {"busybox", "wget", "-qO-", "http://127.0.0.1:9474/metrics"})
            .output;
    };
    EXPECT_TRUE(eventually([&] {
        return metric().find("twill_peers_off_link 1") != std::string::npos;
    })) << metric();
    EXPECT_EQ(routes("a").find(far + " "), std::string::npos) << routes("a");
    auto status = cluster_->netctl("a", {"status"});
    EXPECT_NE(status.output.find("not on a subnet of eth0"), std::string::npos) << status.output;
    EXPECT_NE(status.output.find("far (198.51.100.7)"), std::string::npos) << status.output;
    bool off_link_listed = false;
    const auto listed = peers("a");
    for (const auto& peer : listed["peers"]) {
        if (peer.value("node", "") == "far") off_link_listed = peer.value("path", "") == "off-link";
    }
    EXPECT_TRUE(off_link_listed);
    EXPECT_NE(cluster_->log("a").find("not on a subnet of eth0"), std::string::npos);
    // The same node moved onto the link: a direct route; its lease gone: the route goes.
    cluster_->etcd().etcdctl({"put", std::string(VirtualCluster::kPrefix) + "/subnets/" + key,
                              R"({"PublicIP":"192.0.2.99","Node":"far","BackendType":"host-gw"})"});
    EXPECT_TRUE(eventually([&] {
        return routes("a").find(far + " via 192.0.2.99 dev eth0") != std::string::npos;
    })) << routes("a");
    EXPECT_TRUE(
        eventually([&] { return metric().find("twill_peers_off_link 0") != std::string::npos; }));
    // A lease that lies: a's own address as its PublicIP. No route can use it; a stays ready.
    cluster_->etcd().etcdctl({"put", std::string(VirtualCluster::kPrefix) + "/subnets/" + key,
                              R"({"PublicIP":")" + cluster_->node("a").address().to_string() +
                                  R"(","Node":"far","BackendType":"host-gw"})"});
    EXPECT_TRUE(eventually([&] {
        return metric().find("twill_peers_off_link 1") != std::string::npos;
    })) << metric();
    EXPECT_EQ(routes("a").find(far + " "), std::string::npos) << routes("a");
    EXPECT_NE(metric().find("twill_ready 1"), std::string::npos) << metric();
    EXPECT_EQ(cluster_->netctl("a", {"check"}).exit_code, 0);
    cluster_->delete_lease(far);
    EXPECT_TRUE(eventually([&] { return routes("a").find(far + " ") == std::string::npos; }))
        << routes("a");
}

}  // namespace
