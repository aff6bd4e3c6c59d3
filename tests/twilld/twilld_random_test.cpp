// Seeded random failures over a 5-node cluster with a pod on every node. Each step breaks
// something the way production does (a crash, a restart, a leave and a join, the own key
// deleted, etcd down and back, twill0 deleted, routes and FDB tampered with, the underlay
// address changed) and lets it recover; after every step: every node's kernel matches etcd
// (`netctl check`), every pod reaches every other pod, and no pod IP is held twice.
//
// TWILL_RANDOM_STEPS (default 12) and TWILL_RANDOM_SEED (default: the time) size a run; the
// seed is printed so that a failure can be replayed. docs/benchmarks.md has a 1,000-step run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "cluster_test.hpp"
#include "require_root.hpp"
#include "virtual_cluster.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kNodes{"n1", "n2", "n3", "n4", "n5"};

int env_int(const char* name, int fallback) {
    const char* value = std::getenv(name);
    return value ? std::atoi(value) : fallback;
}

class TwilldRandomTest : public ClusterTest {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        cluster_.emplace();
    }

    std::string pod_of(const std::string& node) {
        return "p-" + node + "-" + std::to_string(generation_[node]);
    }

    // The node's pod, made anew (after the node's subnet changed the old one is on a lost
    // subnet: a real operator recreates it, as netctl status says).
    void recreate_pod(const std::string& node) {
        if (generation_.contains(node)) cluster_->delete_pod(pod_of(node));
        ++generation_[node];
        const auto name = pod_of(node);
        ips_[node] = cluster_->add_pod(node, name).ip;
    }

    bool pods_reach_each_other() {
        for (const auto& from : kNodes) {
            for (const auto& to : kNodes) {
                if (from == to) continue;
                const auto result = cluster_->run_in_pod(
                    pod_of(from), {"ping", "-c", "1", "-W", "1", "-q", ips_[to].to_string()});
                if (result.exit_code != 0) return false;
            }
        }
        return true;
    }

    bool kernels_match_etcd() {
        for (const auto& node : kNodes) {
            if (cluster_->netctl(node, {"check"}).exit_code != 0) return false;
        }
        return true;
    }

    // Every reservation in every node's store, as "ip" -> count.
    bool no_ip_held_twice() {
        std::set<std::string> seen;
        for (const auto& node : kNodes) {
            const auto listing = cluster_->run_in(
                node, {"sh", "-c",
                       "ls " + (cluster_->run_dir(node).parent_path() / "cni").string() +
                           "/*/ 2>/dev/null | grep -E '^[0-9]+\\.' || true"});
            std::istringstream lines(listing.output);
            for (std::string ip; std::getline(lines, ip);) {
                if (!seen.insert(ip).second) {
                    ADD_FAILURE() << "pod IP " << ip << " held twice";
                    return false;
                }
            }
        }
        return true;
    }

    // After a step: the node's subnet may have changed; its pod then moves with it.
    void follow_subnet(const std::string& node) {
        const auto subnet = cluster_->wait_ready(node);
        if (!subnet.contains(ips_[node])) recreate_pod(node);
    }

    std::map<std::string, int> generation_;
    std::map<std::string, net::Address> ips_;
    int next_address_ = 100;
};

TEST_F(TwilldRandomTest, ConvergesAfterEveryRandomStep) {
    const int steps = env_int("TWILL_RANDOM_STEPS", 12);
    const auto seed =
        static_cast<unsigned>(env_int("TWILL_RANDOM_SEED", static_cast<int>(::time(nullptr))));
    std::cerr << "twilld_random_test: seed " << seed << ", " << steps
              << " steps (TWILL_RANDOM_SEED / TWILL_RANDOM_STEPS to replay)\n";
    std::mt19937 random(seed);
    cluster_->start_nodes(kNodes, {"--subnet-lease-ttl", "10s", "--resync-interval", "5s"});
    for (const auto& node : kNodes) recreate_pod(node);
    ASSERT_TRUE(eventually([&] { return kernels_match_etcd() && pods_reach_each_other(); }, 60s));

    const std::vector<std::string> kinds{"sigkill",         "restart",         "leave-join",
                                         "own-key-deleted", "etcd-restart",    "bridge-deleted",
                                         "tamper",          "underlay-address"};
    std::map<std::string, int> counts;
    const auto started = std::chrono::steady_clock::now();
    for (int step = 1; step <= steps; ++step) {
        const auto& kind = kinds[random() % kinds.size()];
        const auto& node = kNodes[random() % kNodes.size()];
        ++counts[kind];
        SCOPED_TRACE("step " + std::to_string(step) + ": " + kind + " on " + node + " (seed " +
                     std::to_string(seed) + ")");
        if (kind == "sigkill") {
            cluster_->kill_daemon(node);
            cluster_->start_daemon(node);
        } else if (kind == "restart") {
            cluster_->stop_daemon(node);
            cluster_->start_daemon(node);
        } else if (kind == "leave-join") {
            ASSERT_EQ(cluster_->netctl(node, {"leave"}).exit_code, 0);
            ASSERT_TRUE(eventually([&] { return !cluster_->daemon_running(node); }, 30s));
            cluster_->stop_daemon(node);
            cluster_->start_daemon(node);
            ASSERT_TRUE(
                eventually([&] { return cluster_->netctl(node, {"join"}).exit_code == 0; }, 30s));
        } else if (kind == "own-key-deleted") {
            const auto subnet = cluster_->wait_ready(node);
            cluster_->delete_lease(subnet.to_string());
        } else if (kind == "etcd-restart") {
            cluster_->etcd().stop();
            std::this_thread::sleep_for(std::chrono::milliseconds(500 + random() % 3000));
            cluster_->etcd().start();
        } else if (kind == "bridge-deleted") {
            cluster_->run_in(node, {"ip", "link", "del", "twill0"});
        } else if (kind == "tamper") {
            cluster_->run_in(node, {"sh", "-c",
                                    "ip route show proto 137 | grep via | head -1 | "
                                    "xargs -r -I{} sh -c 'ip route del {}'; "
                                    "bridge fdb show dev twill.1 | grep dst | head -1 | "
                                    "xargs -r -I{} sh -c 'bridge fdb del {}'"});
        } else if (kind == "underlay-address") {
            const auto& n = cluster_->node(node);
            const auto current = cluster_->run_in(
                node, {"sh", "-c",
                       "ip -4 -o addr show dev " + n.underlay_device + " | awk '{print $4}'"});
            const auto fresh = "192.0.2." + std::to_string(next_address_++) + "/24";
            std::string script;
            std::istringstream old(current.output);
            for (std::string address; std::getline(old, address);) {
                if (!address.empty()) {
                    script += "ip addr del " + address + " dev " + n.underlay_device + "; ";
                }
            }
            script += "ip addr add " + fresh + " dev " + n.underlay_device;
            cluster_->run_in(node, {"sh", "-c", script});
        }
        for (const auto& n : kNodes) follow_subnet(n);
        ASSERT_TRUE(eventually([&] { return kernels_match_etcd(); }, 60s));
        ASSERT_TRUE(eventually([&] { return pods_reach_each_other(); }, 60s));
        ASSERT_TRUE(no_ip_held_twice());
    }
    std::cerr << "twilld_random_test: " << steps << " steps in "
              << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                  started)
                     .count()
              << " s:";
    for (const auto& [kind, count] : counts) std::cerr << " " << kind << " " << count;
    std::cerr << "\n";
}

}  // namespace
