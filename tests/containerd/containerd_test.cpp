// Real containerd (Debian's 1.6) on two nodes of a virtual cluster: `ctr run --cni` with the
// shipped conflist gives containers IPs from their nodes' subnets through the twill plugin,
// and they reach each other across the overlay that twilld programs (issue 5).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "child_process.hpp"
#include "containerd_fixture.hpp"
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

std::string build_dir() {
    return std::getenv("TWILL_BUILD_DIR") ? std::getenv("TWILL_BUILD_DIR") : ".";
}
std::string source_dir() {
    return std::getenv("TWILL_SOURCE_DIR") ? std::getenv("TWILL_SOURCE_DIR") : ".";
}

// The shipped conflist (DESIGN.md) with the node's runDir and dataDir, and the plugins, in
// `dir`/net.d and `dir`/bin: bound over /etc/cni/net.d and /opt/cni/bin for `ctr run --cni`.
std::vector<std::pair<std::string, std::string>> cni_dirs(VirtualCluster& cluster,
                                                          const std::string& node,
                                                          const fs::path& dir) {
    fs::create_directories(dir / "net.d");
    fs::create_directories(dir / "bin");
    const auto data_dir = cluster.run_dir(node).parent_path() / "cni";
    std::ofstream(dir / "net.d" / "10-twill.conflist")
        << R"({"cniVersion":"1.0.0","cniVersions":["1.0.0","1.1.0"],"name":"twill","plugins":[)"
        << R"({"type":"twill","runDir":")" << cluster.run_dir(node).string() << R"(","dataDir":")"
        << data_dir.string() << R"("},{"type":"portmap","capabilities":{"portMappings":true}}]})";
    fs::create_symlink(build_dir() + "/bin/twill", dir / "bin" / "twill");
    for (const char* plugin : {"portmap", "loopback"}) {
        fs::create_symlink(std::string("/usr/lib/cni/") + plugin, dir / "bin" / plugin);
    }
    // ctr keeps CNI results in /var/lib/cni/results (no DEL runs for its containers).
    fs::create_directories(dir / "results");
    return {{(dir / "net.d").string(), "/etc/cni/net.d"},
            {(dir / "bin").string(), "/opt/cni/bin"},
            {(dir / "results").string(), "/var/lib/cni/results"}};
}

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
    HostMountPoints mount_points({"/etc/cni/net.d", "/opt/cni/bin", "/var/lib/cni/results"});
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
        const auto dir = cluster.run_dir(n).parent_path() / "containerd";
        runtimes[n] = std::make_unique<Containerd>(cluster.netns_path(n), dir);
        runtimes[n]->import(archive);
        auto run = runtimes[n]->run({"-d", "--cni", kImage, "c-" + n}, cni_dirs(cluster, n, dir));
        ASSERT_EQ(run.exit_code, 0) << run.output << runtimes[n]->log();
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
