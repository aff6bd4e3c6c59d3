#include "twill/reconcile/diff.hpp"

#include <gtest/gtest.h>

#include <string>

using twill::reconcile::compute_diff;

namespace {
struct Entry {
    std::string key;
    std::string value;
};
auto key = [](const Entry& e) { return e.key; };
auto same = [](const Entry& a, const Entry& b) { return a.value == b.value; };
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
