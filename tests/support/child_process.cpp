#include "child_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "twill/error.hpp"
#include "twill/sys/fd.hpp"
#include "twill/sys/file.hpp"

namespace twill::testing {

namespace {

// In the child after fork: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, const SpawnOptions& options,
                             int netns_fd, int log_fd) {
    ::setpgid(0, 0);
    if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) < 0) _exit(126);
    if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
    }
    for (const auto& entry : options.env) ::putenv(const_cast<char*>(entry.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, SpawnOptions options) {
    if (argv.empty()) throw Error("spawn: empty command");
    sys::UniqueFd netns_fd;
    if (options.netns) {
        netns_fd.reset(::open(options.netns->c_str(), O_RDONLY | O_CLOEXEC));
        if (!netns_fd) throw_errno("open network namespace " + options.netns->string());
    }
    sys::UniqueFd log_fd;
    if (options.log_file) {
        log_fd.reset(
            ::open(options.log_file->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
        if (!log_fd) throw_errno("open log " + options.log_file->string());
    }
    pid_ = ::fork();
    if (pid_ < 0) throw_errno("fork for " + argv[0]);
    if (pid_ == 0) exec_child(argv, options, netns_fd.get(), log_fd.get());
    ::setpgid(pid_, pid_);  // also here, so that stop() works even before the child ran
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        if (pid_ > 0 && !status_) stop();
        pid_ = std::exchange(other.pid_, -1);
        status_ = other.status_;
    }
    return *this;
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !status_) stop();
}

bool ChildProcess::running() {
    return pid_ > 0 && !wait_for(std::chrono::milliseconds(0));
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
    if (status_) return status_;
    if (pid_ <= 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            status_ = status;
            return status_;
        }
        if (r < 0 && errno != EINTR) {
            status_ = -1;
            return status_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

int ChildProcess::stop(int signal, std::chrono::milliseconds grace) {
    if (pid_ <= 0) return -1;
    if (status_) return *status_;
    // The child leads its own process group: signal the group so that whatever it started
    // (a shell's children) ends with it.
    ::kill(-pid_, signal);
    ::kill(pid_, signal);
    auto status = wait_for(grace);
    if (!status) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        status = wait_for(std::chrono::seconds(30));
    }
    ::kill(-pid_, SIGKILL);  // stragglers of the group
    return status.value_or(-1);
}

CommandResult run_command(const std::vector<std::string>& argv, SpawnOptions options,
                          std::chrono::milliseconds timeout) {
    char path_template[] = "/tmp/twill-command-XXXXXX";
    sys::UniqueFd fd(::mkstemp(path_template));
    if (!fd) throw_errno("create temporary output file");
    const std::filesystem::path output_path(path_template);
    options.log_file = output_path;
    CommandResult result;
    {
        ChildProcess child(argv, options);
        auto status = child.wait_for(timeout);
        if (!status) status = child.stop(SIGKILL);
        result.exit_code = (*status >= 0 && WIFEXITED(*status)) ? WEXITSTATUS(*status) : -1;
    }
    result.output = sys::read_file(output_path).value_or("");
    ::unlink(path_template);
    return result;
}

}  // namespace twill::testing
