#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace twill::testing {

struct SpawnOptions {
    // Run inside this network namespace (a path such as /var/run/netns/<name>).
    std::optional<std::filesystem::path> netns;
    // Extra environment entries "NAME=value" on top of the test's environment.
    std::vector<std::string> env;
    // stdout and stderr go here (appended); default: the test's own.
    std::optional<std::filesystem::path> log_file;
};

// A process a test started, leading its own process group. The destructor ends it (and the
// group) by its PID (SIGTERM, then SIGKILL after a
// grace period) and reaps it, so no test leaves a process behind, on failure too.
class ChildProcess {
  public:
    ChildProcess(std::vector<std::string> argv, SpawnOptions options = {});
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    pid_t pid() const noexcept { return pid_; }
    bool running();
    // Sends `signal` and waits up to `grace` for exit; SIGKILL after that. Returns the wait
    // status (as from waitpid).
    int stop(int signal = 15, std::chrono::milliseconds grace = std::chrono::seconds(5));
    // Waits for exit up to `timeout`; nullopt if still running.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);

  private:
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// Runs a command to completion (for tools such as `ip`, `nft`, `etcdctl` in tests) and
// returns its exit status and combined output.
struct CommandResult {
    int exit_code = -1;
    std::string output;
};
CommandResult run_command(const std::vector<std::string>& argv, SpawnOptions options = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace twill::testing
