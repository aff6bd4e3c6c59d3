// Real containerd (Debian's 1.6) on two nodes of a virtual cluster: `ctr run --cni` with the
// shipped conflist gives containers IPs from their nodes' subnets through the twill plugin,
// and they reach each other across the overlay that twilld programs (issue 5).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "child_process.hpp"
#include "containerd_fixture.hpp"
#include "require_root.hpp"
#include "twill/cni/node_subnet.hpp"
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

// The addresses reserved in a node's IPAM dir (files named by the IP, DESIGN.md).
std::vector<net::Address> reserved_addresses(const fs::path& data_dir) {
    std::vector<net::Address> addresses;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(data_dir / "twill", ec)) {
        if (auto a = net::Address::try_parse(entry.path().filename().string()))
            addresses.push_back(*a);
    }
    std::sort(addresses.begin(), addresses.end(),
              [](const auto& x, const auto& y) { return x.is_v4() && !y.is_v4(); });
    return addresses;
}

// Two nodes, a container on each through `ctr run --cni`: each gets an address of its node's
// subnet (and, dual-stack, of its IPv6 subnet), and they reach each other over every family.
void containers_on_two_nodes(const std::string& ipv6_network) {
    HostMountPoints mount_points({"/etc/cni/net.d", "/opt/cni/bin", "/var/lib/cni/results"});
    VirtualCluster cluster(R"({"Type":"vxlan","VNI":1,"Port":8472})", VirtualCluster::kNetwork, 1,
                           ipv6_network);
    std::map<std::string, std::vector<net::Prefix>> subnets;
    for (const std::string n : {"a", "b"}) {
        cluster.add_node(n);
        cluster.start_daemon(n);
    }
    for (const std::string n : {"a", "b"}) {
        subnets[n].push_back(cluster.wait_ready(n));
        if (const auto file = cni::read_node_subnet(cluster.run_dir(n)); file && file->ipv6)
            subnets[n].push_back(file->ipv6->subnet);
    }
    const std::size_t families = ipv6_network.empty() ? 1 : 2;

    const auto archive = cluster.run_dir("a").parent_path().parent_path() / "busybox-oci.tar";
    auto image =
        run_command({"/usr/bin/python3", source_dir() + "/tests/containerd/make_busybox_image.py",
                     archive.string()});
    ASSERT_EQ(image.exit_code, 0) << image.output;

    std::map<std::string, std::unique_ptr<Containerd>> runtimes;
    std::map<std::string, std::vector<net::Address>> ips;
    for (const std::string n : {"a", "b"}) {
        ASSERT_EQ(subnets[n].size(), families) << n;
        const auto dir = cluster.run_dir(n).parent_path() / "containerd";
        runtimes[n] = std::make_unique<Containerd>(cluster.netns_path(n), dir);
        runtimes[n]->import(archive);
        auto run = runtimes[n]->run({"-d", "--cni", kImage, "c-" + n}, cni_dirs(cluster, n, dir));
        ASSERT_EQ(run.exit_code, 0) << run.output << runtimes[n]->log();
        ips[n] = reserved_addresses(cluster.run_dir(n).parent_path() / "cni");
        ASSERT_EQ(ips[n].size(), families) << "addresses reserved on " << n;
        auto addr = runtimes[n]->exec("c-" + n, {"/bin/busybox", "ip", "addr", "show", "eth0"});
        for (std::size_t i = 0; i < families; ++i) {
            EXPECT_TRUE(subnets[n][i].contains(ips[n][i]))
                << ips[n][i].to_string() << " not in " << subnets[n][i].to_string();
            EXPECT_NE(addr.output.find(ips[n][i].to_string()), std::string::npos) << addr.output;
        }
    }
    for (const auto& [from, to] : {std::pair{"a", "b"}, std::pair{"b", "a"}}) {
        for (const auto& ip : ips[to]) {
            EXPECT_TRUE(eventually(
                [&, from = std::string(from)] {
                    return runtimes[from]
                               ->exec("c-" + from, {"/bin/busybox", "ping", "-c", "1", "-W", "2",
                                                    ip.to_string()})
                               .exit_code == 0;
                },
                30s))
                << "container on " << from << " cannot reach " << ip.to_string();
        }
    }
}

TEST(Containerd, ContainersOnTwoNodesGetNodeSubnetIpsAndPingAcrossTheOverlay) {
    TWILL_REQUIRE_ROOT();
    containers_on_two_nodes("");
}

TEST(Containerd, DualStackContainersGetAnAddressOfEachFamilyAndPingOverBoth) {
    TWILL_REQUIRE_ROOT();
    containers_on_two_nodes("fd00:10:244::/48");
}

}  // namespace
