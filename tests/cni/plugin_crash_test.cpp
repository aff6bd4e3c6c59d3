// The plugin under pressure: many concurrent processes, and processes killed with SIGKILL at
// random points of ADD followed by DEL or GC.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <optional>
#include <random>
#include <thread>

#include "plugin_harness.hpp"
#include "require_root.hpp"
#include "twill/netlink/netlink.hpp"
#include "twill/sys/file.hpp"

namespace twill::testing {
namespace {

using nlohmann::json;

class CniPluginCrash : public ::testing::Test {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        ASSERT_TRUE(std::filesystem::exists(CniNode::plugin_path())) << CniNode::plugin_path();
        world.emplace();
    }
    std::optional<CniNode> world;
};

int exit_code_of(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(CniPluginCrash, HundredConcurrentAddsGetDistinctAddresses) {
    constexpr int count = 100;
    std::vector<const netlink::OwnedNetns*> pods;
    for (int i = 0; i < count; ++i) pods.push_back(&world->add_pod("p" + std::to_string(i)));
    const auto config = world->config("1.0.0").dump();
    auto run_all = [&](std::string_view command) {
        std::vector<ChildProcess> children;
        std::vector<std::filesystem::path> outputs;
        for (int i = 0; i < count; ++i) {
            outputs.push_back(world->dir /
                              (std::string(command) + "-" + std::to_string(i) + ".out"));
            children.push_back(world->start(
                CniNode::attachment_env(command, "ctr" + std::to_string(i), pods[i]->path()),
                config, outputs.back()));
        }
        std::vector<std::string> results;
        for (int i = 0; i < count; ++i) {
            const auto status = children[i].wait_for(std::chrono::seconds(120));
            const auto output = sys::read_file(outputs[i]).value_or("");
            EXPECT_TRUE(status && exit_code_of(*status) == 0)
                << command << " " << i << ": " << output;
            results.push_back(output);
        }
        return results;
    };

    std::set<std::string> addresses;
    for (const auto& output : run_all("ADD")) {
        const auto result = json::parse(output, nullptr, false);
        if (result.is_object() && result.contains("ips"))
            addresses.insert(result["ips"][0]["address"].get<std::string>());
    }
    EXPECT_EQ(addresses.size(), static_cast<std::size_t>(count));
    EXPECT_EQ(world->reservations().size(), static_cast<std::size_t>(count));
    EXPECT_EQ(world->host_veths().size(), static_cast<std::size_t>(count));
    EXPECT_FALSE(addresses.contains("10.244.3.1/24"));

    run_all("DEL");
    EXPECT_TRUE(world->reservations().empty());
    EXPECT_TRUE(world->host_veths().empty());
}

// ADDs killed at random points, each followed by DEL or GC: nothing is left, of either family
// in a dual-stack network (an ADD killed between its two reservations included).
void killed_adds_leave_nothing_del_or_gc_cannot_remove(std::optional<CniNode>& world) {
    const auto config = world->config("1.1.0");
    const std::size_t families = world->subnet.families().size();
    // How long an ADD takes here (sanitizer builds are slow), to kill at points within it.
    const auto& probe = world->add_pod("probe");
    const auto started = std::chrono::steady_clock::now();
    ASSERT_EQ(world->run(CniNode::attachment_env("ADD", "probe", probe.path()), config).exit_code,
              0);
    const auto add_time = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    ASSERT_EQ(world->run(CniNode::attachment_env("DEL", "probe", probe.path()), config).exit_code,
              0);

    std::mt19937 random(static_cast<unsigned>(::getpid()));
    std::uniform_int_distribution<long> delay(0, add_time.count());
    constexpr int rounds = 30;
    std::set<std::string> survivors;  // addresses of ADDs that finished before the kill
    for (int i = 0; i < rounds; ++i) {
        SCOPED_TRACE("round " + std::to_string(i));
        const auto& pod = world->add_pod("k" + std::to_string(i));
        const std::string id = "killed" + std::to_string(i);
        const auto output = world->dir / ("kill-" + std::to_string(i) + ".out");
        auto child =
            world->start(CniNode::attachment_env("ADD", id, pod.path()), config.dump(), output);
        std::this_thread::sleep_for(std::chrono::microseconds(delay(random)));
        const int status = child.stop(SIGKILL);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) survivors.insert(id);

        // What containerd does after a failed ADD: DEL (or, later, GC without it).
        if (i % 2 == 0) {
            const auto del = world->run(CniNode::attachment_env("DEL", id, pod.path()), config);
            EXPECT_EQ(del.exit_code, 0) << del.output;
        } else {
            auto gc = config;
            gc["cni.dev/valid-attachments"] = json::array();
            const auto result = world->run({"CNI_COMMAND=GC"}, gc);
            EXPECT_EQ(result.exit_code, 0) << result.output;
        }
        EXPECT_TRUE(world->reservations().empty())
            << "left after kill: " << *world->reservations().begin();
        EXPECT_TRUE(world->host_veths().empty());
        netlink::Handle in_pod(pod);
        EXPECT_FALSE(in_pod.find_link("eth0"));
        for (const auto& name : world->store_files()) {
            EXPECT_TRUE(name == "lock" || name.starts_with("last_reserved_ip")) << name;
        }
    }
    std::cout << survivors.size() << " of " << rounds << " killed ADDs had finished (ADD takes "
              << add_time.count() << " us here)\n";

    // The store still works and hands out distinct addresses after all that.
    std::set<std::string> addresses;
    for (int i = 0; i < 5; ++i) {
        const auto& pod = world->add_pod("after" + std::to_string(i));
        const auto add = world->run(
            CniNode::attachment_env("ADD", "after" + std::to_string(i), pod.path()), config);
        ASSERT_EQ(add.exit_code, 0) << add.output;
        ASSERT_EQ(add.json["ips"].size(), families) << add.output;
        for (const auto& ip : add.json["ips"]) addresses.insert(ip["address"].get<std::string>());
    }
    EXPECT_EQ(addresses.size(), 5u * families);
    EXPECT_EQ(world->reservations().size(), 5u * families);
    EXPECT_FALSE(std::filesystem::exists(world->data_dir / "twill" / ".reserving"));
}

TEST_F(CniPluginCrash, KilledAddsLeaveNothingDelOrGcCannotRemove) {
    killed_adds_leave_nothing_del_or_gc_cannot_remove(world);
}

TEST_F(CniPluginCrash, DualStackKilledAddsLeaveNothingDelOrGcCannotRemove) {
    world->make_dual_stack();
    killed_adds_leave_nothing_del_or_gc_cannot_remove(world);
}

}  // namespace
}  // namespace twill::testing
