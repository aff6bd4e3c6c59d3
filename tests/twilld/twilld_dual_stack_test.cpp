// Dual-stack end to end (issue 17): real etcd, three node namespaces with IPv4 and IPv6
// underlay addresses, the real twilld and pods made through the real plugin. IPv6 pods ride a
// second VXLAN device over the IPv6 underlay (twill-v6.1), or the IPv4 one towards or from a
// node without an IPv6 underlay: every IPv6 entry is checked as the IPv4 ones are, through a
// leave, an expiry, tampering and a restart; a v4-only lease gets no IPv6 entry anywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cluster_test.hpp"
#include "require_root.hpp"
#include "twill/backend/vxlan_backend.hpp"
#include "twill/cni/node_subnet.hpp"
#include "twill/netlink/monitor.hpp"
#include "twill/reconcile/object_sets.hpp"
#include "virtual_cluster.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kIpv6Network = "fd00:10:244::/48";

net::MacAddress vtep(const std::string& node) {
    return backend::VxlanBackend::vtep_mac(node, 1);
}
net::MacAddress vtep_v6(const std::string& node) {
    return backend::VxlanBackend::vtep_mac_v6(node, 1);
}

class TwilldDualStackTest : public ClusterTest {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        cluster_.emplace(R"({"Type":"vxlan","VNI":1,"Port":8472})", VirtualCluster::kNetwork, 1,
                         kIpv6Network);
    }

    // Both subnets of a node, as its subnet.json says.
    struct Subnets {
        net::Prefix v4;
        net::Prefix v6;
    };
    Subnets subnets_of(const std::string& node) {
        const auto file = cni::read_node_subnet(cluster_->run_dir(node));
        if (!file || !file->ipv6) throw Error(node + ": subnet.json has no IPv6 half");
        return {file->subnet, file->ipv6->subnet};
    }
    std::map<std::string, Subnets> start(const std::vector<std::string>& names,
                                         const std::vector<std::string>& flags = {}) {
        cluster_->start_nodes(names, flags);
        std::map<std::string, Subnets> result;
        for (const auto& name : names) result.emplace(name, subnets_of(name));
        return result;
    }
    // The IPv6 entries for `peer` on `on`: on twill-v6.1 towards its IPv6 underlay address
    // when both have one, else on twill.1 like the IPv4 ones.
    // Subnets no node holds (nodes get theirs at random), for a fake node's lease.
    static Subnets unleased(const std::map<std::string, Subnets>& subnets) {
        for (int n = 250; n > 1; --n) {
            char v6[32];
            std::snprintf(v6, sizeof v6, "fd00:10:244:ff%02x::/64", n);
            const Subnets candidate{net::Prefix::parse("10.244." + std::to_string(n) + ".0/24"),
                                    net::Prefix::parse(v6)};
            if (std::none_of(subnets.begin(), subnets.end(), [&](const auto& s) {
                    return s.second.v4 == candidate.v4 || s.second.v6 == candidate.v6;
                }))
                return candidate;
        }
        throw Error("no unleased subnet left");
    }
    PeerEntries v6_entries(const std::string& on, const std::string& peer, const Subnets& s) {
        if (!no_ipv6_underlay_.contains(on) && !no_ipv6_underlay_.contains(peer)) {
            return entries_for(cluster_->handle(on), s.v6, vtep_v6(peer),
                               cluster_->node(peer).address_v6(), "twill-v6.1");
        }
        return entries_for(cluster_->handle(on), s.v6, vtep(peer), cluster_->node(peer).address());
    }
    bool converged(const std::map<std::string, Subnets>& subnets) {
        for (const auto& [a, _] : subnets) {
            for (const auto& [b, s] : subnets) {
                if (a == b) continue;
                if (!entries_for(cluster_->handle(a), s.v4, vtep(b), cluster_->node(b).address())
                         .all() ||
                    !v6_entries(a, b, s).all())
                    return false;
            }
        }
        return true;
    }
    bool ping(const std::string& pod, const net::Address& to) {
        return cluster_->run_in_pod(pod, {"ping", "-c", "1", "-W", "2", "-q", to.to_string()})
                   .exit_code == 0;
    }
    bool pods_reach_each_other(const std::vector<std::string>& pods) {
        for (const auto& from : pods) {
            for (const auto& to : pods) {
                if (from == to) continue;
                const auto& target = pods_.at(to);
                if (!ping(from, target.ip) || !target.ipv6 || !ping(from, *target.ipv6))
                    return false;
            }
        }
        return true;
    }
    void add_pod(const std::string& node, const std::string& name) {
        pods_.emplace(name, cluster_->add_pod(node, name));
    }

    std::map<std::string, VirtualCluster::Pod> pods_;
    std::set<std::string> no_ipv6_underlay_;
};

TEST_F(TwilldDualStackTest, EveryPodReachesEveryOtherOverBothFamilies) {
    auto subnets = start({"a", "b", "c"});
    ASSERT_TRUE(eventually([&] { return converged(subnets); }));
    for (const auto& [node, s] : subnets) {
        EXPECT_EQ(s.v6.length(), 64) << node;
        EXPECT_TRUE(net::Prefix::parse(kIpv6Network).contains(s.v6)) << node;
        // The bridge holds both gateways; forwarding is on for both families.
        const auto bridge = cluster_->run_in(node, {"ip", "-6", "addr", "show", "dev", "twill0"});
        EXPECT_NE(bridge.output.find(s.v6.first().plus(1).to_string() + "/64"), std::string::npos)
            << bridge.output;
        EXPECT_EQ(cluster_->run_in(node, {"sysctl", "-n", "net.ipv6.conf.all.forwarding"}).output,
                  "1\n");
        const auto unreachable = cluster_->run_in(
            node, {"ip", "-6", "route", "show", "proto", "137", "type", "unreachable"});
        EXPECT_NE(unreachable.output.find(kIpv6Network), std::string::npos) << unreachable.output;
    }
    for (const auto& node : {"a", "b", "c"}) add_pod(node, std::string("pod-") + node);
    for (const auto& [name, pod] : pods_) {
        ASSERT_TRUE(pod.ipv6) << name << " got no IPv6 address";
        EXPECT_TRUE(subnets.at(pod.node).v6.contains(*pod.ipv6)) << name;
    }
    EXPECT_TRUE(eventually(
        [&] {
            return pods_reach_each_other({"pod-a", "pod-b", "pod-c"});
        },
        30s));
    const auto status = cluster_->netctl("a", {"status"});
    EXPECT_NE(status.output.find(subnets["a"].v6.to_string()), std::string::npos) << status.output;
}

TEST_F(TwilldDualStackTest, LeaveAndExpiryTakeTheIPv6EntriesToo) {
    auto subnets = start({"a", "b", "c"});
    ASSERT_TRUE(eventually([&] { return converged(subnets); }));
    const auto leave = cluster_->netctl("c", {"leave"});
    EXPECT_EQ(leave.exit_code, 0) << leave.output;
    for (const auto* n : {"a", "b"}) {
        EXPECT_TRUE(eventually([&] { return !v6_entries(n, "c", subnets["c"]).any(); })) << n;
    }

    // A lease that expires (a fake node's, on an etcd lease that is revoked): its IPv6 entries
    // come and go with it; its subnets are then free for another node.
    const auto etcd_lease = cluster_->grant(60);
    const auto x = unleased(subnets);
    const std::string key = std::string(VirtualCluster::kPrefix) + "/subnets/" +
                            x.v4.address().to_string() + "-24&" + x.v6.address().to_string() +
                            "-64";
    const std::string value = R"({"PublicIP":"192.0.2.77","Node":"x","BackendType":"vxlan",)"
                              R"("BackendData":{"VtepMAC":"02:00:00:00:00:77"}})";
    char hex[32];
    std::snprintf(hex, sizeof hex, "--lease=%llx", static_cast<unsigned long long>(etcd_lease));
    cluster_->etcd().etcdctl({"put", key, value, hex});
    const auto x_mac = net::MacAddress::parse("02:00:00:00:00:77");
    for (const auto* n : {"a", "b"}) {
        EXPECT_TRUE(eventually([&] { return entries_for(cluster_->handle(n), x.v6, x_mac).route; }))
            << n;
    }
    cluster_->revoke(etcd_lease);
    for (const auto* n : {"a", "b"}) {
        EXPECT_TRUE(eventually([&] {
            return !entries_for(cluster_->handle(n), x.v6).route &&
                   !entries_for(cluster_->handle(n), x.v4).route;
        })) << n;
    }
    // Reassigned: another node's lease for the same two subnets; every entry follows it.
    const auto y_mac = net::MacAddress::parse("02:00:00:00:00:79");
    cluster_->etcd().etcdctl({"put", key,
                              R"({"PublicIP":"192.0.2.79","Node":"y","BackendType":"vxlan",)"
                              R"("BackendData":{"VtepMAC":"02:00:00:00:00:79"}})"});
    for (const auto* n : {"a", "b"}) {
        EXPECT_TRUE(eventually([&] {
            const auto v6 =
                entries_for(cluster_->handle(n), x.v6, y_mac, net::Address::parse("192.0.2.79"));
            return v6.all() && !entries_for(cluster_->handle(n), x.v6, x_mac).neighbour;
        })) << n;
    }
}

TEST_F(TwilldDualStackTest, TamperedIPv6EntriesAreRepairedAndARestartChangesNothing) {
    auto subnets = start({"a", "b"});
    ASSERT_TRUE(eventually([&] { return converged(subnets); }));
    auto& h = cluster_->handle("a");
    const auto dev = h.get_link("twill-v6.1").index;
    netlink::RouteFilter ours;
    ours.protocol = reconcile::twill_route_protocol;
    ours.family = net::Family::v6;
    ours.oif = dev;
    for (const auto& r : h.dump_routes(ours)) h.delete_route(r);
    EXPECT_TRUE(eventually([&] { return v6_entries("a", "b", subnets["b"]).route; }, 10s));
    netlink::NeighbourFilter neighbours;
    neighbours.link_index = dev;
    for (const auto& n : h.dump_neighbours(neighbours)) {
        if (n.address == subnets["b"].v6.first()) h.delete_neighbour(n);
    }
    EXPECT_TRUE(eventually([&] { return v6_entries("a", "b", subnets["b"]).neighbour; }, 10s));
    for (const auto& f : h.dump_fdb(dev)) {
        if (f.is_self()) h.delete_fdb(f);
    }
    EXPECT_TRUE(eventually([&] { return v6_entries("a", "b", subnets["b"]).fdb; }, 10s));
    // The IPv6 device itself, deleted, comes back with its entries.
    h.delete_link(dev);
    EXPECT_TRUE(eventually([&] { return v6_entries("a", "b", subnets["b"]).all(); }, 10s));
    // The bridge's IPv6 gateway, removed by hand, comes back.
    const auto gateway = net::Prefix(subnets["a"].v6.first().plus(1), 64);
    h.delete_address(h.get_link("twill0").index, gateway);
    EXPECT_TRUE(eventually(
        [&] {
            for (const auto& a : h.list_addresses(h.get_link("twill0").index))
                if (a.prefix == gateway) return true;
            return false;
        },
        10s));
    ASSERT_TRUE(eventually([&] { return cluster_->netctl("a", {"check"}).exit_code == 0; }));

    netlink::Monitor monitor(cluster_->node("a").netns.netns());
    ASSERT_EQ(cluster_->stop_daemon("a"), 0);
    monitor.drain();
    cluster_->start_daemon("a");
    cluster_->wait_ready("a");
    EXPECT_EQ(subnets_of("a").v6, subnets["a"].v6);
    ASSERT_TRUE(eventually([&] { return cluster_->netctl("a", {"check"}).exit_code == 0; }));
    std::this_thread::sleep_for(500ms);
    std::vector<std::string> changes;
    const auto v6_network = net::Prefix::parse(kIpv6Network);
    for (const auto& e : monitor.drain().events) {
        if (e.kind == netlink::Event::Kind::address) continue;
        std::visit(
            [&](const auto& o) {
                using T = std::decay_t<decltype(o)>;
                if constexpr (std::is_same_v<T, netlink::Route>) {
                    if (o.protocol == reconcile::twill_route_protocol)
                        changes.push_back(netlink::to_string(o));
                } else if constexpr (std::is_same_v<T, netlink::Neighbour>) {
                    if (v6_network.contains(o.address)) changes.push_back(netlink::to_string(o));
                }
            },
            e.object);
    }
    EXPECT_TRUE(changes.empty()) << "restart changed the kernel: " << changes.front();
}

// Node c has no IPv6 underlay address: it publishes no PublicIPv6, makes no twill-v6.1, and
// IPv6 pods to and from it ride the IPv4 devices; a and b keep theirs between each other.
TEST_F(TwilldDualStackTest, ANodeWithoutIPv6UnderlayCarriesIPv6OverItsIPv4Device) {
    cluster_->add_node("c");
    auto& c = cluster_->handle("c");
    c.delete_address(cluster_->node("c").underlay_index, cluster_->node("c").underlay_v6);
    no_ipv6_underlay_.insert("c");
    auto subnets = start({"a", "b", "c"});
    ASSERT_TRUE(eventually([&] { return converged(subnets); }));
    EXPECT_FALSE(c.find_link("twill-v6.1"));
    EXPECT_TRUE(cluster_->handle("a").find_link("twill-v6.1"));
    const auto lease = cluster_->etcd().etcdctl(
        {"get", "--prefix", std::string(VirtualCluster::kPrefix) + "/subnets/"});
    EXPECT_NE(lease.find(R"("PublicIPv6":")" + cluster_->node("a").address_v6().to_string()),
              std::string::npos)
        << lease;
    for (const auto& node : {"a", "b", "c"}) add_pod(node, std::string("pod-") + node);
    EXPECT_TRUE(eventually(
        [&] {
            return pods_reach_each_other({"pod-a", "pod-b", "pod-c"});
        },
        30s));
}

// One node's lease is v4-only (a node not yet dual-stack): IPv4 works everywhere, and no node
// holds an IPv6 entry for it.
TEST_F(TwilldDualStackTest, AV4OnlyLeaseIsAPeerWithoutIPv6Entries) {
    auto subnets = start({"a", "b"});
    ASSERT_TRUE(eventually([&] { return converged(subnets); }));
    const auto v4 = unleased(subnets).v4;
    cluster_->put_lease(v4.to_string(), "192.0.2.78", "02:00:00:00:00:78", "v4only");
    for (const auto* n : {"a", "b"}) {
        EXPECT_TRUE(eventually([&] {
            const auto e = entries_for(cluster_->handle(n), v4);
            return e.route && e.neighbour;
        })) << n;
        netlink::RouteFilter v6;
        v6.protocol = reconcile::twill_route_protocol;
        v6.family = net::Family::v6;
        std::size_t peer_routes = 0;
        for (const auto& r : cluster_->handle(n).dump_routes(v6)) {
            if (r.type != netlink::RouteType::unreachable) ++peer_routes;
        }
        EXPECT_EQ(peer_routes, 1u) << n << ": only the other dual-stack node has an IPv6 route";
    }
}

}  // namespace

namespace {

// IPv6-only (EnableIPv4 false): the IPv6 Network is the network's one range, the nodes talk
// over their IPv6 underlay addresses, leases are keyed by the IPv6 subnet alone.
class TwilldIpv6OnlyTest : public ClusterTest {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        cluster_.emplace(R"({"Type":"vxlan","VNI":1,"Port":8472})", kIpv6Network);
    }
    bool converged(const std::map<std::string, net::Prefix>& subnets) {
        for (const auto& [a, _] : subnets) {
            for (const auto& [b, subnet] : subnets) {
                if (a == b) continue;
                if (!entries_for(cluster_->handle(a), subnet, vtep(b),
                                 cluster_->node(b).address_v6())
                         .all())
                    return false;
            }
        }
        return true;
    }
    bool ping(const std::string& pod, const net::Address& to) {
        return cluster_->run_in_pod(pod, {"ping", "-c", "1", "-W", "2", "-q", to.to_string()})
                   .exit_code == 0;
    }
};

TEST_F(TwilldIpv6OnlyTest, MeshLeaveTamperAndRestart) {
    auto subnets = cluster_->start_nodes({"a", "b", "c"});
    for (const auto& [node, subnet] : subnets) {
        EXPECT_TRUE(subnet.address().is_v6()) << node;
        EXPECT_EQ(subnet.length(), 64) << node;
    }
    ASSERT_TRUE(eventually([&] { return converged(subnets); }));
    // The lease: keyed by the IPv6 subnet alone, PublicIP the IPv6 underlay address.
    const auto listed = cluster_->etcd().etcdctl(
        {"get", "--prefix", std::string(VirtualCluster::kPrefix) + "/subnets/"});
    EXPECT_NE(listed.find("/subnets/" + subnets["a"].address().to_string() + "-64\n"),
              std::string::npos)
        << listed;
    EXPECT_NE(listed.find(cluster_->node("a").address_v6().to_string()), std::string::npos)
        << listed;
    EXPECT_EQ(cluster_->handle("a").get_link("twill.1").mtu, 1430u) << "IPv6 underlay: -70";

    std::map<std::string, net::Address> pods;
    for (const auto* node : {"a", "b", "c"}) {
        const auto& pod = cluster_->add_pod(node, std::string("pod-") + node);
        EXPECT_TRUE(pod.ip.is_v6());
        pods.emplace(pod.name, pod.ip);
    }
    EXPECT_TRUE(eventually(
        [&] {
            for (const auto& [from, _] : pods)
                for (const auto& [to, ip] : pods)
                    if (from != to && !ping(from, ip)) return false;
            return true;
        },
        30s));

    // Peer probes go over ICMPv6 to each peer's IPv6 gateway.
    const auto probed = cluster_->netctl("a", {"check", "--probe"});
    EXPECT_EQ(probed.exit_code, 0) << probed.output;

    // Tampering with a route and the FDB entry of a peer is repaired.
    auto& h = cluster_->handle("a");
    const auto dev = h.get_link("twill.1").index;
    netlink::RouteFilter ours;
    ours.protocol = reconcile::twill_route_protocol;
    ours.oif = dev;
    for (const auto& r : h.dump_routes(ours)) h.delete_route(r);
    for (const auto& f : h.dump_fdb(dev)) {
        if (f.is_self()) h.delete_fdb(f);
    }
    EXPECT_TRUE(eventually([&] { return converged(subnets); }, 10s));

    // A restart keeps the subnet and programs nothing new.
    ASSERT_EQ(cluster_->stop_daemon("a"), 0);
    cluster_->start_daemon("a");
    EXPECT_EQ(cluster_->wait_ready("a"), subnets["a"]);
    ASSERT_TRUE(eventually([&] { return cluster_->netctl("a", {"check"}).exit_code == 0; }));

    const auto leave = cluster_->netctl("c", {"leave"});
    EXPECT_EQ(leave.exit_code, 0) << leave.output;
    for (const auto* n : {"a", "b"}) {
        EXPECT_TRUE(eventually([&] {
            return !entries_for(cluster_->handle(n), subnets["c"]).any();
        })) << n;
    }
    EXPECT_TRUE(eventually([&] { return ping("pod-a", pods["pod-b"]); }, 10s));
}

}  // namespace

namespace {

// WireGuard (wireguard-go) dual-stack: each peer's allowed IPs hold both of its subnets, and
// pods reach each other over both families through the one encrypted device.
TEST(TwilldDualStackWireguard, PodsReachEachOtherOverBothFamilies) {
    TWILL_REQUIRE_ROOT();
    VirtualCluster cluster(R"({"Type":"wireguard","ListenPort":51820})", VirtualCluster::kNetwork,
                           1, kIpv6Network);
    cluster.start_nodes({"a", "b"}, {"--wireguard-impl", "userspace"});
    std::map<std::string, VirtualCluster::Pod> pods;
    for (const auto* node : {"a", "b"}) {
        pods.emplace(node, cluster.add_pod(node, std::string("pod-") + node));
        ASSERT_TRUE(pods.at(node).ipv6) << node;
    }
    auto ping = [&](const std::string& from, const net::Address& to) {
        return cluster
                   .run_in_pod(pods.at(from).name,
                               {"ping", "-c", "1", "-W", "2", "-q", to.to_string()})
                   .exit_code == 0;
    };
    EXPECT_TRUE(eventually(
        [&] {
            return ping("a", pods.at("b").ip) && ping("a", *pods.at("b").ipv6) &&
                   ping("b", pods.at("a").ip) && ping("b", *pods.at("a").ipv6);
        },
        30s));
    const auto peers = cluster.netctl("a", {"peers"});
    const auto b_v6 = cni::read_node_subnet(cluster.run_dir("b"))->ipv6->subnet.to_string();
    EXPECT_NE(peers.output.find(b_v6), std::string::npos) << peers.output;
    if (HasFailure()) cluster.print_logs(std::cerr);
}

}  // namespace

namespace {

// The IPv6 path can break alone (a firewall dropping VXLAN over the IPv6 underlay): probes to
// each peer's IPv6 gateway say so, and the peer counts as unreachable.
TEST_F(TwilldDualStackTest, ProbesFindABrokenIPv6PathWhileIPv4Works) {
    auto subnets = start({"a", "b"}, {"--probe-interval", "1s"});
    ASSERT_TRUE(eventually([&] { return converged(subnets); }));
    EXPECT_TRUE(eventually(
        [&] {
            return cluster_->netctl("a", {"check", "--probe"}).exit_code == 0;
        },
        30s));
    const auto blocked = cluster_->run_in(
        "b", {"sh", "-c",
              "nft add table inet twilltest && "
              "nft 'add chain inet twilltest in { type filter hook input priority 0; }' && "
              "nft add rule inet twilltest in meta nfproto ipv6 udp dport 8472 drop"});
    ASSERT_EQ(blocked.exit_code, 0) << blocked.output;
    const auto probe = cluster_->netctl("a", {"check", "--probe"});
    EXPECT_EQ(probe.exit_code, 1) << probe.output;
    EXPECT_NE(probe.output.find(subnets["b"].v6.to_string()), std::string::npos) << probe.output;
    EXPECT_EQ(probe.output.find(subnets["b"].v4.to_string() + " "), std::string::npos)
        << "IPv4 still answers: " << probe.output;
    // The periodic probes mark b unreachable over IPv6 (interval 1 s here).
    EXPECT_TRUE(eventually(
        [&] {
            return cluster_->netctl("a", {"status"}).output.find("b over IPv6") !=
                   std::string::npos;
        },
        30s))
        << cluster_->netctl("a", {"status"}).output;
}

}  // namespace

namespace {

// The IPv6 underlay address goes away under a running node: it drops twill-v6.1, publishes
// its lease without PublicIPv6, and every peer moves its IPv6 entries to twill.1; IPv6 pods
// keep talking.
TEST_F(TwilldDualStackTest, IPv6UnderlayAddressRemovedUnderARunningNode) {
    auto subnets = start({"a", "b"});
    ASSERT_TRUE(eventually([&] { return converged(subnets); }));
    for (const auto* node : {"a", "b"}) add_pod(node, std::string("pod-") + node);
    ASSERT_TRUE(eventually([&] { return pods_reach_each_other({"pod-a", "pod-b"}); }, 30s));

    cluster_->handle("a").delete_address(cluster_->node("a").underlay_index,
                                         cluster_->node("a").underlay_v6);
    no_ipv6_underlay_.insert("a");
    EXPECT_TRUE(eventually([&] { return !cluster_->handle("a").find_link("twill-v6.1"); }, 30s));
    EXPECT_TRUE(eventually([&] { return converged(subnets); }, 30s));
    EXPECT_TRUE(eventually([&] { return pods_reach_each_other({"pod-a", "pod-b"}); }, 30s));
}

}  // namespace
