// Real containerd (Debian's 1.6) on two nodes of a virtual cluster: `ctr run --cni` with the
// shipped conflist gives containers IPs from their nodes' subnets through the twill plugin,
// and they reach each other across the overlay that twilld programs (issue 5).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "child_process.hpp"
#include "require_root.hpp"
#include "twill/error.hpp"
#include "twill/net/address.hpp"
#include "virtual_cluster.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kImage = "docker.io/library/twill-busybox:latest";
constexpr const char* kNamespace = "twill";

std::string build_dir() {
    return std::getenv("TWILL_BUILD_DIR") ? std::getenv("TWILL_BUILD_DIR") : ".";
}
std::string source_dir() {
    return std::getenv("TWILL_SOURCE_DIR") ? std::getenv("TWILL_SOURCE_DIR") : ".";
}

// `ctr run --cni` reads /etc/cni/net.d and /opt/cni/bin. Each ctr call gets a private mount
// namespace with the node's own dirs bound there; the mount points themselves must exist on
// the host, so they are made when missing and removed again afterwards.
class CniMountPoints {
  public:
    CniMountPoints() {
        for (const char* dir : {"/etc/cni", "/etc/cni/net.d", "/opt/cni", "/opt/cni/bin"}) {
            if (!fs::exists(dir)) {
                fs::create_directory(dir);
                made_.insert(made_.begin(), dir);
            }
        }
    }
    ~CniMountPoints() {
        for (const auto& dir : made_) ::rmdir(dir.c_str());
    }

  private:
    std::vector<std::string> made_;
};

// One containerd in a node's network namespace, with its own root, state and socket.
class Containerd {
  public:
    Containerd(VirtualCluster& cluster, const std::string& node, fs::path dir)
        : cluster_(cluster), node_(node), dir_(std::move(dir)) {
        fs::create_directories(dir_ / "net.d");
        fs::create_directories(dir_ / "bin");
        std::ofstream(dir_ / "config.toml")
            << "version = 2\nroot = \"" << (dir_ / "root").string() << "\"\nstate = \""
            << (dir_ / "state").string() << "\"\n"
            << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \""
            << socket() << "\"\n[ttrpc]\n  address = \"" << socket() << ".ttrpc\"\n";
        // The shipped conflist (DESIGN.md), with this node's runDir and dataDir.
        const auto data_dir = cluster.run_dir(node).parent_path() / "cni";
        std::ofstream(dir_ / "net.d" / "10-twill.conflist")
            << R"({"cniVersion":"1.0.0","cniVersions":["1.0.0","1.1.0"],"name":"twill","plugins":[)"
            << R"({"type":"twill","runDir":")" << cluster.run_dir(node).string()
            << R"(","dataDir":")" << data_dir.string()
            << R"("},{"type":"portmap","capabilities":{"portMappings":true}}]})";
        fs::create_symlink(build_dir() + "/bin/twill", dir_ / "bin" / "twill");
        for (const char* plugin : {"portmap", "loopback"}) {
            fs::create_symlink(std::string("/usr/lib/cni/") + plugin, dir_ / "bin" / plugin);
        }
        SpawnOptions spawn;
        spawn.netns = cluster.netns_path(node);
        spawn.log_file = dir_ / "containerd.log";
        process_.emplace(
            std::vector<std::string>{"containerd", "--config", (dir_ / "config.toml").string()},
            spawn);
        if (!eventually([&] { return ctr({"version"}).exit_code == 0; }, 30s)) {
            throw Error("containerd on " + node + " did not start: " + sys_log());
        }
    }

    ~Containerd() {
        for (const auto& id : containers_) {
            ctr({"task", "kill", "-s", "SIGKILL", id});
            eventually([&] { return ctr({"task", "delete", id}).exit_code == 0; }, 10s);
            ctr({"container", "delete", id});
        }
        process_.reset();  // SIGTERM by PID, then SIGKILL
    }

    std::string socket() const { return (dir_ / "c.sock").string(); }

    CommandResult ctr(std::vector<std::string> args) {
        args.insert(args.begin(), {"ctr", "-a", socket(), "-n", kNamespace});
        return run_command(args, {}, 60s);
    }

    void import(const fs::path& archive) {
        auto r = ctr({"images", "import", archive.string()});
        if (r.exit_code != 0) throw Error("ctr images import: " + r.output);
    }

    // `ctr run -d --cni` inside the node's network namespace and a private mount namespace.
    CommandResult run(const std::string& id) {
        const std::string script = "mount --bind " + (dir_ / "net.d").string() +
                                   " /etc/cni/net.d && mount --bind " + (dir_ / "bin").string() +
                                   " /opt/cni/bin && exec ctr -a " + socket() + " -n " +
                                   kNamespace + " run -d --cni " + kImage + " " + id;
        SpawnOptions spawn;
        spawn.netns = cluster_.netns_path(node_);
        auto r = run_command({"unshare", "-m", "sh", "-c", script}, spawn, 60s);
        if (r.exit_code == 0) containers_.push_back(id);
        return r;
    }

    CommandResult exec(const std::string& id, std::vector<std::string> argv) {
        argv.insert(argv.begin(),
                    {"task", "exec", "--exec-id", "x" + std::to_string(++execs_), id});
        return ctr(argv);
    }

    std::string sys_log() const {
        std::ifstream f(dir_ / "containerd.log");
        return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    }

  private:
    VirtualCluster& cluster_;
    std::string node_;
    fs::path dir_;
    std::optional<ChildProcess> process_;
    std::vector<std::string> containers_;
    int execs_ = 0;
};

// The one address reserved in a node's IPAM dir (named by the IP, DESIGN.md).
std::optional<net::Address> reserved_address(const fs::path& data_dir) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(data_dir / "twill", ec)) {
        if (auto a = net::Address::try_parse(entry.path().filename().string())) return a;
    }
    return std::nullopt;
}

TEST(Containerd, ContainersOnTwoNodesGetNodeSubnetIpsAndPingAcrossTheOverlay) {
    TWILL_REQUIRE_ROOT();
    CniMountPoints mount_points;
    VirtualCluster cluster;
    std::map<std::string, net::Prefix> subnets;
    for (const std::string n : {"a", "b"}) {
        cluster.add_node(n);
        cluster.start_daemon(n);
    }
    for (const std::string n : {"a", "b"}) subnets[n] = cluster.wait_ready(n);

    const auto archive = cluster.run_dir("a").parent_path().parent_path() / "busybox-oci.tar";
    auto image =
        run_command({"/usr/bin/python3", source_dir() + "/tests/containerd/make_busybox_image.py",
                     archive.string()});
    ASSERT_EQ(image.exit_code, 0) << image.output;

    std::map<std::string, std::unique_ptr<Containerd>> runtimes;
    std::map<std::string, net::Address> ips;
    for (const std::string n : {"a", "b"}) {
        runtimes[n] = std::make_unique<Containerd>(cluster, n,
                                                   cluster.run_dir(n).parent_path() / "containerd");
        runtimes[n]->import(archive);
        auto run = runtimes[n]->run("c-" + n);
        ASSERT_EQ(run.exit_code, 0) << run.output << runtimes[n]->sys_log();
        auto ip = reserved_address(cluster.run_dir(n).parent_path() / "cni");
        ASSERT_TRUE(ip) << "no IP reserved on " << n;
        EXPECT_TRUE(subnets[n].contains(*ip))
            << ip->to_string() << " not in " << subnets[n].to_string();
        ips[n] = *ip;
        auto addr =
            runtimes[n]->exec("c-" + n, {"/bin/busybox", "ip", "-4", "addr", "show", "eth0"});
        EXPECT_NE(addr.output.find(ip->to_string()), std::string::npos) << addr.output;
    }
    EXPECT_TRUE(eventually(
        [&] {
            return runtimes["a"]
                       ->exec("c-a",
                              {"/bin/busybox", "ping", "-c", "1", "-W", "2", ips["b"].to_string()})
                       .exit_code == 0;
        },
        30s))
        << "container on a cannot reach " << ips["b"].to_string();
    EXPECT_TRUE(eventually(
        [&] {
            return runtimes["b"]
                       ->exec("c-b",
                              {"/bin/busybox", "ping", "-c", "1", "-W", "2", ips["a"].to_string()})
                       .exit_code == 0;
        },
        30s))
        << "container on b cannot reach " << ips["a"].to_string();
}

}  // namespace
