// Which wireguard-go twilld adopts (lib/backend/wireguard_userspace.cpp), with the real
// wireguard-go in a throwaway namespace: its own, recorded in the PID file with start time and
// executable, never a process that merely reuses the PID; and a wireguard-go it did not start
// (the DaemonSet's wireguard-go container) that serves the device on its UAPI socket, which it
// configures but never restarts.
#include "twill/backend/wireguard_userspace.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "child_process.hpp"
#include "netns_topology.hpp"
#include "process_helpers.hpp"
#include "require_root.hpp"
#include "twill/backend/wireguard_device.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/sys/file.hpp"

using namespace twill;
using namespace twill::backend;
using namespace std::chrono_literals;
using twill::testing::eventually;
using twill::testing::Sleeper;
namespace fs = std::filesystem;

namespace {

class UserspaceDevice : public ::testing::Test {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        run_dir_ = fs::temp_directory_path() / (topology_.prefix() + "wg-run");
        fs::create_directories(run_dir_ / "wireguard");
        ns_ = &topology_.add_namespace("wg");
    }
    // A wireguard-go twilld did not start: in namespace `netns`, its socket in `socket_dir`.
    static twill::testing::ChildProcess start_wireguard_go(const fs::path& netns,
                                                           const fs::path& socket_dir,
                                                           const std::string& device,
                                                           const fs::path& log) {
        twill::testing::SpawnOptions spawn;
        spawn.netns = netns;
        spawn.env = {"WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=error"};
        spawn.log_file = log;
        return twill::testing::ChildProcess(
            {"unshare", "-m", "sh", "-c",
             "mkdir -p /run/wireguard && mount --make-rslave / && mount --bind " +
                 socket_dir.string() + " /run/wireguard && exec wireguard-go -f " + device},
            spawn);
    }

    void TearDown() override {
        // Anything still serving the device goes with the device (a TUN without its process
        // cannot stay), then with the namespace.
        std::error_code ec;
        fs::remove_all(run_dir_, ec);
    }

    // ensure() inside the namespace; returns `recreated`.
    bool ensure(WireguardDevice& device) {
        return ns_->netns().run([&] {
            netlink::Handle handle;
            bool recreated = false;
            EXPECT_TRUE(device.ensure(handle, false, recreated));
            return recreated;
        });
    }
    void remove(WireguardDevice& device) {
        ns_->netns().run([&] {
            netlink::Handle handle;
            device.remove(handle);
        });
    }
    std::optional<ProcessIdentity> recorded() {
        const auto text = sys::read_file(run_dir_ / "wireguard" / "twill-wg.pid");
        return text ? parse_pid_file(*text) : std::nullopt;
    }
    bool has_device() {
        return ns_->netns().run([] { return netlink::Handle().find_link("twill-wg").has_value(); });
    }

    twill::testing::NetnsTopology topology_;
    const netlink::OwnedNetns* ns_ = nullptr;
    fs::path run_dir_;
};

TEST_F(UserspaceDevice, ARestartedDaemonAdoptsItsOwnWireguardGoFromThePidFile) {
    auto first = make_userspace_wireguard_device("twill-wg", run_dir_);
    EXPECT_TRUE(ensure(*first));
    const auto started = recorded();
    ASSERT_TRUE(started);
    EXPECT_TRUE(same_process_running(*started));

    auto restarted = make_userspace_wireguard_device("twill-wg", run_dir_);  // twilld restarted
    EXPECT_FALSE(ensure(*restarted)) << "the running wireguard-go was replaced";
    EXPECT_EQ(recorded(), started);

    remove(*restarted);  // leave: the adopted process is ours to stop
    EXPECT_TRUE(eventually([&] { return !same_process_running(*started); }, 5s));
    EXPECT_FALSE(has_device());
}

// A PID reused by an unrelated process, and (the case a bare name check misses) by another
// wireguard-go, e.g. another node's or the host's own: neither is adopted, stopped or killed.
TEST_F(UserspaceDevice, APidFileNamingAReusedPidIsNeverAdoptedNorKilled) {
    Sleeper unrelated;
    const auto& other_ns = topology_.add_namespace("other");
    fs::create_directories(run_dir_ / "other");
    auto other_wireguard_go =
        start_wireguard_go(other_ns.path(), run_dir_ / "other", "other-wg", run_dir_ / "other.log");
    ASSERT_TRUE(eventually([&] { return fs::exists(run_dir_ / "other" / "other-wg.sock"); }, 10s))
        << sys::read_file(run_dir_ / "other.log").value_or("");
    const auto wireguard_go = fs::canonical("/usr/bin/wireguard-go").string();

    for (const pid_t stranger : {unrelated.pid(), other_wireguard_go.pid()}) {
        const auto identity = identify_process(stranger);
        ASSERT_TRUE(identity);
        // The record of a wireguard-go that ran under this PID before: same PID, another
        // start time.
        sys::write_file_atomic(run_dir_ / "wireguard" / "twill-wg.pid",
                               format_pid_file({stranger, identity->start_time - 1, wireguard_go}),
                               0600);

        auto device = make_userspace_wireguard_device("twill-wg", run_dir_);
        EXPECT_TRUE(ensure(*device)) << "no wireguard-go of its own was started";
        const auto started = recorded();
        ASSERT_TRUE(started);
        EXPECT_NE(started->pid, stranger);
        EXPECT_EQ(started->executable, wireguard_go);
        EXPECT_TRUE(same_process_running(*identity))
            << "the stranger " << stranger << " was killed";

        remove(*device);
        EXPECT_TRUE(same_process_running(*identity)) << "leave killed the stranger " << stranger;
        EXPECT_TRUE(eventually([&] { return !same_process_running(*started); }, 5s));
    }
}

TEST_F(UserspaceDevice, AWireguardGoTwilldDidNotStartIsAdoptedOverItsSocket) {
    // The DaemonSet's wireguard-go container: its socket dir is twilld's <run-dir>/wireguard.
    auto external = start_wireguard_go(ns_->path(), run_dir_ / "wireguard", "twill-wg",
                                       run_dir_ / "external.log");
    const auto socket = run_dir_ / "wireguard" / "twill-wg.sock";
    ASSERT_TRUE(eventually([&] { return fs::exists(socket) && has_device(); }, 10s))
        << sys::read_file(run_dir_ / "external.log").value_or("");

    auto device = make_userspace_wireguard_device("twill-wg", run_dir_);
    EXPECT_FALSE(ensure(*device)) << "twilld replaced the running wireguard-go";
    EXPECT_FALSE(recorded()) << "twilld started a wireguard-go of its own";
    EXPECT_TRUE(external.running());
    device->read();  // configured over the adopted socket
    EXPECT_FALSE(ensure(*device));
    EXPECT_TRUE(external.running());
}

}  // namespace
