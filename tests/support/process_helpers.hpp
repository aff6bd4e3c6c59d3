#pragma once
// Small helpers tests share: polling for a condition, whether a PID is a live process, and a
// forked child that does nothing but wait to be killed.
#include <sys/types.h>

#include <chrono>
#include <functional>

namespace twill::testing {

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Exists and is not a zombie waiting for its parent.
bool process_alive(pid_t pid);

// A forked child that only waits to be killed; killed and reaped by the destructor.
class Sleeper {
  public:
    Sleeper();
    Sleeper(const Sleeper&) = delete;
    Sleeper& operator=(const Sleeper&) = delete;
    ~Sleeper();
    pid_t pid() const { return pid_; }
    // Kills it but leaves it unreaped: a zombie.
    void kill_only();

  private:
    pid_t pid_ = -1;
};

}  // namespace twill::testing
