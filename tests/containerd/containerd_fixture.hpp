#pragma once
// Real containerd (Debian's 1.6) for integration tests (DESIGN.md "Test topology"): one
// containerd per node namespace with its own root, state and socket, driven with `ctr`.
// Containers started through it are killed and deleted by the destructor, on failure too.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "child_process.hpp"

namespace twill::testing {

// Directories that must exist on the host as mount points (a bind mount in a private mount
// namespace needs one): made when missing, removed again (when still empty) by the destructor.
class HostMountPoints {
  public:
    explicit HostMountPoints(const std::vector<std::filesystem::path>& dirs);
    HostMountPoints(const HostMountPoints&) = delete;
    HostMountPoints& operator=(const HostMountPoints&) = delete;
    ~HostMountPoints();

  private:
    std::vector<std::filesystem::path> made_;  // deepest last
};

class Containerd {
  public:
    static constexpr const char* kNamespace = "twill";

    // Starts containerd in the network namespace `netns`, keeping everything under `dir`.
    Containerd(std::filesystem::path netns, std::filesystem::path dir);
    Containerd(const Containerd&) = delete;
    Containerd& operator=(const Containerd&) = delete;
    ~Containerd();

    std::string socket() const { return (dir_ / "c.sock").string(); }
    const std::filesystem::path& dir() const { return dir_; }

    // `ctr -a <socket> -n twill ARGS...` (from the test's own namespaces).
    CommandResult ctr(std::vector<std::string> args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // `ctr images import`; throws twill::Error with ctr's output on failure.
    void import(const std::filesystem::path& archive);

    // `ctr run ARGS...` inside the node's network namespace and a private mount namespace in
    // which each (source, target) of `binds` is bind-mounted first (`ctr run --cni` runs the
    // CNI plugins in ctr's own mount namespace, reading /etc/cni/net.d and /opt/cni/bin). A
    // container started detached (-d) is remembered for the destructor; `--rm` ones end with
    // the call.
    CommandResult run(const std::vector<std::string>& args,
                      const std::vector<std::pair<std::string, std::string>>& binds = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // `ctr task exec` in a running container.
    CommandResult exec(const std::string& id, std::vector<std::string> argv);
    // Kills the container's task (SIGKILL by default: signal names as `ctr task kill -s`),
    // waits for it to stop and deletes task and container.
    void remove(const std::string& id, const std::string& signal = "SIGKILL");
    // The PID (on the host) of a running container's task, 0 if none.
    pid_t task_pid(const std::string& id);

    std::string log() const;

  private:
    std::filesystem::path netns_;
    std::filesystem::path dir_;
    std::optional<ChildProcess> process_;
    std::vector<std::string> containers_;
    int execs_ = 0;
};

}  // namespace twill::testing
