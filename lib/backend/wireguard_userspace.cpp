// Debian's wireguard-go as the WireGuard device: twilld starts it, supervises it (a dead
// wireguard-go is started again by the next ensure(); its TUN device vanishes with it, which
// the daemon's link monitor reports at once) and configures it over its UAPI socket.
//
// wireguard-go puts that socket in the fixed directory /var/run/wireguard. Each child gets a
// private mount namespace with <run-dir>/wireguard bound there, so several nodes on one host
// (tests, the demo) do not collide and the host's own sockets stay untouched.
//
// wireguard-go runs in its own session and outlives twilld (the data plane outlives the
// control plane); its identity is kept in <run-dir>/wireguard/<ifname>.pid so a restarted
// twilld adopts it, and leave stops it. The record names PID, start time and executable
// (twill/backend/wireguard_userspace.hpp): a reused PID is never adopted, stopped or killed.
//
// A wireguard-go that twilld did not start (the DaemonSet's own wireguard-go container, which
// outlives twilld's container) is adopted too when it serves the device and answers on the
// UAPI socket: twilld configures it and never starts a second one, nor stops it.
#include "twill/backend/wireguard_userspace.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>
#include <vector>

#include "twill/backend/wireguard_device.hpp"
#include "twill/backend/wireguard_uapi.hpp"
#include "twill/error.hpp"
#include "twill/sys/file.hpp"

extern char** environ;

namespace twill::backend {

namespace {

constexpr const char* kProgram = "wireguard-go";
constexpr auto kStartTimeout = std::chrono::seconds(3);
constexpr auto kStopTimeout = std::chrono::seconds(2);

// /proc/<pid>/stat is "<pid> (<comm>) <state> <ppid> ..."; the fields after the command name,
// from the state (field 3) on.
std::optional<std::vector<std::string>> stat_fields(pid_t pid) {
    const auto stat = sys::read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return std::nullopt;
    const auto close = stat->rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::vector<std::string> fields;
    std::istringstream rest(stat->substr(close + 1));
    for (std::string field; rest >> field;) fields.push_back(field);
    return fields;
}

// The program's absolute path, as execvp would find it.
std::optional<std::string> find_in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        if (dir.empty()) continue;
        const auto candidate = std::filesystem::path(dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) {
            std::error_code ec;
            auto real = std::filesystem::canonical(candidate, ec);
            return ec ? candidate.string() : real.string();
        }
    }
    return std::nullopt;
}

class UserspaceWireguardDevice final : public WireguardDevice {
  public:
    UserspaceWireguardDevice(std::string name, std::filesystem::path run_dir)
        : name_(std::move(name)),
          socket_dir_(run_dir / "wireguard"),
          socket_path_(socket_dir_ / (name_ + ".sock")),
          pid_file_(socket_dir_ / (name_ + ".pid")),
          log_file_(socket_dir_ / (name_ + ".log")) {}

    std::string implementation() const override { return "userspace (wireguard-go)"; }

    std::optional<netlink::Link> ensure(netlink::Handle& handle, bool dry_run,
                                        bool& recreated) override {
        recreated = false;
        auto link = handle.find_link(name_);
        const bool alive = running();
        if (link && alive && std::filesystem::exists(socket_path_)) return link;
        if (!alive && link && serves_socket()) return link;
        if (dry_run) return alive ? link : std::nullopt;
        if (alive) {
            spdlog::warn("{} (pid {}) lost its device or socket; restarting it", kProgram, pid_);
            stop();
        } else if (pid_ != 0 || std::filesystem::exists(pid_file_)) {
            spdlog::warn("{} for {} is not running; starting it again", kProgram, name_);
        }
        pid_ = 0;
        // A device under twill's name without its wireguard-go (a leftover TUN, or a kernel
        // WireGuard device when the flag forces userspace) would make wireguard-go fail.
        if (link) handle.delete_link(link->index);
        start();
        const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
        for (;;) {
            link = handle.find_link(name_);
            if (link && std::filesystem::exists(socket_path_)) break;
            if (!running()) {
                throw Error("start " + std::string(kProgram) + " " + name_ + ": it exited; see " +
                            log_file_.string());
            }
            if (std::chrono::steady_clock::now() > deadline) {
                throw Error("start " + std::string(kProgram) + " " + name_ +
                            ": no device and UAPI socket after " +
                            std::to_string(kStartTimeout.count()) + " s; see " +
                            log_file_.string());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        recreated = true;
        spdlog::info("started {} for {} (pid {}), UAPI socket {}", kProgram, name_, pid_,
                     socket_path_.string());
        return link;
    }

    netlink::WireguardDeviceConfig read() override { return UapiClient(socket_path_).get(); }
    void apply(const netlink::WireguardChange& change) override {
        UapiClient(socket_path_).set(change);
    }

    void remove(netlink::Handle& handle) override {
        if (running()) stop();
        pid_ = 0;
        adopted_ = false;
        ::unlink(pid_file_.c_str());
        if (auto link = handle.find_link(name_)) handle.delete_link(link->index);
    }

  private:
    // Whether a wireguard-go that twilld did not start serves the device: the UAPI socket
    // answers. Asked once; afterwards the device vanishing (wireguard-go's TUN goes with it)
    // or the socket going away says it ended.
    bool serves_socket() {
        if (!std::filesystem::exists(socket_path_)) {
            adopted_ = false;
            return false;
        }
        if (adopted_) return true;
        try {
            UapiClient(socket_path_).get();
        } catch (const std::exception& e) {
            spdlog::warn("{} is not answered ({}); starting {}", socket_path_.string(), e.what(),
                         kProgram);
            return false;
        }
        adopted_ = true;
        spdlog::info(
            "adopted the {} serving {} over {} (not started by twilld: it is neither "
            "restarted nor stopped by twilld)",
            kProgram, name_, socket_path_.string());
        return true;
    }

    // Whether our wireguard-go (a child, or one adopted through the PID file) runs.
    bool running() {
        if (pid_ == 0) {
            const auto text = sys::read_file(pid_file_);
            if (!text) return false;
            const auto recorded = parse_pid_file(*text);
            if (!recorded || !same_process_running(*recorded)) {
                // Another process may carry that PID by now: never adopt, stop or kill it.
                spdlog::info("{} names no running {} of twilld's (stale record: {}); ignoring it",
                             pid_file_.string(), kProgram, trim(*text));
                ::unlink(pid_file_.c_str());
                return false;
            }
            pid_ = recorded->pid;
            identity_ = *recorded;
            child_ = false;
            spdlog::info("adopted {} (pid {}) recorded in {}", kProgram, pid_, pid_file_.string());
        }
        if (child_) {
            int status = 0;
            const pid_t result = ::waitpid(pid_, &status, WNOHANG);
            if (result == pid_ || (result < 0 && errno == ECHILD)) {
                if (result == pid_) {
                    spdlog::warn("{} (pid {}) exited with status {}", kProgram, pid_, status);
                }
                pid_ = 0;
                return false;
            }
            return true;
        }
        if (same_process_running(identity_)) return true;
        pid_ = 0;
        return false;
    }

    static std::string trim(const std::string& text) {
        const auto end = text.find_last_not_of(" \n");
        return end == std::string::npos ? text : text.substr(0, end + 1);
    }

    void stop() {
        if (pid_ == 0) return;
        ::kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
        while (running() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (pid_ != 0) {
            ::kill(pid_, SIGKILL);
            if (child_) ::waitpid(pid_, nullptr, 0);
        }
        pid_ = 0;
    }

    void start() {
        sys::make_directories(socket_dir_, 0700);
        ::unlink(socket_path_.c_str());
        // Everything the child needs is prepared here: after fork only system calls.
        const std::string socket_dir = socket_dir_.string();
        const auto resolved = find_in_path(kProgram);
        if (!resolved) throw Error(std::string(kProgram) + " not found in PATH");
        const std::string program = *resolved;
        const std::string foreground = "-f";
        const std::string argv0 = kProgram;
        std::vector<char*> argv{const_cast<char*>(argv0.c_str()),
                                const_cast<char*>(foreground.c_str()),
                                const_cast<char*>(name_.c_str()), nullptr};
        std::vector<std::string> env_strings;
        for (char** e = environ; *e; ++e) {
            const std::string_view entry(*e);
            if (!entry.starts_with("LOG_LEVEL=") && !entry.starts_with("WG_PROCESS_FOREGROUND=")) {
                env_strings.emplace_back(entry);
            }
        }
        env_strings.emplace_back("LOG_LEVEL=error");
        env_strings.emplace_back("WG_PROCESS_FOREGROUND=1");  // no "use the kernel module" banner
        std::vector<char*> envp;
        for (auto& s : env_strings) envp.push_back(s.data());
        envp.push_back(nullptr);
        const int log = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (log < 0) throw_errno("open " + log_file_.string());
        const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

        const pid_t pid = ::fork();
        if (pid < 0) {
            const int error = errno;
            ::close(log);
            if (null >= 0) ::close(null);
            throw SystemError("fork for " + program, error);
        }
        if (pid == 0) {
            ::setsid();
            if (::unshare(CLONE_NEWNS) < 0) ::_exit(126);
            if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0) ::_exit(126);
            ::mkdir("/run/wireguard", 0700);
            if (::mount(socket_dir.c_str(), "/run/wireguard", nullptr, MS_BIND, nullptr) < 0)
                ::_exit(126);
            if (null >= 0) ::dup2(null, STDIN_FILENO);
            ::dup2(log, STDOUT_FILENO);
            ::dup2(log, STDERR_FILENO);
            ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // twilld's sockets stay with twilld
            ::execve(program.c_str(), argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(log);
        if (null >= 0) ::close(null);
        pid_ = pid;
        child_ = true;
        adopted_ = false;
        // The start time is fixed at fork; the executable is the one the child execs.
        identity_ = ProcessIdentity{pid, 0, program};
        if (const auto fields = stat_fields(pid); fields && fields->size() > 19) {
            identity_.start_time = std::stoull((*fields)[19]);
        }
        sys::write_file_atomic(pid_file_, format_pid_file(identity_), 0600);
    }

    std::string name_;
    std::filesystem::path socket_dir_;
    std::filesystem::path socket_path_;
    std::filesystem::path pid_file_;
    std::filesystem::path log_file_;
    pid_t pid_ = 0;
    bool child_ = false;
    ProcessIdentity identity_;
    bool adopted_ = false;  // a wireguard-go twilld did not start serves the device
};

}  // namespace

std::optional<ProcessIdentity> identify_process(pid_t pid) {
    const auto fields = stat_fields(pid);
    if (!fields || fields->size() <= 19 || (*fields)[0] == "Z" || (*fields)[0] == "X") {
        return std::nullopt;
    }
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
    if (ec) return std::nullopt;
    try {
        return ProcessIdentity{pid, std::stoull((*fields)[19]), exe.string()};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string format_pid_file(const ProcessIdentity& identity) {
    return std::to_string(identity.pid) + " " + std::to_string(identity.start_time) + " " +
           identity.executable + "\n";
}

std::optional<ProcessIdentity> parse_pid_file(std::string_view text) {
    std::istringstream in{std::string(text)};
    long long pid = 0;
    std::string start_time;
    std::string executable;
    if (!(in >> pid >> start_time >> executable) || pid <= 0 || pid > INT32_MAX) {
        return std::nullopt;
    }
    if (start_time.empty() || start_time.find_first_not_of("0123456789") != std::string::npos ||
        executable.front() != '/') {
        return std::nullopt;
    }
    std::string rest;
    if (in >> rest) return std::nullopt;
    try {
        return ProcessIdentity{static_cast<pid_t>(pid), std::stoull(start_time), executable};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool same_process_running(const ProcessIdentity& recorded) {
    const auto now = identify_process(recorded.pid);
    return now && *now == recorded;
}

std::unique_ptr<WireguardDevice> make_userspace_wireguard_device(std::string name,
                                                                 std::filesystem::path run_dir) {
    return std::make_unique<UserspaceWireguardDevice>(std::move(name), std::move(run_dir));
}

}  // namespace twill::backend
