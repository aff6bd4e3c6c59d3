// Lease grant, keep-alive, expiry and revoke against a real etcd.
#include <gtest/gtest.h>

#include <atomic>

#include "etcd_fixture.hpp"
#include "process_helpers.hpp"
#include "twill/kv/client.hpp"

namespace twill::kv {
namespace {

using namespace std::chrono_literals;
using twill::testing::eventually;

class Lease : public ::testing::Test {
  protected:
    twill::testing::EtcdServer etcd_;
    Client client_{etcd_.client_options()};
};

TEST_F(Lease, GrantAttachAndTimeToLive) {
    const auto lease = client_.lease_grant(30s);
    EXPECT_NE(lease.id, 0);
    EXPECT_EQ(lease.ttl, 30s);
    client_.put("/lease/a", "1", {.lease = lease.id});
    EXPECT_EQ(client_.get("/lease/a")->lease, lease.id);

    const auto status = client_.lease_time_to_live(lease.id, true);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->granted_ttl, 30s);
    EXPECT_GT(status->ttl, 0s);
    EXPECT_LE(status->ttl, 30s);
    EXPECT_EQ(status->keys, std::vector<std::string>{"/lease/a"});

    EXPECT_FALSE(client_.lease_time_to_live(lease.id + 12345));
}

TEST_F(Lease, KeepAliveHoldsKeyPastTtlAndStoppingLetsItExpire) {
    const auto lease = client_.lease_grant(2s);
    client_.put("/lease/kept", "1", {.lease = lease.id});
    std::atomic<int> renewals{0};
    std::atomic<bool> lost{false};
    auto keep = client_.keep_alive(lease.id, {.on_renewed =
                                                  [&](LeaseId id, std::chrono::seconds ttl) {
                                                      EXPECT_EQ(id, lease.id);
                                                      EXPECT_GT(ttl, 0s);
                                                      ++renewals;
                                                  },
                                              .on_lost = [&](LeaseId) { lost = true; },
                                              .on_error = {}});
    // Well past the TTL, renewed several times (every TTL/3).
    ASSERT_TRUE(eventually([&] { return renewals >= 6; }));
    EXPECT_TRUE(client_.get("/lease/kept"));
    EXPECT_FALSE(lost);
    EXPECT_FALSE(keep->lost());
    EXPECT_EQ(keep->ttl(), lease.ttl);

    keep.reset();
    ASSERT_TRUE(eventually([&] { return !client_.get("/lease/kept"); }));
    EXPECT_FALSE(client_.lease_time_to_live(lease.id));
}

TEST_F(Lease, RevokeDeletesAttachedKeysAndKeepAliveReportsLoss) {
    const auto lease = client_.lease_grant(6s);
    client_.put("/lease/r1", "1", {.lease = lease.id});
    client_.put("/lease/r2", "2", {.lease = lease.id});
    client_.put("/lease/unleased", "3");

    std::atomic<int> renewals{0};
    std::atomic<int> lost{0};
    auto keep = client_.keep_alive(
        lease.id, {.on_renewed = [&](LeaseId, std::chrono::seconds) { ++renewals; },
                   .on_lost = [&](LeaseId) { ++lost; },
                   .on_error = {}});
    ASSERT_TRUE(eventually([&] { return renewals >= 1; }));

    client_.lease_revoke(lease.id);
    EXPECT_FALSE(client_.get("/lease/r1"));
    EXPECT_FALSE(client_.get("/lease/r2"));
    EXPECT_TRUE(client_.get("/lease/unleased"));
    // The next renewal (within TTL/3) finds the lease gone.
    ASSERT_TRUE(eventually([&] { return lost == 1; }, 40s));
    EXPECT_TRUE(keep->lost());

    EXPECT_THROW(client_.lease_revoke(lease.id), LeaseNotFoundError);
}

TEST_F(Lease, KeepAliveOfUnknownLeaseReportsLossAtOnce) {
    std::atomic<bool> lost{false};
    auto keep = client_.keep_alive(
        987654321, {.on_renewed = {}, .on_lost = [&](LeaseId) { lost = true; }, .on_error = {}});
    ASSERT_TRUE(eventually([&] { return lost.load(); }));
}

TEST_F(Lease, KeepAliveMayBeDestroyedInsideItsCallback) {
    const auto lease = client_.lease_grant(30s);
    std::unique_ptr<LeaseKeepAlive> keep;
    std::atomic<int> renewals{0};
    std::mutex mutex;
    {
        std::lock_guard lock(mutex);
        keep = client_.keep_alive(lease.id, {.on_renewed =
                                                 [&](LeaseId, std::chrono::seconds) {
                                                     std::lock_guard lock(mutex);
                                                     ++renewals;
                                                     keep.reset();
                                                 },
                                             .on_lost = {},
                                             .on_error = {}});
    }
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return keep == nullptr;
    }));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(renewals, 1);
}

}  // namespace
}  // namespace twill::kv
