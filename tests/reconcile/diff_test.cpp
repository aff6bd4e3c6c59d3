#include "twill/reconcile/diff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

using twill::reconcile::compute_diff;

namespace {
struct Entry {
    std::string key;
    std::string value;
};
auto key = [](const Entry& e) { return e.key; };
auto same = [](const Entry& a, const Entry& b) { return a.value == b.value; };
// Keys alike in their first 16 bytes, which the diff sorts by before the whole key.
auto long_key = [](const Entry& e) { return std::string(16, 'k') + e.key; };
// Keys of zero bytes that differ only in length: their first 16 bytes, zero-padded, are alike.
auto zero_key = [](const Entry& e) {
    return std::string(1 + static_cast<std::size_t>(e.key[0] - 'a'), '\0');
};
}  // namespace

TEST(Diff, MatchingStateNeedsNoChange) {
    std::vector<Entry> desired{{"a", "1"}, {"b", "2"}};
    std::vector<Entry> actual{{"b", "2"}, {"a", "1"}};
    EXPECT_TRUE(compute_diff(desired, actual, key, same).empty());
}

TEST(Diff, AddsReplacesAndRemoves) {
    std::vector<Entry> desired{{"a", "1"}, {"b", "2"}, {"c", "3"}};
    std::vector<Entry> actual{{"b", "x"}, {"c", "3"}, {"d", "4"}};
    auto d = compute_diff(desired, actual, key, same);
    ASSERT_EQ(d.add.size(), 1u);
    EXPECT_EQ(d.add[0].key, "a");
    ASSERT_EQ(d.replace.size(), 1u);
    EXPECT_EQ(d.replace[0].actual.value, "x");
    EXPECT_EQ(d.replace[0].desired.value, "2");
    ASSERT_EQ(d.remove.size(), 1u);
    EXPECT_EQ(d.remove[0].key, "d");
    EXPECT_EQ(d.size(), 3u);
}

TEST(Diff, DuplicateActualEntriesKeepTheMatchingOne) {
    std::vector<Entry> desired{{"m", "dst1"}};
    std::vector<Entry> actual{{"m", "dst0"}, {"m", "dst1"}, {"m", "dst2"}};
    auto d = compute_diff(desired, actual, key, same);
    EXPECT_TRUE(d.add.empty());
    EXPECT_TRUE(d.replace.empty());
    ASSERT_EQ(d.remove.size(), 2u);
    EXPECT_EQ(d.remove[0].value, "dst0");
    EXPECT_EQ(d.remove[1].value, "dst2");
}

TEST(Diff, DuplicateActualEntriesWithoutMatchReplaceOneRemoveRest) {
    std::vector<Entry> desired{{"m", "new"}};
    std::vector<Entry> actual{{"m", "old1"}, {"m", "old2"}};
    auto d = compute_diff(desired, actual, key, same);
    ASSERT_EQ(d.replace.size(), 1u);
    EXPECT_EQ(d.replace[0].desired.value, "new");
    ASSERT_EQ(d.remove.size(), 1u);
}

TEST(Diff, EmptyDesiredRemovesEverything) {
    std::vector<Entry> actual{{"a", "1"}, {"b", "2"}};
    auto d = compute_diff(std::vector<Entry>{}, actual, key, same);
    EXPECT_EQ(d.remove.size(), 2u);
}

TEST(Diff, AmongDesiredEntriesWithOneKeyTheFirstCounts) {
    std::vector<Entry> desired{{"k", "first"}, {"a", "1"}, {"k", "second"}};
    std::vector<Entry> actual{{"k", "second"}};
    auto d = compute_diff(desired, actual, key, same);
    ASSERT_EQ(d.replace.size(), 1u);
    EXPECT_EQ(d.replace[0].desired.value, "first");
    ASSERT_EQ(d.add.size(), 1u);
    EXPECT_EQ(d.add[0].key, "a");
    EXPECT_TRUE(d.remove.empty());
}

// Applied to the actual entries, any diff leaves exactly the desired ones (the first of each
// key), and touches no actual entry that is already as desired.
template <class KeyFn>
void expect_random_sets_converge_with_the_least_change(KeyFn key) {
    std::mt19937 random(20261202);
    for (int round = 0; round < 2000; ++round) {
        auto draw = [&](int count) {
            std::vector<Entry> entries;
            for (int i = 0; i < count; ++i) {
                entries.push_back({std::string(1, static_cast<char>('a' + random() % 8)),
                                   std::to_string(random() % 3)});
            }
            return entries;
        };
        const auto desired = draw(static_cast<int>(random() % 10));
        const auto actual = draw(static_cast<int>(random() % 10));
        const auto d = compute_diff(desired, actual, key, same);

        std::map<std::string, std::string> wanted;
        for (const auto& e : desired) wanted.try_emplace(e.key, e.value);
        std::multimap<std::string, std::string> result;
        for (const auto& e : actual) result.emplace(e.key, e.value);
        auto take_out = [&](const Entry& e) {
            auto [begin, end] = result.equal_range(e.key);
            auto it =
                std::find_if(begin, end, [&](const auto& kv) { return kv.second == e.value; });
            ASSERT_NE(it, end) << "removes " << e.key << "=" << e.value << " it does not have";
            result.erase(it);
        };
        for (const auto& e : d.remove) take_out(e);
        for (const auto& r : d.replace) {
            take_out(r.actual);
            result.emplace(r.desired.key, r.desired.value);
        }
        for (const auto& e : d.add) result.emplace(e.key, e.value);
        EXPECT_EQ(result, (std::multimap<std::string, std::string>(wanted.begin(), wanted.end())))
            << "round " << round;

        // Least change: one write per key that has no matching actual entry, and a removal
        // only for entries that are not kept.
        std::size_t writes = 0;
        for (const auto& [k, v] : wanted) {
            const bool kept = std::any_of(actual.begin(), actual.end(), [&](const Entry& e) {
                return e.key == k && e.value == v;
            });
            if (!kept) ++writes;
        }
        EXPECT_EQ(d.add.size() + d.replace.size(), writes) << "round " << round;
        EXPECT_EQ(d.remove.size() + d.replace.size() + wanted.size() - writes, actual.size())
            << "round " << round;
    }
}

TEST(Diff, RandomSetsConvergeWithTheLeastChange) {
    expect_random_sets_converge_with_the_least_change(key);
}

TEST(Diff, RandomSetsConvergeWhenKeysDifferOnlyPastTheirFirst16Bytes) {
    expect_random_sets_converge_with_the_least_change(long_key);
}

TEST(Diff, RandomSetsConvergeWhenKeysDifferOnlyInTheirLength) {
    expect_random_sets_converge_with_the_least_change(zero_key);
}
