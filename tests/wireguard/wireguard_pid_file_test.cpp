// How twilld tells its own wireguard-go from a process that reuses its PID
// (twill/backend/wireguard_userspace.hpp): identity from /proc, the PID file's record.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "process_helpers.hpp"
#include "twill/backend/wireguard_userspace.hpp"

using namespace twill::backend;
using namespace std::chrono_literals;
using twill::testing::eventually;
using twill::testing::Sleeper;
namespace fs = std::filesystem;

namespace {

TEST(ProcessIdentity, NamesPidStartTimeAndExecutableOfALiveProcess) {
    const auto self = identify_process(::getpid());
    ASSERT_TRUE(self);
    EXPECT_EQ(self->pid, ::getpid());
    EXPECT_GT(self->start_time, 0u);
    EXPECT_EQ(self->executable, fs::read_symlink("/proc/self/exe").string());
    EXPECT_TRUE(same_process_running(*self));
}

TEST(ProcessIdentity, AnotherStartTimeOrExecutableIsAnotherProcess) {
    Sleeper child;
    const auto identity = identify_process(child.pid());
    ASSERT_TRUE(identity);
    EXPECT_TRUE(same_process_running(*identity));

    auto reused = *identity;
    reused.start_time += 1;  // the same PID, started at another time: a reused PID
    EXPECT_FALSE(same_process_running(reused));
    auto other_program = *identity;
    other_program.executable = "/usr/bin/wireguard-go";
    EXPECT_FALSE(same_process_running(other_program));
}

TEST(ProcessIdentity, AZombieOrAReapedProcessIsNotRunning) {
    Sleeper child;
    const auto identity = identify_process(child.pid());
    ASSERT_TRUE(identity);
    child.kill_only();
    EXPECT_TRUE(eventually([&] { return !identify_process(child.pid()); }, 5s));
    EXPECT_FALSE(same_process_running(*identity));
}

TEST(PidFile, RoundTripsAndRejectsAnythingElse) {
    const ProcessIdentity identity{1234, 987654, "/usr/bin/wireguard-go"};
    EXPECT_EQ(format_pid_file(identity), "1234 987654 /usr/bin/wireguard-go\n");
    EXPECT_EQ(parse_pid_file(format_pid_file(identity)), identity);
    for (const char* bad :
         {"", "1234\n", "1234 987654\n", "x 1 /a", "0 1 /a", "-5 1 /a", "12 1x /a",
          "12 1 relative/path", "12 1 /a extra", "99999999999 1 /a"}) {
        EXPECT_FALSE(parse_pid_file(bad)) << bad;
    }
}

}  // namespace
