#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "integration.hpp"

namespace twill::netlink::testing {
namespace {

using ::testing::HasSubstr;

ino_t thread_netns_inode() {
    struct stat st {};
    EXPECT_EQ(::stat("/proc/thread-self/ns/net", &st), 0);
    return st.st_ino;
}

std::string unique_name(std::string_view suffix) {
    return "tw" + std::to_string(::getpid()) + "-" + std::string(suffix);
}

TEST(Netns, CreateRunAndRemove) {
    TWILL_REQUIRE_ROOT();
    const auto name = unique_name("create");
    const auto caller_inode = thread_netns_inode();
    {
        OwnedNetns owned(name);
        EXPECT_TRUE(std::filesystem::exists(Netns::path_of(name)));
        EXPECT_FALSE(owned.netns().same_as(Netns::current()));

        // run() executes inside the namespace, on another thread, and returns its value.
        const auto inside = owned.netns().run([] { return thread_netns_inode(); });
        EXPECT_EQ(inside, owned.netns().inode());
        EXPECT_EQ(thread_netns_inode(), caller_inode);

        // Opening by name and by path finds the same namespace.
        EXPECT_TRUE(Netns::open_name(name).same_as(owned.netns()));
        EXPECT_TRUE(Netns::open_path(Netns::path_of(name)).same_as(owned));

        // A second create of the same name fails and leaves the first intact.
        try {
            Netns::create(name);
            ADD_FAILURE() << "create of an existing name succeeded";
        } catch (const SystemError& e) {
            EXPECT_EQ(e.code(), EEXIST);
        }
        EXPECT_TRUE(Netns::open_name(name).same_as(owned));
    }
    EXPECT_FALSE(std::filesystem::exists(Netns::path_of(name)));
    EXPECT_FALSE(Netns::try_open_name(name).has_value());
    EXPECT_FALSE(Netns::remove(name));
}

TEST(Netns, RunRethrowsAndCurrentIsTheCallersNamespace) {
    TWILL_REQUIRE_ROOT();
    OwnedNetns owned(unique_name("run"));
    EXPECT_THROW(owned.netns().run([] { throw std::runtime_error("inside"); }), std::runtime_error);
    EXPECT_TRUE(Netns::current().same_as(Netns::open_path("/proc/self/ns/net")));
    // A handle on the current namespace and one made in another see different links.
    Handle inside(owned);
    EXPECT_EQ(inside.list_links().size(), 1u);  // lo only
}

TEST(Netns, BadNamesAreRejected) {
    EXPECT_THROW(Netns::path_of("a/b"), ParseError);
    EXPECT_THROW(Netns::path_of(""), ParseError);
    EXPECT_THROW(Netns::path_of(".."), ParseError);
}

TEST(Netns, OpenMissingNamespaceNamesThePath) {
    try {
        Netns::open_path("/nonexistent/ns");
        ADD_FAILURE();
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), ENOENT);
        EXPECT_THAT(e.what(), HasSubstr("/nonexistent/ns"));
    }
}

}  // namespace
}  // namespace twill::netlink::testing
