// Not a test: ADD and DEL latency of the twill plugin and of Debian's reference chain
// (bridge + host-local from /usr/lib/cni), each run as a fresh process the way containerd
// runs it, and the netlink floor: the kernel calls every implementation must make (veth
// created with its peer in the pod, bridge port + hairpin + up, pod address + up + default
// route; DEL: delete the veth) done in-process with lib/netlink, and the syncs a crash-safe
// reservation needs, also in-process. Run by scripts/bench-cni.
//
// Then a pod burst: --burst ADDs (default 100) started at once, each into its own pod, then as
// many DELs at once; for twill it checks that every address is distinct and that nothing is
// left after the DELs (exit 1 otherwise).
//
//   cni_bench --plugin build-release/bin/twill [--cycles 200] [--burst 100]
//             [--prefix twbench-<pid>-]
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "percentile.hpp"
#include "twill/cni/node_subnet.hpp"
#include "twill/error.hpp"
#include "twill/netlink/netlink.hpp"
#include "twill/sys/fd.hpp"
#include "twill/sys/file.hpp"

namespace {

using namespace twill;
using test::percentile;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Samples {
    std::vector<double> add_us;
    std::vector<double> del_us;
};

double elapsed_us(Clock::time_point start) {
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// Starts one plugin process with the CNI environment and `config_path` on stdin, its stdout
// and stderr into `output_path`.
pid_t spawn_plugin(const fs::path& program, const std::vector<std::string>& env,
                   const fs::path& config_path, const fs::path& output_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, config_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
    pid_t pid = 0;
    const int error = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) throw SystemError("spawn " + program.string(), error);
    return pid;
}

// Runs one plugin process (see spawn_plugin); returns its wall time. Throws with the plugin's
// output when it fails.
double run_plugin(const fs::path& program, const std::vector<std::string>& env,
                  const fs::path& config_path, const fs::path& output_path) {
    const auto start = Clock::now();
    const pid_t pid = spawn_plugin(program, env, config_path, output_path);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw_errno("wait for " + program.string());
    }
    const double us = elapsed_us(start);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw Error(program.string() + " failed: " + sys::read_file(output_path).value_or(""));
    }
    return us;
}

std::vector<std::string> cni_env(const char* command, const std::string& id,
                                 const fs::path& netns) {
    return {std::string("CNI_COMMAND=") + command,
            "CNI_CONTAINERID=" + id,
            "CNI_NETNS=" + netns.string(),
            "CNI_IFNAME=eth0",
            "CNI_PATH=/usr/lib/cni",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
}

Samples bench_plugin(const fs::path& program, const std::string& config, const fs::path& pod,
                     const fs::path& dir, int cycles, const std::string& label) {
    const auto config_path = dir / (label + ".json");
    std::ofstream(config_path) << config;
    const auto output = dir / (label + ".out");
    Samples samples;
    for (int i = 0; i < cycles; ++i) {
        const auto id = label + "-" + std::to_string(i);
        samples.add_us.push_back(run_plugin(program, cni_env("ADD", id, pod), config_path, output));
        samples.del_us.push_back(run_plugin(program, cni_env("DEL", id, pod), config_path, output));
    }
    return samples;
}

Samples bench_floor(const netlink::Netns& pod_ns, const std::string& bridge,
                    const net::Prefix& subnet, const net::Address& gateway, int cycles) {
    Samples samples;
    for (int i = 0; i < cycles; ++i) {
        const auto address = net::Prefix(
            subnet.first().plus(2 + static_cast<std::uint64_t>(i % 200)), subnet.length());
        auto start = Clock::now();
        {
            auto pod = netlink::Netns::open_path(pod_ns.description());
            netlink::Handle host;
            netlink::VethSpec veth;
            veth.name = "twfloor" + std::to_string(i);
            veth.peer_name = "eth0";
            veth.peer_netns = &pod;
            veth.mtu = 1450;
            const auto host_end = host.create_veth(veth);
            host.set_master(host_end.index, host.get_link(bridge).index);
            host.set_hairpin(host_end.index, true);
            host.set_link_up(host_end.index);
            netlink::Handle in_pod(pod);
            const auto eth0 = in_pod.get_link("eth0");
            in_pod.set_link_up(eth0.index);
            in_pod.add_address(eth0.index, address);
            netlink::Route route;
            route.destination = net::Prefix(net::Address::zero(gateway.family()), 0);
            route.gateway = gateway;
            route.oif = eth0.index;
            in_pod.add_route(route);
        }
        samples.add_us.push_back(elapsed_us(start));
        start = Clock::now();
        {
            netlink::Handle host;
            host.delete_link(host.get_link("twfloor" + std::to_string(i)).index);
        }
        samples.del_us.push_back(elapsed_us(start));
    }
    return samples;
}

// What a crash-safe reservation asks of the disk, whatever writes it, in-process: the
// reservation written to a new file, synced and linked into place, the cursor replaced the
// same way, and their directory synced (#15: a reservation survives a power loss). Its DEL
// column is the release: the file removed, the directory synced.
Samples bench_durable_write(const fs::path& dir, int cycles) {
    sys::make_directories(dir);
    const sys::UniqueFd directory(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!directory) throw_errno("open " + dir.string());
    const auto write_synced = [&](const char* name, const std::string& content) {
        const sys::UniqueFd fd(
            ::openat(directory.get(), name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd ||
            ::write(fd.get(), content.data(), content.size()) !=
                static_cast<ssize_t>(content.size()) ||
            ::fsync(fd.get()) != 0)
            throw_errno(std::string("write ") + name);
    };
    const auto sync_directory = [&] {
        if (::fsync(directory.get()) != 0) throw_errno("fsync " + dir.string());
    };
    Samples samples;
    for (int i = 0; i < cycles; ++i) {
        const auto name = "10.247.3." + std::to_string(2 + i % 200);
        auto start = Clock::now();
        write_synced("reservation.tmp", "container-" + std::to_string(i) + "\neth0\n");
        if (::linkat(directory.get(), "reservation.tmp", directory.get(), name.c_str(), 0) != 0)
            throw_errno("link " + name);
        ::unlinkat(directory.get(), "reservation.tmp", 0);
        write_synced("cursor.tmp", name);
        if (::renameat(directory.get(), "cursor.tmp", directory.get(), "cursor") != 0)
            throw_errno("rename cursor");
        sync_directory();
        samples.add_us.push_back(elapsed_us(start));
        start = Clock::now();
        if (::unlinkat(directory.get(), name.c_str(), 0) != 0) throw_errno("remove " + name);
        sync_directory();
        samples.del_us.push_back(elapsed_us(start));
    }
    return samples;
}

// Process start alone: the plugin answering VERSION (no config work, no netlink).
std::vector<double> bench_start(const fs::path& program, const fs::path& dir, int cycles,
                                const std::string& label) {
    const auto config_path = dir / (label + "-version.json");
    std::ofstream(config_path) << R"({"cniVersion":"1.0.0"})";
    std::vector<double> samples;
    for (int i = 0; i < cycles; ++i) {
        samples.push_back(run_plugin(program, {"CNI_COMMAND=VERSION"}, config_path,
                                     dir / (label + "-version.out")));
    }
    return samples;
}

// A pod burst (a Deployment scaled up, a node rebooted): `count` ADDs started at once, each
// into a pod namespace of its own, then `count` DELs at once.
struct Burst {
    std::vector<double> add_us;  // each ADD from its spawn to its exit
    double add_all_us = 0;       // the first spawn to the last exit
    std::vector<double> del_us;
    double del_all_us = 0;
    std::size_t distinct_addresses = 0;
    int failures = 0;
};

// Spawns one process per `env` at once; the wall time of each and of all.
std::pair<std::vector<double>, double> run_at_once(
    const fs::path& program, const std::vector<std::vector<std::string>>& envs,
    const fs::path& config_path, const std::vector<fs::path>& outputs, int& failures) {
    std::vector<std::pair<pid_t, Clock::time_point>> running;
    const auto first = Clock::now();
    for (std::size_t i = 0; i < envs.size(); ++i) {
        const auto start = Clock::now();
        running.emplace_back(spawn_plugin(program, envs[i], config_path, outputs[i]), start);
    }
    std::vector<double> each(envs.size());
    for (std::size_t done = 0; done < envs.size(); ++done) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                --done;
                continue;
            }
            throw_errno("wait for plugins");
        }
        const auto now = Clock::now();
        for (std::size_t i = 0; i < running.size(); ++i) {
            if (running[i].first != pid) continue;
            each[i] = std::chrono::duration<double, std::micro>(now - running[i].second).count();
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
    }
    return {each, elapsed_us(first)};
}

Burst bench_burst(const fs::path& program, const std::string& config, const std::string& prefix,
                  const fs::path& dir, int count, const std::string& label) {
    const auto config_path = dir / (label + "-burst.json");
    std::ofstream(config_path) << config;
    std::vector<netlink::OwnedNetns> pods;
    pods.reserve(static_cast<std::size_t>(count));
    std::vector<std::vector<std::string>> adds, dels;
    std::vector<fs::path> outputs;
    for (int i = 0; i < count; ++i) {
        const auto& pod = pods.emplace_back(prefix + label.substr(0, 3) + std::to_string(i));
        const auto id = label + "-burst-" + std::to_string(i);
        adds.push_back(cni_env("ADD", id, pod.path()));
        dels.push_back(cni_env("DEL", id, pod.path()));
        outputs.push_back(dir / (label + "-burst-" + std::to_string(i) + ".out"));
    }
    Burst burst;
    std::tie(burst.add_us, burst.add_all_us) =
        run_at_once(program, adds, config_path, outputs, burst.failures);
    std::vector<std::string> addresses;
    for (const auto& output : outputs) {
        const auto text = sys::read_file(output).value_or("");
        // The first "address" of the result (the reference's JSON is indented).
        const auto at = text.find("\"address\"");
        if (at == std::string::npos) continue;
        const auto begin = text.find('"', text.find(':', at)) + 1;
        addresses.push_back(text.substr(begin, text.find('"', begin) - begin));
    }
    std::sort(addresses.begin(), addresses.end());
    burst.distinct_addresses = static_cast<std::size_t>(
        std::unique(addresses.begin(), addresses.end()) - addresses.begin());
    std::tie(burst.del_us, burst.del_all_us) =
        run_at_once(program, dels, config_path, outputs, burst.failures);
    return burst;
}

// What a burst of DELs left of twill's: reservations in its store, host veths ("tw…").
std::string twill_leftovers(const fs::path& data_dir) {
    std::string left;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(data_dir / "twill", ec)) {
        if (net::Address::try_parse(entry.path().filename().string()))
            left += " reservation " + entry.path().filename().string();
    }
    for (const auto& link : netlink::Handle().list_links()) {
        if (link.name.starts_with("tw") && link.name != "twill0") left += " veth " + link.name;
    }
    return left;
}

void print_row(const std::string& name, const Samples& s) {
    std::printf("%-34s %9.0f %9.0f %9.0f %9.0f\n", name.c_str(), percentile(s.add_us, 0.5),
                percentile(s.add_us, 0.99), percentile(s.del_us, 0.5), percentile(s.del_us, 0.99));
}

}  // namespace

int main(int argc, char** argv) {
    fs::path plugin;
    int cycles = 200;
    int burst = 100;
    std::string prefix = "twbench-" + std::to_string(::getpid()) + "-";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--plugin")
            plugin = argv[i + 1];
        else if (flag == "--cycles")
            cycles = std::stoi(argv[i + 1]);
        else if (flag == "--prefix")
            prefix = argv[i + 1];
        else if (flag == "--burst")
            burst = std::stoi(argv[i + 1]);
    }
    if (plugin.empty() || cycles < 1 || burst < 1) {
        std::cerr << "usage: cni_bench --plugin PATH [--cycles N] [--burst N] [--prefix NAME-]\n";
        return 2;
    }
    try {
        plugin = fs::absolute(plugin);
        char dir_template[] = "/tmp/twill-bench-XXXXXX";
        const fs::path dir = ::mkdtemp(dir_template);
        netlink::OwnedNetns node(prefix + "node");
        netlink::OwnedNetns pod(prefix + "pod");
        // Everything from here on (plugin processes too) runs in the node namespace.
        if (::setns(node.netns().fd(), CLONE_NEWNET) != 0) throw_errno("enter " + node.name());
        netlink::Handle host;
        host.set_link_up(host.get_link("lo").index);
        netlink::Handle(pod).set_link_up(netlink::Handle(pod).get_link("lo").index);

        cni::NodeSubnet subnet{net::Prefix::parse("10.244.0.0/16"),
                               net::Prefix::parse("10.244.3.0/24"),
                               net::Address::parse("10.244.3.1"), "twill0", 1450};
        netlink::BridgeSpec bridge;
        bridge.name = subnet.bridge;
        const auto twill0 = host.create_bridge(bridge);
        host.add_address(twill0.index, net::Prefix(subnet.gateway, 24));
        host.set_link_up(twill0.index);
        sys::make_directories(dir / "run");
        cni::write_node_subnet(dir / "run", subnet);

        const std::string twill_config =
            R"({"cniVersion":"1.0.0","name":"twill","type":"twill","runDir":")" +
            (dir / "run").string() + R"(","dataDir":")" + (dir / "twill").string() + "\"}";
        const std::string reference_config =
            R"({"cniVersion":"1.0.0","name":"ref","type":"bridge","bridge":"cni0","isGateway":true,"hairpinMode":true,)"
            R"("mtu":1450,"ipam":{"type":"host-local","dataDir":")" +
            (dir / "host-local").string() +
            R"(","ranges":[[{"subnet":"10.245.3.0/24","gateway":"10.245.3.1"}]],"routes":[{"dst":"0.0.0.0/0"}]}})";

        const auto twill = bench_plugin(plugin, twill_config, pod.path(), dir, cycles, "twill");
        const auto reference =
            bench_plugin("/usr/lib/cni/bridge", reference_config, pod.path(), dir, cycles, "ref");
        const auto floor =
            bench_floor(pod.netns(), subnet.bridge, net::Prefix::parse("10.246.3.0/24"),
                        net::Address::parse("10.246.3.1"), cycles);
        const auto durable = bench_durable_write(dir / "durable", cycles);
        const auto twill_start = bench_start(plugin, dir, cycles, "twill");
        const auto bridge_start = bench_start("/usr/lib/cni/bridge", dir, cycles, "bridge");
        const auto twill_burst = bench_burst(plugin, twill_config, prefix, dir, burst, "twill");
        const auto twill_left = twill_leftovers(dir);
        const auto reference_burst =
            bench_burst("/usr/lib/cni/bridge", reference_config, prefix, dir, burst, "ref");
        fs::remove_all(dir);

        std::printf("CNI ADD/DEL latency over %d cycles, microseconds\n", cycles);
        std::printf("%-34s %9s %9s %9s %9s\n", "", "ADD p50", "ADD p99", "DEL p50", "DEL p99");
        print_row("twill", twill);
        print_row("reference (bridge + host-local)", reference);
        std::printf("%-34s %9.2f %9.2f %9.2f %9.2f\n", "ratio twill / reference",
                    percentile(twill.add_us, 0.5) / percentile(reference.add_us, 0.5),
                    percentile(twill.add_us, 0.99) / percentile(reference.add_us, 0.99),
                    percentile(twill.del_us, 0.5) / percentile(reference.del_us, 0.5),
                    percentile(twill.del_us, 0.99) / percentile(reference.del_us, 0.99));
        print_row("netlink floor (in-process)", floor);
        std::printf("%-34s %9.0f %9.0f   (VERSION: exec, load, exit)\n", "process start: twill",
                    percentile(twill_start, 0.5), percentile(twill_start, 0.99));
        std::printf("%-34s %9.0f %9.0f\n", "process start: bridge (Go)",
                    percentile(bridge_start, 0.5), percentile(bridge_start, 0.99));
        print_row("durable reservation (in-process)", durable);
        // The least a plugin process with a crash-safe store can take for an ADD: it starts,
        // asks the kernel what every plugin asks, and syncs its reservation.
        const double add_floor = percentile(twill_start, 0.5) + percentile(floor.add_us, 0.5) +
                                 percentile(durable.add_us, 0.5);
        std::printf("%-34s %9.0f %9s   (%.2fx the reference's ADD p50; twill %.2fx)\n",
                    "floor of an ADD: start+netlink+sync", add_floor, "",
                    add_floor / percentile(reference.add_us, 0.5),
                    percentile(twill.add_us, 0.5) / percentile(reference.add_us, 0.5));

        std::printf("\nPod burst: %d ADDs started at once, then %d DELs, microseconds\n", burst,
                    burst);
        std::printf("%-34s %9s %9s %10s %9s %9s %10s %9s\n", "", "ADD p50", "ADD p99", "ADD all",
                    "DEL p50", "DEL p99", "DEL all", "distinct");
        for (const auto& [name, b] : {std::pair<const char*, const Burst*>{"twill", &twill_burst},
                                      std::pair<const char*, const Burst*>{
                                          "reference (bridge + host-local)", &reference_burst}}) {
            std::printf("%-34s %9.0f %9.0f %10.0f %9.0f %9.0f %10.0f %9zu\n", name,
                        percentile(b->add_us, 0.5), percentile(b->add_us, 0.99), b->add_all_us,
                        percentile(b->del_us, 0.5), percentile(b->del_us, 0.99), b->del_all_us,
                        b->distinct_addresses);
        }
        std::printf("%-34s %9.2f %9.2f %10.2f\n", "ratio twill / reference",
                    percentile(twill_burst.add_us, 0.5) / percentile(reference_burst.add_us, 0.5),
                    percentile(twill_burst.add_us, 0.99) / percentile(reference_burst.add_us, 0.99),
                    twill_burst.add_all_us / reference_burst.add_all_us);
        std::printf("twill: %d failed, %zu distinct addresses of %d, left after the DELs:%s\n",
                    twill_burst.failures, twill_burst.distinct_addresses, burst,
                    twill_left.empty() ? " nothing" : twill_left.c_str());
        std::printf("reference: %d failed\n", reference_burst.failures);
        const bool clean = twill_burst.failures == 0 &&
                           twill_burst.distinct_addresses == static_cast<std::size_t>(burst) &&
                           twill_left.empty();
        return clean ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "cni_bench: " << e.what() << "\n";
        return 1;
    }
}
