#include <gtest/gtest.h>

#include "prefix_mirror.hpp"
#include "twill/kv/client.hpp"  // the whole public API must compile on its own

namespace twill::kv {
namespace {

KeyValue kv(std::string key, std::string value, Revision mod) {
    return KeyValue{.key = std::move(key),
                    .value = std::move(value),
                    .create_revision = mod,
                    .mod_revision = mod,
                    .version = 1,
                    .lease = 0};
}

WatchEvent put(KeyValue value) {
    return WatchEvent{WatchEvent::Type::Put, std::move(value), {}};
}

WatchEvent del(std::string key, Revision revision) {
    WatchEvent event{WatchEvent::Type::Delete, {}, {}};
    event.kv.key = std::move(key);
    event.kv.mod_revision = revision;
    return event;
}

TEST(PrefixMirror, AppliesEventsInOrder) {
    PrefixMirror mirror;
    mirror.apply(
        {put(kv("/a", "1", 2)), put(kv("/b", "1", 3)), del("/a", 4), put(kv("/b", "2", 5))}, 5);
    ASSERT_EQ(mirror.items().size(), 1u);
    EXPECT_EQ(mirror.items().at("/b").value, "2");
    EXPECT_EQ(mirror.revision(), 5);
}

TEST(PrefixMirror, ResetYieldsTheDifference) {
    PrefixMirror mirror;
    auto first = mirror.reset(3, {kv("/a", "1", 2), kv("/b", "1", 3), kv("/c", "1", 3)});
    EXPECT_EQ(first.size(), 3u);

    // /a unchanged, /b changed, /c deleted, /d new.
    auto difference = mirror.reset(9, {kv("/a", "1", 2), kv("/b", "2", 7), kv("/d", "1", 8)});
    ASSERT_EQ(difference.size(), 3u);
    EXPECT_EQ(difference[0].type, WatchEvent::Type::Delete);
    EXPECT_EQ(difference[0].kv.key, "/c");
    ASSERT_TRUE(difference[0].prev_kv);
    EXPECT_EQ(difference[0].prev_kv->value, "1");
    EXPECT_EQ(difference[1].type, WatchEvent::Type::Put);
    EXPECT_EQ(difference[1].kv.key, "/b");
    EXPECT_EQ(difference[1].kv.value, "2");
    EXPECT_EQ(difference[2].kv.key, "/d");
    EXPECT_EQ(mirror.revision(), 9);
    EXPECT_EQ(mirror.items().size(), 3u);
}

TEST(PrefixMirror, ResetToEmptyDeletesEverything) {
    PrefixMirror mirror;
    mirror.apply({put(kv("/a", "1", 2))}, 2);
    auto difference = mirror.reset(5, {});
    ASSERT_EQ(difference.size(), 1u);
    EXPECT_EQ(difference[0].type, WatchEvent::Type::Delete);
    EXPECT_TRUE(mirror.items().empty());
}

}  // namespace
}  // namespace twill::kv
