// Subnet leases against a real etcd (started per test on loopback by the shared fixture).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "etcd_fixture.hpp"
#include "twill/subnet/allocator.hpp"
#include "twill/subnet/keeper.hpp"
#include "twill/subnet/lease_table.hpp"
#include "twill/subnet/state_file.hpp"
#include "twill/subnet/watcher.hpp"

using namespace std::chrono_literals;
using namespace twill;
using namespace twill::subnet;

namespace {

constexpr auto kConfig = R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}})";

LeaseValue node_value(const std::string& node, int n = 1) {
    return LeaseValue{
        net::Address::v4(0xC0A80000u + static_cast<std::uint32_t>(n)), node,
        VxlanLeaseData{net::MacAddress::from_bytes(std::array<std::uint8_t, 6>{
            0x0a, 0x58, 0, 0, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)})}};
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (predicate()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return predicate();
}

class SubnetEtcd : public ::testing::Test {
  protected:
    void SetUp() override {
        etcd_ = std::make_unique<twill::testing::EtcdServer>();
        client_ = std::make_unique<kv::Client>(etcd_->client_options());
        config_ = parse_network_config(kConfig);
        client_->put(config_key(prefix_), kConfig);
        dir_ = std::filesystem::temp_directory_path() /
               ("twill-subnet-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    LeaseOptions options(const std::string& node = {}, std::chrono::seconds ttl = 60s) const {
        LeaseOptions o;
        o.prefix = prefix_;
        o.ttl = ttl;
        if (!node.empty()) o.state_dir = dir_ / node;
        return o;
    }

    // The valid leases computed from scratch from a Range of the prefix.
    std::map<net::Prefix, Lease> fresh_range() {
        kv::RangeOptions range;
        range.prefix = true;
        LeaseTable table(config_, prefix_, net::Family::v4);
        std::vector<LeaseTable::Mutation> batch;
        for (const auto& kv : client_->range(subnets_key_prefix(prefix_), range).kvs) {
            batch.push_back({kv.key, RawEntry{kv.key, kv.value, kv.create_revision, kv.mod_revision,
                                              kv.lease}});
        }
        table.apply(batch);
        return table.leases();
    }

    const std::string prefix_ = "/twill/network";
    std::unique_ptr<twill::testing::EtcdServer> etcd_;
    std::unique_ptr<kv::Client> client_;
    NetworkConfig config_ = parse_network_config(kConfig);
    std::filesystem::path dir_;
};

}  // namespace

TEST_F(SubnetEtcd, ReadsTheNetworkConfig) {
    auto config = read_network_config(*client_, prefix_);
    ASSERT_TRUE(config);
    EXPECT_EQ(config->network().to_string(), "10.244.0.0/16");
    EXPECT_FALSE(read_network_config(*client_, "/elsewhere"));
}

TEST_F(SubnetEtcd, FiftyConcurrentAllocatorsGetDistinctSubnets) {
    std::mutex mutex;
    std::set<net::Prefix> subnets;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int i = 0; i < 50; ++i) {
        threads.emplace_back([&, i] {
            try {
                auto lease = acquire_subnet(*client_, config_,
                                            node_value("node-" + std::to_string(i), i), options());
                std::lock_guard lock(mutex);
                subnets.insert(lease.subnet);
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                failures.push_back(e.what());
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_TRUE(failures.empty()) << failures.front();
    EXPECT_EQ(subnets.size(), 50u);
    const auto leases = fresh_range();
    EXPECT_EQ(leases.size(), 50u);
    for (const auto& subnet : subnets) EXPECT_TRUE(leases.contains(subnet)) << subnet.to_string();
}

TEST_F(SubnetEtcd, FullNetworkIsAClearError) {
    // The issue says the 257th allocation fails; with flannel's defaults (SubnetMin = the
    // second /24, SubnetMax = the last) a /16 holds 255 leases, so the 256th is the first
    // that cannot succeed.
    std::atomic<int> next{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 5; ++t) {
        threads.emplace_back([&] {
            for (int i = next++; i < 255; i = next++) {
                try {
                    acquire_subnet(*client_, config_, node_value("n" + std::to_string(i), i),
                                   options());
                } catch (const std::exception&) {
                    ++failed;
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_EQ(failed.load(), 0);
    ASSERT_EQ(fresh_range().size(), 255u);
    try {
        acquire_subnet(*client_, config_, node_value("n255", 255), options());
        FAIL() << "the 256th allocation succeeded";
    } catch (const NetworkFullError& e) {
        EXPECT_STREQ(e.what(), "network 10.244.0.0/16 is full: all 255 /24 subnets leased");
    }
}

TEST_F(SubnetEtcd, RestartedNodeGetsItsSubnetBack) {
    const auto self = node_value("node-a");
    OwnLease first;
    {
        SubnetKeeper keeper(*client_, config_, self, options("node-a"));
        first = keeper.start();
        EXPECT_EQ(first.outcome, AcquireOutcome::allocated);
    }  // a daemon stop: the lease is kept, not revoked
    const auto before = client_->get(first.key);
    ASSERT_TRUE(before);

    // Live remembered lease: adopted without any write.
    {
        SubnetKeeper keeper(*client_, config_, self, options("node-a"));
        auto again = keeper.start();
        EXPECT_EQ(again.outcome, AcquireOutcome::kept);
        EXPECT_EQ(again.subnet, first.subnet);
        EXPECT_EQ(again.etcd_lease, first.etcd_lease);
        EXPECT_EQ(client_->get(first.key)->mod_revision, before->mod_revision);
    }

    // The lease expired meanwhile (revoked here): the remembered subnet is claimed again.
    client_->lease_revoke(first.etcd_lease);
    ASSERT_FALSE(client_->get(first.key));
    {
        auto lease = acquire_subnet(*client_, config_, self, options("node-a"));
        EXPECT_EQ(lease.outcome, AcquireOutcome::reclaimed);
        EXPECT_EQ(lease.subnet, first.subnet);
    }

    // The state dir was lost: the node's own key (its Node name) is taken over.
    forget_remembered_lease(dir_ / "node-a");
    auto key_before = client_->get(first.key);
    auto lease = acquire_subnet(*client_, config_, self, options("node-a"));
    EXPECT_EQ(lease.outcome, AcquireOutcome::taken_over);
    EXPECT_EQ(lease.subnet, first.subnet);
    EXPECT_NE(lease.etcd_lease, key_before->lease);
    EXPECT_EQ(client_->get(first.key)->lease, lease.etcd_lease);
    EXPECT_EQ(load_remembered_lease(dir_ / "node-a")->etcd_lease, lease.etcd_lease);

    // Another node's key is never taken, even when that node remembers nothing.
    auto other = acquire_subnet(*client_, config_, node_value("node-b", 2), options("node-b"));
    EXPECT_NE(other.subnet, first.subnet);
}

// A small IPv6 range (15 subnets) makes concurrent claims collide on their IPv6 halves
// under different keys: the key created first keeps both, the others try again. (12 at once:
// a claim about to be withdrawn still counts as taken for a moment, which could make the
// last of 15 see a full range.)
TEST_F(SubnetEtcd, DualStackAllocatorsClaimBothHalvesDistinctly) {
    const auto dual = parse_network_config(
        R"({"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/60",)"
        R"("Backend":{"Type":"vxlan"}})");
    std::mutex mutex;
    std::set<net::Prefix> v4, v6;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int i = 0; i < 12; ++i) {
        threads.emplace_back([&, i] {
            try {
                auto lease = acquire_subnet(*client_, dual,
                                            node_value("node-" + std::to_string(i), i), options());
                std::lock_guard lock(mutex);
                v4.insert(lease.subnet);
                if (lease.ipv6_subnet) v6.insert(*lease.ipv6_subnet);
                if (lease.key != subnet_key(prefix_, lease.subnet, lease.ipv6_subnet))
                    failures.push_back("key " + lease.key);
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                failures.push_back(e.what());
            }
        });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_TRUE(failures.empty()) << failures.front();
    for (int i = 12; i < 15; ++i) {
        const auto lease =
            acquire_subnet(*client_, dual, node_value("node-" + std::to_string(i), i), options());
        v4.insert(lease.subnet);
        v6.insert(*lease.ipv6_subnet);
    }
    EXPECT_EQ(v4.size(), 15u);
    EXPECT_EQ(v6.size(), 15u);
    // Every key in etcd is a winner: the withdrawn claims left nothing behind.
    kv::RangeOptions range;
    range.prefix = true;
    EXPECT_EQ(client_->range(subnets_key_prefix(prefix_), range).kvs.size(), 15u);
    LeaseTable table(dual, prefix_, net::Family::v4);
    for (const auto& kv : client_->range(subnets_key_prefix(prefix_), range).kvs)
        table.put(RawEntry{kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.lease});
    EXPECT_EQ(table.leases().size(), 15u);
    for (const auto& [subnet, lease] : table.leases()) EXPECT_TRUE(lease.ipv6_subnet);
    try {
        acquire_subnet(*client_, dual, node_value("node-15", 15), options());
        FAIL() << "a 16th dual-stack lease in a range of 15 IPv6 subnets";
    } catch (const NetworkFullError& e) {
        EXPECT_NE(std::string(e.what()).find("fd00:10:244::/60"), std::string::npos) << e.what();
    }
}

// A network that becomes dual-stack: the node keeps its IPv4 subnet under a key that now
// holds an IPv6 one too; a restart keeps both.
TEST_F(SubnetEtcd, OwnLeaseGainsItsIPv6HalfWhenTheNetworkBecomesDualStack) {
    const auto self = node_value("node-a");
    const auto v4_lease = acquire_subnet(*client_, config_, self, options("node-a"));
    EXPECT_FALSE(v4_lease.ipv6_subnet);
    const auto dual = parse_network_config(
        R"({"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/48",)"
        R"("Backend":{"Type":"vxlan"}})");
    const auto upgraded = acquire_subnet(*client_, dual, self, options("node-a"));
    EXPECT_EQ(upgraded.subnet, v4_lease.subnet);
    ASSERT_TRUE(upgraded.ipv6_subnet);
    EXPECT_EQ(upgraded.key, subnet_key(prefix_, upgraded.subnet, upgraded.ipv6_subnet));
    EXPECT_FALSE(client_->get(v4_lease.key)) << "the IPv4-only key is replaced";
    ASSERT_TRUE(client_->get(upgraded.key));
    EXPECT_EQ(load_remembered_lease(dir_ / "node-a")->ipv6_subnet, upgraded.ipv6_subnet);

    const auto again = acquire_subnet(*client_, dual, self, options("node-a"));
    EXPECT_EQ(again.outcome, AcquireOutcome::kept);
    EXPECT_EQ(again.key, upgraded.key);

    // Expired meanwhile: both halves are claimed again.
    client_->lease_revoke(again.etcd_lease);
    const auto reclaimed = acquire_subnet(*client_, dual, self, options("node-a"));
    EXPECT_EQ(reclaimed.outcome, AcquireOutcome::reclaimed);
    EXPECT_EQ(reclaimed.key, upgraded.key);
}

TEST_F(SubnetEtcd, ShortTtlLeaseNotKeptAliveDisappearsAndWatchersSeeIt) {
    std::mutex mutex;
    std::vector<LeaseChange> seen;
    LeaseWatcher watcher(*client_, config_, prefix_, net::Family::v4,
                         [&](const LeaseUpdate& update) {
                             std::lock_guard lock(mutex);
                             seen.insert(seen.end(), update.changes.begin(), update.changes.end());
                         });
    ASSERT_TRUE(watcher.wait_for_revision(0, 10s));

    SubnetKeeper kept(*client_, config_, node_value("kept", 1), options("kept", 5s));
    const auto kept_lease = kept.start();
    const auto dropped =
        acquire_subnet(*client_, config_, node_value("dropped", 2), options({}, 5s));
    ASSERT_TRUE(eventually([&] { return watcher.leases().size() == 2; }));

    ASSERT_TRUE(eventually([&] { return !watcher.leases().contains(dropped.subnet); }));
    EXPECT_FALSE(client_->get(dropped.key));
    // The callback runs after the map changed: wait for it too.
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return !seen.empty() && seen.back().subnet == dropped.subnet && !seen.back().after;
    }));
    // More than a TTL went by: the kept lease is still there.
    EXPECT_TRUE(watcher.leases().contains(kept_lease.subnet));
    EXPECT_EQ(kept.state(), KeeperState::held);
}

TEST_F(SubnetEtcd, KeeperPublishesChangesReclaimsAfterEvictionAndLeaves) {
    LeaseWatcher watcher(*client_, config_, prefix_, net::Family::v4, {});
    std::atomic<int> changed{0};
    KeeperCallbacks callbacks;
    callbacks.on_lease_changed = [&](const OwnLease&) { ++changed; };
    SubnetKeeper keeper(*client_, config_, node_value("node-a", 1), options("node-a"), callbacks);
    const auto lease = keeper.start();

    auto moved = node_value("node-a", 1);
    moved.public_ip = net::Address::parse("192.168.7.7");
    keeper.update(moved);
    ASSERT_TRUE(eventually([&] {
        auto leases = watcher.leases();
        return leases.contains(lease.subnet) &&
               leases.at(lease.subnet).value.public_ip == moved.public_ip;
    }));
    EXPECT_EQ(keeper.current()->value, moved);

    // netctl evict of a node that is in fact alive: it claims its subnet again.
    EXPECT_EQ(evict_node(*client_, prefix_, "node-a"), std::vector<net::Prefix>{lease.subnet});
    ASSERT_TRUE(eventually([&] { return changed.load() == 1; }));
    EXPECT_EQ(keeper.current()->subnet, lease.subnet);
    EXPECT_EQ(keeper.current()->outcome, AcquireOutcome::reclaimed);
    ASSERT_TRUE(eventually([&] { return watcher.leases().contains(lease.subnet); }));

    keeper.leave();
    EXPECT_EQ(keeper.state(), KeeperState::stopped);
    EXPECT_FALSE(client_->get(lease.key));
    EXPECT_FALSE(load_remembered_lease(dir_ / "node-a"));
    EXPECT_TRUE(eventually([&] { return watcher.leases().empty(); }));
}

TEST_F(SubnetEtcd, KeeperMovesToANewSubnetWhenItsOwnWasTaken) {
    std::mutex mutex;
    std::optional<OwnLease> changed;
    KeeperCallbacks callbacks;
    callbacks.on_lease_changed = [&](const OwnLease& lease) {
        std::lock_guard lock(mutex);
        changed = lease;
    };
    SubnetKeeper keeper(*client_, config_, node_value("node-a", 1), options("node-a"), callbacks);
    const auto lease = keeper.start();
    // Someone else's lease lands on the key (by hand: allocators never do this).
    client_->put(lease.key, encode_lease_value(node_value("node-b", 2)));
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return changed.has_value();
    }));
    std::lock_guard lock(mutex);
    EXPECT_NE(changed->subnet, lease.subnet);
    EXPECT_EQ(changed->outcome, AcquireOutcome::allocated);
    EXPECT_EQ(keeper.current()->subnet, changed->subnet);
    EXPECT_EQ(load_remembered_lease(dir_ / "node-a")->subnet, changed->subnet);
    EXPECT_EQ(decode_lease_value(client_->get(lease.key)->value).node, "node-b");
    // The etcd lease it held before is released, not left to its TTL.
    EXPECT_FALSE(client_->lease_time_to_live(lease.etcd_lease));
}

TEST_F(SubnetEtcd, TwoDaemonsWithOneNodeNameAreReported) {
    std::atomic<bool> conflict{false};
    KeeperCallbacks callbacks;
    callbacks.on_conflict = [&](const std::string&) { conflict = true; };
    SubnetKeeper first(*client_, config_, node_value("twin"), options("twin-1"), callbacks);
    const auto lease = first.start();
    SubnetKeeper second(*client_, config_, node_value("twin"), options("twin-2"));
    EXPECT_EQ(second.start().outcome, AcquireOutcome::taken_over);
    ASSERT_TRUE(eventually([&] { return conflict.load(); }));
    EXPECT_EQ(first.state(), KeeperState::conflict);
    EXPECT_EQ(second.current()->subnet, lease.subnet);
}

TEST_F(SubnetEtcd, BadEntriesAreIgnoredCountedAndNeverPeers) {
    const auto good = subnet_key(prefix_, net::Prefix::parse("10.244.5.0/24"));
    client_->put(good, encode_lease_value(node_value("good", 5)));
    LeaseWatcher watcher(*client_, config_, prefix_, net::Family::v4, {});
    ASSERT_TRUE(watcher.wait_for_revision(0, 10s));

    const auto value = [](std::string ip, std::string mac, std::string type = "vxlan") {
        return R"({"PublicIP":")" + ip + R"(","Node":"bad","BackendType":")" + type +
               R"(","BackendData":{"VtepMAC":")" + mac + R"("}})";
    };
    const std::string base = subnets_key_prefix(prefix_);
    client_->put(base + "not-a-subnet", value("192.168.0.9", "0a:58:00:00:00:09"));
    client_->put(base + "10.245.1.0-24", value("192.168.0.9", "0a:58:00:00:00:09"));
    client_->put(base + "10.244.6.0-24", "{corrupt");
    client_->put(base + "10.244.7.0-24", value("10.244.200.1", "0a:58:00:00:00:09"));
    client_->put(base + "10.244.8.0-24", value("192.168.0.9", "01:00:5e:00:00:01"));
    client_->put(base + "10.244.9.0-24", value("192.168.0.9", "0a:58:00:00:00:09", "wireguard"));
    // The same subnet as the good lease under another spelling, created later: it loses.
    client_->put(base + "10.244.5.0-024", value("192.168.0.9", "0a:58:00:00:00:09"));
    // The good lease's VTEP MAC announced again by a later lease; an IPv6 PublicIP while this
    // node's underlay is IPv4.
    client_->put(base + "10.244.11.0-24", value("192.168.0.11", "0a:58:00:00:00:05"));
    client_->put(base + "10.244.12.0-24", value("2001:db8::12", "0a:58:00:00:00:12"));
    const auto revision =
        client_->put(base + "10.244.10.0-24", encode_lease_value(node_value("fine", 10))).revision;
    ASSERT_TRUE(watcher.wait_for_revision(revision, 10s));

    const auto leases = watcher.leases();
    ASSERT_EQ(leases.size(), 2u);
    EXPECT_EQ(leases.at(net::Prefix::parse("10.244.5.0/24")).key, good);
    EXPECT_TRUE(leases.contains(net::Prefix::parse("10.244.10.0/24")));
    const auto now = watcher.ignored_now();
    EXPECT_EQ(now.at(IgnoreReason::bad_key), 1u);
    EXPECT_EQ(now.at(IgnoreReason::outside_range), 1u);
    EXPECT_EQ(now.at(IgnoreReason::bad_value), 1u);
    EXPECT_EQ(now.at(IgnoreReason::bad_public_ip), 2u);
    EXPECT_EQ(now.at(IgnoreReason::bad_backend_data), 1u);
    EXPECT_EQ(now.at(IgnoreReason::wrong_backend), 1u);
    EXPECT_EQ(now.at(IgnoreReason::overlap), 1u);
    EXPECT_EQ(now.at(IgnoreReason::duplicate), 1u);
    for (const auto& [subnet, lease] : leases) EXPECT_NE(lease.value.node, "bad");

    // Dropping the winner makes the overlapping lease the valid one.
    const auto revision2 = client_->delete_range(good).revision;
    ASSERT_TRUE(watcher.wait_for_revision(revision2, 10s));
    EXPECT_EQ(watcher.leases().at(net::Prefix::parse("10.244.5.0/24")).key,
              base + "10.244.5.0-024");
    EXPECT_EQ(watcher.ignored_now().at(IgnoreReason::overlap), 0u);
    EXPECT_EQ(watcher.ignored_total().at(IgnoreReason::overlap), 1u);
    // ... and frees the MAC for the lease that repeated it.
    EXPECT_TRUE(watcher.leases().contains(net::Prefix::parse("10.244.11.0/24")));
    EXPECT_EQ(watcher.ignored_now().at(IgnoreReason::duplicate), 0u);

    // An allocator never claims a subnet any key names, valid or not.
    for (int i = 0; i < 20; ++i) {
        auto lease = acquire_subnet(*client_, config_, node_value("n" + std::to_string(i), 20 + i),
                                    options());
        for (int taken : {5, 6, 7, 8, 9, 10, 11, 12}) {
            EXPECT_NE(lease.subnet,
                      net::Prefix::parse("10.244." + std::to_string(taken) + ".0/24"));
        }
    }
}
namespace {

// Writes valid leases (puts, updates, deletes) until told to stop, ignoring failures while
// etcd is down.
class ChurnWriter {
  public:
    ChurnWriter(kv::Client& client, const std::string& prefix) {
        thread_ = std::thread([this, &client, prefix] {
            for (int i = 0; !stop_; ++i) {
                const auto subnet =
                    net::Prefix(net::Address::v4(0x0AF40000u + ((1 + i % 40) << 8)), 24);
                try {
                    if (i % 3 == 2)
                        client.delete_range(subnet_key(prefix, subnet));
                    else
                        client.put(subnet_key(prefix, subnet),
                                   encode_lease_value(node_value("w" + std::to_string(i % 40), i)));
                    ++writes_;
                } catch (const kv::KvError& e) {
                    std::lock_guard lock(mutex_);
                    last_error_ = e.what();
                    std::this_thread::sleep_for(20ms);
                }
            }
        });
    }
    ~ChurnWriter() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    int writes() const { return writes_; }
    std::string last_error() const {
        std::lock_guard lock(mutex_);
        return last_error_;
    }

  private:
    mutable std::mutex mutex_;
    std::string last_error_;
    std::atomic<bool> stop_{false};
    std::atomic<int> writes_{0};
    std::thread thread_;
};

}  // namespace

TEST_F(SubnetEtcd, WatcherMatchesAFreshRangeAfterEtcdRestart) {
    LeaseWatcher watcher(*client_, config_, prefix_, net::Family::v4, {});
    ASSERT_TRUE(watcher.wait_for_revision(0, 10s));
    ChurnWriter writer(*client_, prefix_);
    ASSERT_TRUE(eventually([&] { return writer.writes() > 50; }));
    etcd_->kill();
    std::this_thread::sleep_for(500ms);
    etcd_->start();
    const int after_restart = writer.writes();
    ASSERT_TRUE(eventually([&] { return writer.writes() > after_restart + 50; }))
        << writer.last_error();
    writer.stop();
    const auto revision = etcd_->current_revision();
    ASSERT_TRUE(watcher.wait_for_revision(revision, 30s));
    EXPECT_EQ(watcher.leases(), fresh_range());
    EXPECT_FALSE(watcher.leases().empty());
}

TEST_F(SubnetEtcd, WatcherMatchesAFreshRangeAfterCompaction) {
    // The watch calls back on its own thread and waits for the callback: holding the callback
    // keeps the watcher at an old revision while etcd restarts and compacts past it, so the
    // watch has to relist when it resumes.
    std::mutex mutex;
    std::condition_variable gate_changed;
    bool hold = false;
    bool held = false;
    std::atomic<int> snapshots{0};
    LeaseWatcher watcher(*client_, config_, prefix_, net::Family::v4,
                         [&](const LeaseUpdate& update) {
                             if (update.snapshot) ++snapshots;
                             std::unique_lock lock(mutex);
                             held = hold;
                             gate_changed.notify_all();
                             gate_changed.wait(lock, [&] { return !hold; });
                             held = false;
                         });
    ASSERT_TRUE(watcher.wait_for_revision(0, 10s));
    for (int i = 1; i <= 10; ++i) {
        acquire_subnet(*client_, config_, node_value("n" + std::to_string(i), i), options());
    }
    ASSERT_TRUE(watcher.wait_for_revision(etcd_->current_revision(), 10s));
    const auto first = watcher.leases().begin()->first;
    {
        std::unique_lock lock(mutex);
        hold = true;
    }
    client_->put(subnet_key(prefix_, net::Prefix::parse("10.244.200.0/24")),
                 encode_lease_value(node_value("held", 200)));
    {
        std::unique_lock lock(mutex);
        ASSERT_TRUE(gate_changed.wait_for(lock, 10s, [&] { return held; }));
    }
    etcd_->kill();
    etcd_->start();
    etcd_->etcdctl({"del", subnet_key(prefix_, first)});
    etcd_->etcdctl({"put", subnets_key_prefix(prefix_) + "10.244.250.0-24",
                    encode_lease_value(node_value("late", 250))});
    etcd_->compact(etcd_->current_revision());
    {
        std::unique_lock lock(mutex);
        hold = false;
    }
    gate_changed.notify_all();
    ASSERT_TRUE(watcher.wait_for_revision(etcd_->current_revision(), 30s));
    // The map is updated before the callback runs: wait for the callback too.
    EXPECT_TRUE(eventually([&] { return snapshots.load() == 2; }))
        << "the watch did not relist after the compaction";
    EXPECT_EQ(watcher.leases(), fresh_range());
    EXPECT_FALSE(watcher.leases().contains(first));
    EXPECT_TRUE(watcher.leases().contains(net::Prefix::parse("10.244.250.0/24")));
}
