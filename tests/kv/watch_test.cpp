// Watch: snapshot + events in order, against a real etcd.
#include <gtest/gtest.h>

#include <mutex>

#include "etcd_fixture.hpp"
#include "prefix_mirror.hpp"
#include "process_helpers.hpp"
#include "twill/kv/client.hpp"

namespace twill::kv {
namespace {

using namespace std::chrono_literals;
using twill::testing::eventually;

// What a watch delivered, in order, guarded for the test thread.
struct Recorder {
    std::mutex mutex;
    std::vector<std::pair<Revision, std::vector<KeyValue>>> snapshots;
    std::vector<WatchEvent> events;
    std::vector<Revision> revisions;

    WatchCallbacks callbacks() {
        return {.on_snapshot =
                    [this](Revision revision, const std::vector<KeyValue>& kvs) {
                        std::lock_guard lock(mutex);
                        snapshots.emplace_back(revision, kvs);
                    },
                .on_events =
                    [this](const std::vector<WatchEvent>& batch, Revision revision) {
                        std::lock_guard lock(mutex);
                        events.insert(events.end(), batch.begin(), batch.end());
                        revisions.push_back(revision);
                    },
                .on_error = {},
                .on_progress = {}};
    }
    std::size_t event_count() {
        std::lock_guard lock(mutex);
        return events.size();
    }
};

class WatchTest : public ::testing::Test {
  protected:
    twill::testing::EtcdServer etcd_;
    Client client_{etcd_.client_options()};
};

TEST_F(WatchTest, SnapshotThenPutsAndDeletesInOrder) {
    client_.put("/w/existing", "0");
    client_.put("/w-outside", "not in the prefix");
    Recorder recorder;
    auto watch = client_.watch("/w/", {.prefix = true, .prev_kv = true}, recorder.callbacks());
    ASSERT_TRUE(eventually([&] { return watch->connected(); }));
    {
        std::lock_guard lock(recorder.mutex);
        ASSERT_EQ(recorder.snapshots.size(), 1u);
        ASSERT_EQ(recorder.snapshots[0].second.size(), 1u);
        EXPECT_EQ(recorder.snapshots[0].second[0].key, "/w/existing");
    }

    const auto r1 = client_.put("/w/a", "1").revision;
    const auto r2 = client_.put("/w/b", "1").revision;
    const auto r3 = client_.delete_range("/w/a").revision;
    const auto r4 = client_.put("/w/b", "2").revision;
    client_.put("/w-outside", "again");
    const auto r5 = client_.delete_range("/w/", {.prefix = true}).revision;

    ASSERT_TRUE(eventually([&] { return recorder.event_count() >= 6; }));
    std::this_thread::sleep_for(200ms);  // nothing else may follow
    std::lock_guard lock(recorder.mutex);
    const auto& e = recorder.events;
    ASSERT_EQ(e.size(), 6u);
    using T = WatchEvent::Type;
    EXPECT_EQ(e[0].type, T::Put);
    EXPECT_EQ(e[0].kv.key, "/w/a");
    EXPECT_EQ(e[0].kv.mod_revision, r1);
    EXPECT_EQ(e[1].kv.key, "/w/b");
    EXPECT_EQ(e[1].kv.mod_revision, r2);
    EXPECT_EQ(e[2].type, T::Delete);
    EXPECT_EQ(e[2].kv.key, "/w/a");
    EXPECT_EQ(e[2].kv.mod_revision, r3);
    ASSERT_TRUE(e[2].prev_kv);
    EXPECT_EQ(e[2].prev_kv->value, "1");
    EXPECT_EQ(e[3].kv.value, "2");
    EXPECT_EQ(e[3].kv.mod_revision, r4);
    ASSERT_TRUE(e[3].prev_kv);
    EXPECT_EQ(e[3].prev_kv->value, "1");
    // The prefix delete removes both remaining keys at one revision.
    EXPECT_EQ(e[4].type, T::Delete);
    EXPECT_EQ(e[5].type, T::Delete);
    EXPECT_EQ(e[4].kv.key, "/w/b");
    EXPECT_EQ(e[5].kv.key, "/w/existing");
    EXPECT_EQ(e[4].kv.mod_revision, r5);
    EXPECT_EQ(e[5].kv.mod_revision, r5);
    for (std::size_t i = 1; i < recorder.revisions.size(); ++i) {
        EXPECT_LT(recorder.revisions[i - 1], recorder.revisions[i]);
    }
    EXPECT_EQ(watch->revision(), r5);
}

TEST_F(WatchTest, SingleKeyFromStartRevisionReplaysHistory) {
    const auto first = client_.put("/k", "1").revision;
    client_.put("/k2", "other key");
    client_.put("/k", "2");
    Recorder recorder;
    auto watch = client_.watch("/k", {.start_revision = first}, recorder.callbacks());
    ASSERT_TRUE(eventually([&] { return recorder.event_count() >= 2; }));
    client_.put("/k", "3");
    ASSERT_TRUE(eventually([&] { return recorder.event_count() >= 3; }));
    std::lock_guard lock(recorder.mutex);
    EXPECT_TRUE(recorder.snapshots.empty());
    ASSERT_EQ(recorder.events.size(), 3u);
    EXPECT_EQ(recorder.events[0].kv.value, "1");
    EXPECT_EQ(recorder.events[1].kv.value, "2");
    EXPECT_EQ(recorder.events[2].kv.value, "3");
}

TEST_F(WatchTest, StartRevisionAlreadyCompactedRelists) {
    const auto old = client_.put("/c/a", "1").revision;
    client_.put("/c/b", "1");
    client_.delete_range("/c/a");
    client_.compact(client_.put("/c/b", "2").revision);
    Recorder recorder;
    auto watch =
        client_.watch("/c/", {.prefix = true, .start_revision = old}, recorder.callbacks());
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(recorder.mutex);
        return !recorder.snapshots.empty();
    }));
    std::lock_guard lock(recorder.mutex);
    ASSERT_EQ(recorder.snapshots[0].second.size(), 1u);
    EXPECT_EQ(recorder.snapshots[0].second[0].key, "/c/b");
    EXPECT_EQ(recorder.snapshots[0].second[0].value, "2");
}

TEST_F(WatchTest, DestructionCancelsAndNoCallbackFollows) {
    Recorder recorder;
    auto watch = client_.watch("/d/", {.prefix = true}, recorder.callbacks());
    ASSERT_TRUE(eventually([&] { return watch->connected(); }));
    watch.reset();
    client_.put("/d/x", "1");
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(recorder.event_count(), 0u);
}

TEST_F(WatchTest, MayBeDestroyedInsideItsCallback) {
    std::mutex mutex;
    std::unique_ptr<Watch> watch;
    int calls = 0;
    {
        std::lock_guard lock(mutex);
        watch = client_.watch("/s/", {.prefix = true},
                              {.on_snapshot = {},
                               .on_events =
                                   [&](const std::vector<WatchEvent>&, Revision) {
                                       std::lock_guard lock(mutex);
                                       ++calls;
                                       watch.reset();
                                   },
                               .on_error = {},
                               .on_progress = {}});
    }
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return watch && watch->connected();
    }));
    client_.put("/s/1", "1");
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return watch == nullptr;
    }));
    client_.put("/s/2", "1");
    std::this_thread::sleep_for(300ms);
    std::lock_guard lock(mutex);
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace twill::kv
