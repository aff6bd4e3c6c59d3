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

#include "twill/backend/wireguard_userspace.hpp"

using namespace twill::backend;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A forked child that only waits to be killed; reaped by the destructor.
class Sleeper {
  public:
    Sleeper() {
        pid_ = ::fork();
        if (pid_ == 0) {
            ::pause();
            ::_exit(0);
        }
    }
    ~Sleeper() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    // Kills it but leaves it unreaped: a zombie.
    void kill_only() { ::kill(pid_, SIGKILL); }

  private:
    pid_t pid_ = -1;
};

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

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
