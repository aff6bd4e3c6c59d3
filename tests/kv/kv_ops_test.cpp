// Range, Put, DeleteRange and Txn semantics against a real etcd.
#include <gtest/gtest.h>

#include "etcd_fixture.hpp"
#include "twill/kv/client.hpp"

namespace twill::kv {
namespace {

class KvOps : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { etcd_ = new twill::testing::EtcdServer(); }
    static void TearDownTestSuite() {
        delete etcd_;
        etcd_ = nullptr;
    }
    void SetUp() override {
        prefix_ = "/test/" +
                  std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                  "/";
    }

    static twill::testing::EtcdServer* etcd_;
    Client client_{etcd_->client_options()};
    std::string prefix_;
};

twill::testing::EtcdServer* KvOps::etcd_ = nullptr;

TEST_F(KvOps, PutThenRangeReturnsValueAndRevisions) {
    const auto put = client_.put(prefix_ + "a", "one");
    EXPECT_GT(put.revision, 0);
    EXPECT_FALSE(put.prev_kv);

    const auto kv = client_.get(prefix_ + "a");
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->value, "one");
    EXPECT_EQ(kv->create_revision, put.revision);
    EXPECT_EQ(kv->mod_revision, put.revision);
    EXPECT_EQ(kv->version, 1);
    EXPECT_EQ(kv->lease, 0);

    const auto second = client_.put(prefix_ + "a", "two", {.prev_kv = true});
    ASSERT_TRUE(second.prev_kv);
    EXPECT_EQ(second.prev_kv->value, "one");
    const auto updated = client_.get(prefix_ + "a");
    ASSERT_TRUE(updated);
    EXPECT_EQ(updated->value, "two");
    EXPECT_EQ(updated->create_revision, put.revision);
    EXPECT_EQ(updated->mod_revision, second.revision);
    EXPECT_EQ(updated->version, 2);

    EXPECT_FALSE(client_.get(prefix_ + "missing"));
}

TEST_F(KvOps, PrefixRangeLimitAndOldRevision) {
    const auto first = client_.put(prefix_ + "k1", "v1");
    client_.put(prefix_ + "k2", "v2");
    client_.put(prefix_ + "k3", "v3");
    client_.put(prefix_ + "k1", "v1b");
    client_.put(prefix_ + "other", "x");
    client_.put(prefix_.substr(0, prefix_.size() - 1) + "0", "outside the prefix");

    const auto all = client_.range(prefix_ + "k", {.prefix = true});
    ASSERT_EQ(all.kvs.size(), 3u);
    EXPECT_EQ(all.kvs[0].key, prefix_ + "k1");
    EXPECT_EQ(all.kvs[0].value, "v1b");
    EXPECT_EQ(all.kvs[2].key, prefix_ + "k3");
    EXPECT_EQ(all.count, 3);
    EXPECT_FALSE(all.more);
    EXPECT_GE(all.revision, all.kvs[0].mod_revision);

    const auto limited = client_.range(prefix_ + "k", {.prefix = true, .limit = 2});
    EXPECT_EQ(limited.kvs.size(), 2u);
    EXPECT_TRUE(limited.more);
    EXPECT_EQ(limited.count, 3);

    const auto old = client_.range(prefix_ + "k1", {.revision = first.revision});
    ASSERT_EQ(old.kvs.size(), 1u);
    EXPECT_EQ(old.kvs[0].value, "v1");

    EXPECT_EQ(client_.range(prefix_, {.prefix = true}).kvs.size(), 4u);
}

TEST_F(KvOps, DeleteKeyAndPrefix) {
    client_.put(prefix_ + "a", "1");
    client_.put(prefix_ + "b/1", "2");
    client_.put(prefix_ + "b/2", "3");

    const auto one = client_.delete_range(prefix_ + "a", {.prev_kv = true});
    EXPECT_EQ(one.deleted, 1);
    ASSERT_EQ(one.prev_kvs.size(), 1u);
    EXPECT_EQ(one.prev_kvs[0].value, "1");
    EXPECT_FALSE(client_.get(prefix_ + "a"));

    EXPECT_EQ(client_.delete_range(prefix_ + "a").deleted, 0);
    EXPECT_EQ(client_.delete_range(prefix_ + "b/", {.prefix = true}).deleted, 2);
    EXPECT_TRUE(client_.range(prefix_, {.prefix = true}).kvs.empty());
}

TEST_F(KvOps, TxnCreateIfAbsentConflicts) {
    const std::string key = prefix_ + "subnet";
    auto create = [&](const std::string& value) {
        return client_.txn({.compare = {Compare::absent(key)},
                            .success = {TxnOp::put_kv(key, value)},
                            .failure = {TxnOp::get(key)}});
    };
    const auto first = create("node-a");
    EXPECT_TRUE(first.succeeded);
    ASSERT_EQ(first.results.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<PutResult>(first.results[0]));

    const auto second = create("node-b");
    EXPECT_FALSE(second.succeeded);
    ASSERT_EQ(second.results.size(), 1u);
    const auto& holder = std::get<RangeResult>(second.results[0]);
    ASSERT_EQ(holder.kvs.size(), 1u);
    EXPECT_EQ(holder.kvs[0].value, "node-a");
    EXPECT_EQ(client_.get(key)->value, "node-a");
}

TEST_F(KvOps, TxnUpdateIfModRevisionUnchanged) {
    const std::string key = prefix_ + "lease";
    client_.put(key, "v1");
    const auto seen = *client_.get(key);
    auto update = [&](Revision expected, const std::string& value) {
        return client_.txn({.compare = {Compare::mod_revision(key, Compare::Op::Equal, expected)},
                            .success = {TxnOp::put_kv(key, value)},
                            .failure = {}});
    };
    EXPECT_TRUE(update(seen.mod_revision, "v2").succeeded);
    // The revision moved on: a second writer that read "v1" loses.
    EXPECT_FALSE(update(seen.mod_revision, "v3").succeeded);
    EXPECT_EQ(client_.get(key)->value, "v2");
}

TEST_F(KvOps, TxnComparesOnValueVersionAndOrder) {
    const std::string key = prefix_ + "k";
    client_.put(key, "b");
    client_.put(key, "b");  // version 2
    using Op = Compare::Op;
    auto holds = [&](Compare compare) {
        return client_.txn({.compare = {std::move(compare)}, .success = {}, .failure = {}})
            .succeeded;
    };
    EXPECT_TRUE(holds(Compare::value_is(key, Op::Equal, "b")));
    EXPECT_TRUE(holds(Compare::value_is(key, Op::NotEqual, "a")));
    EXPECT_TRUE(holds(Compare::value_is(key, Op::Greater, "a")));
    EXPECT_TRUE(holds(Compare::value_is(key, Op::Less, "c")));
    EXPECT_FALSE(holds(Compare::value_is(key, Op::Less, "a")));
    EXPECT_TRUE(holds(Compare::version(key, Op::Equal, 2)));
    EXPECT_TRUE(holds(Compare::version(key, Op::Greater, 1)));
    EXPECT_FALSE(holds(Compare::version(key, Op::Less, 2)));
    EXPECT_TRUE(holds(Compare::create_revision(key, Op::Greater, 0)));
    EXPECT_FALSE(holds(Compare::absent(key)));
    EXPECT_TRUE(holds(Compare::lease(key, Op::Equal, 0)));
}

TEST_F(KvOps, TxnMultipleOpsAndDelete) {
    const std::string a = prefix_ + "a";
    const std::string b = prefix_ + "b";
    client_.put(a, "1");
    const auto result = client_.txn(
        {.compare = {Compare::value_is(a, Compare::Op::Equal, "1")},
         .success = {TxnOp::delete_key(a, {.prev_kv = true}), TxnOp::put_kv(b, "2"), TxnOp::get(b)},
         .failure = {}});
    ASSERT_TRUE(result.succeeded);
    ASSERT_EQ(result.results.size(), 3u);
    EXPECT_EQ(std::get<DeleteResult>(result.results[0]).deleted, 1);
    EXPECT_EQ(std::get<RangeResult>(result.results[2]).kvs.at(0).value, "2");
    EXPECT_FALSE(client_.get(a));
    // Every op of one txn shares one revision.
    EXPECT_EQ(client_.get(b)->mod_revision, result.revision);
}

TEST_F(KvOps, RangeAtCompactedRevisionThrowsCompactedError) {
    const auto old = client_.put(prefix_ + "x", "1");
    const auto now = client_.put(prefix_ + "x", "2");
    client_.compact(now.revision);
    try {
        client_.range(prefix_ + "x", {.revision = old.revision});
        FAIL() << "range at a compacted revision succeeded";
    } catch (const CompactedError& e) {
        EXPECT_EQ(e.code(), StatusCode::OutOfRange);
        EXPECT_NE(std::string(e.what()).find("etcd range " + prefix_ + "x"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace twill::kv
