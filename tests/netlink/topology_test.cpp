#include <filesystem>
#include <set>

#include "integration.hpp"

namespace twill::netlink::testing {
namespace {

using twill::testing::NetnsTopology;
using twill::testing::run_command;

// Only this process's namespaces: other tests running in parallel (ctest -j) make their own.
std::set<std::string> named_namespaces() {
    const auto own_prefix = "tw" + std::to_string(::getpid()) + "-";
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(netns_run_dir, ec)) {
        auto name = entry.path().filename().string();
        if (name.starts_with(own_prefix)) names.insert(std::move(name));
    }
    return names;
}

TEST(NetnsTopology, NodesReachEachOtherOverTheFabric) {
    TWILL_REQUIRE_ROOT();
    const auto before = named_namespaces();
    {
        NetnsTopology topology;
        const auto& a = topology.add_node("a");
        const auto& b = topology.add_node("b");
        const auto& pod = topology.add_namespace("pod1");
        EXPECT_EQ(a.netns_name(), topology.prefix() + "a");
        EXPECT_EQ(pod.name(), topology.prefix() + "pod1");
        EXPECT_NE(a.address(), b.address());
        EXPECT_TRUE(NetnsTopology::underlay_network().contains(a.address()));

        Handle in_a(a.netns);
        const auto eth0 = in_a.get_link("eth0");
        EXPECT_TRUE(eth0.is_up());
        EXPECT_EQ(eth0.index, a.underlay_index);
        const auto addresses = in_a.list_addresses(eth0.index, net::Family::v4);
        ASSERT_EQ(addresses.size(), 1u);
        EXPECT_EQ(addresses[0].prefix, a.underlay);

        Handle in_fabric(topology.fabric());
        const auto bridge = in_fabric.get_link(std::string(NetnsTopology::fabric_bridge));
        EXPECT_EQ(in_fabric.get_link("f-a").master, bridge.index);

        const auto ping = run_command({"ping", "-c", "1", "-W", "5", b.address().to_string()},
                                      {.netns = a.netns.path(), .env = {}, .log_file = {}});
        EXPECT_EQ(ping.exit_code, 0) << ping.output;
        EXPECT_EQ(named_namespaces().size(), before.size() + 4);
    }
    EXPECT_EQ(named_namespaces(), before);
}

TEST(NetnsTopology, RemovesEverythingWhenATestThrows) {
    TWILL_REQUIRE_ROOT();
    const auto before = named_namespaces();
    try {
        NetnsTopology topology;
        topology.add_node("a");
        topology.add_namespace("x");
        throw std::runtime_error("test failed half way");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(named_namespaces(), before);
}

TEST(NetnsTopology, BadNodeNamesAreRejected) {
    TWILL_REQUIRE_ROOT();
    const auto before = named_namespaces();
    {
        NetnsTopology topology;
        topology.add_node("a");
        EXPECT_THROW(topology.add_node("a"), Error);
        EXPECT_THROW(topology.add_node("name-too-long-x"), ParseError);
        EXPECT_THROW(topology.add_node("Bad/Name"), ParseError);
    }
    EXPECT_EQ(named_namespaces(), before);
}

}  // namespace
}  // namespace twill::netlink::testing
