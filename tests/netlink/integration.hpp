#pragma once
// Shared pieces of the netlink integration tests: a namespace of the test's own with a
// Handle on it, and polling helpers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "netns_topology.hpp"
#include "require_root.hpp"
#include "twill/error.hpp"
#include "twill/netlink/netlink.hpp"

namespace twill::netlink::testing {

// One fresh namespace per test (named tw<pid>-<k>-t), with "lo" up and a Handle on it.
class NetnsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        topology_.emplace();
        netns_ = &topology_->add_namespace("t");
        handle_.emplace(netns());
    }
    void TearDown() override {
        handle_.reset();
        topology_.reset();
    }

    const OwnedNetns& netns() const { return *netns_; }
    Handle& handle() { return *handle_; }

    Link make_bridge(const std::string& name) {
        BridgeSpec spec;
        spec.name = name;
        return handle().create_bridge(spec);
    }

    // A dummy-like device to route over: a veth pair inside the namespace, both ends up.
    Link make_device(const std::string& name) {
        VethSpec spec;
        spec.name = name;
        spec.peer_name = name + "p";
        auto link = handle().create_veth(spec);
        handle().set_link_up(link.index);
        handle().set_link_up(handle().get_link(spec.peer_name).index);
        return handle().get_link(link.index);
    }

    // `ip`/`bridge` inside the test namespace (to inspect or to tamper).
    std::string tool(std::vector<std::string> argv) {
        argv.insert(argv.begin() + 1, {"-n", netns().name()});
        auto result = twill::testing::run_command(argv);
        EXPECT_EQ(result.exit_code, 0) << result.output;
        return result.output;
    }

    std::optional<twill::testing::NetnsTopology> topology_;
    const OwnedNetns* netns_ = nullptr;
    std::optional<Handle> handle_;
};

}  // namespace twill::netlink::testing
