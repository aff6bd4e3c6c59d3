#include "process_helpers.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "twill/sys/file.hpp"

namespace twill::testing {

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return condition();
}

bool process_alive(pid_t pid) {
    const auto stat = sys::read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return false;
    const auto close = stat->rfind(')');
    return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

Sleeper::Sleeper() {
    pid_ = ::fork();
    if (pid_ == 0) {
        ::pause();
        ::_exit(0);
    }
}

Sleeper::~Sleeper() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

void Sleeper::kill_only() {
    ::kill(pid_, SIGKILL);
}

}  // namespace twill::testing
