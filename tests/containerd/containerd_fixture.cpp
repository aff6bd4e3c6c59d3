#include "containerd_fixture.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "twill/error.hpp"
#include "twill/sys/file.hpp"

namespace twill::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
std::string shell_quote(const std::string& word) {
    std::string quoted = "'";
    for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

bool poll(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return condition();
}
}  // namespace

HostMountPoints::HostMountPoints(const std::vector<fs::path>& dirs) {
    for (const auto& dir : dirs) {
        std::vector<fs::path> missing;
        for (auto d = dir; !d.empty() && d != d.root_path() && !fs::exists(d);
             d = d.parent_path()) {
            missing.insert(missing.begin(), d);
        }
        for (const auto& d : missing) {
            fs::create_directory(d);
            made_.push_back(d);
        }
    }
}

HostMountPoints::~HostMountPoints() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) ::rmdir(it->c_str());
}

Containerd::Containerd(fs::path netns, fs::path dir)
    : netns_(std::move(netns)), dir_(std::move(dir)) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "config.toml")
        << "version = 2\nroot = \"" << (dir_ / "root").string() << "\"\nstate = \""
        << (dir_ / "state").string() << "\"\n"
        << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"" << socket()
        << "\"\n[ttrpc]\n  address = \"" << socket() << ".ttrpc\"\n";
    SpawnOptions spawn;
    spawn.netns = netns_;
    spawn.log_file = dir_ / "containerd.log";
    process_.emplace(
        std::vector<std::string>{"containerd", "--config", (dir_ / "config.toml").string()}, spawn);
    if (!poll([&] { return ctr({"version"}, 10s).exit_code == 0; }, 30s)) {
        throw Error("containerd in " + netns_.string() + " did not start: " + log());
    }
}

Containerd::~Containerd() {
    while (!containers_.empty()) {
        try {
            remove(containers_.back());
        } catch (const std::exception&) {
            containers_.pop_back();
        }
    }
    process_.reset();  // SIGTERM by PID, then SIGKILL
}

CommandResult Containerd::ctr(std::vector<std::string> args, std::chrono::milliseconds timeout) {
    args.insert(args.begin(), {"ctr", "-a", socket(), "-n", kNamespace});
    return run_command(args, {}, timeout);
}

void Containerd::import(const fs::path& archive) {
    auto r = ctr({"images", "import", archive.string()}, 120s);
    if (r.exit_code != 0) throw Error("ctr images import: " + r.output);
}

CommandResult Containerd::run(const std::vector<std::string>& args,
                              const std::vector<std::pair<std::string, std::string>>& binds,
                              std::chrono::milliseconds timeout) {
    std::string script = "set -e; mount --make-rslave /; ";
    for (const auto& [source, target] : binds) {
        script += "mount --bind " + shell_quote(source) + " " + shell_quote(target) + "; ";
    }
    script += "exec ctr -a " + shell_quote(socket()) + " -n " + kNamespace + " run";
    for (const auto& a : args) script += " " + shell_quote(a);
    SpawnOptions spawn;
    spawn.netns = netns_;
    auto r = run_command({"unshare", "-m", "sh", "-c", script}, spawn, timeout);
    const bool detached = std::find(args.begin(), args.end(), "-d") != args.end();
    // Where the container ID stands among ctr's arguments is not parsed here: every container
    // ctr lists now that was not known before is remembered.
    if (detached) {
        auto list = ctr({"containers", "list", "-q"});
        std::istringstream ids(list.output);
        for (std::string id; ids >> id;) {
            if (std::find(containers_.begin(), containers_.end(), id) == containers_.end()) {
                containers_.push_back(id);
            }
        }
    }
    return r;
}

CommandResult Containerd::exec(const std::string& id, std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"task", "exec", "--exec-id", "x" + std::to_string(++execs_), id});
    return ctr(argv);
}

pid_t Containerd::task_pid(const std::string& id) {
    auto r = ctr({"task", "ls"});
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string task, pid, status;
        if (words >> task >> pid >> status && task == id && status == "RUNNING") {
            return static_cast<pid_t>(std::stoi(pid));
        }
    }
    return 0;
}

void Containerd::remove(const std::string& id, const std::string& signal) {
    const auto gone = [&] {
        if (ctr({"task", "delete", id}).exit_code == 0) return true;
        return ctr({"task", "ls", "-q"}).output.find(id) == std::string::npos;
    };
    ctr({"task", "kill", "-s", signal, id});
    if (!poll(gone, 30s)) {
        ctr({"task", "kill", "-s", "SIGKILL", id});
        poll(gone, 10s);
    }
    ctr({"container", "delete", id});
    std::erase(containers_, id);
}

std::string Containerd::log() const {
    return sys::read_file(dir_ / "containerd.log").value_or("(no containerd log)");
}

}  // namespace twill::testing
