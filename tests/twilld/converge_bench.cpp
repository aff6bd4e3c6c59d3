// twilld's convergence and scale figures, measured from inside a node's namespace against
// the node's real twilld (scripts/bench-twilld sets the stage):
//   - latency from an etcd put of a peer lease to its route in the kernel, and from the
//     delete to the route gone (p50/p99 over --changes changes, one at a time);
//   - for each --peers count: time to program that many peers (the daemon is paused with
//     SIGSTOP while the leases are written, then resumed), its RSS (the median of five
//     samples across the idle window), the CPU one idle resync costs beside its floor (this
//     process dumping the same objects once at each of those moments, and ten times back to
//     back after), and the time to remove them all again (one etcd lease revoked);
//   - with --loaded-changes K: right after programming each count, K more put/delete
//     latencies with those peers present (what scripts/bench-probe compares with probing on
//     and off), and with --cpu-window S the daemon's CPU over S seconds from then on, the
//     probes it sent meanwhile (its /metrics) and, as the floor of one probe, the CPU this
//     process needs to send one ICMP echo to each peer through the same tunnel.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "own_cpu.hpp"
#include "percentile.hpp"
#include "twill/kv/client.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/netlink/monitor.hpp"
#include "twill/probe/echo_socket.hpp"
#include "twill/reconcile/object_sets.hpp"

using namespace twill;
using test::percentile;
using Clock = std::chrono::steady_clock;

namespace {

std::string lease_value(int i) {
    char mac[18];
    std::snprintf(mac, sizeof mac, "02:00:00:%02x:%02x:%02x", (i >> 16) & 0xff, (i >> 8) & 0xff,
                  i & 0xff);
    return nlohmann::json{{"PublicIP", "198.18." + std::to_string((i / 250) % 250) + "." +
                                           std::to_string(i % 250 + 1)},
                          {"Node", "bench" + std::to_string(i)},
                          {"BackendType", "vxlan"},
                          {"BackendData", {{"VtepMAC", mac}}}}
        .dump();
}

// Peer i's subnet: 10.<100 + i/256>.<i%256>.0/24.
net::Prefix subnet_of(int i) {
    return net::Prefix(net::Address::v4((10u << 24) | (static_cast<unsigned>(100 + i / 256) << 16) |
                                        (static_cast<unsigned>(i % 256) << 8)),
                       24);
}

std::string key_of(const std::string& prefix, int i) {
    auto s = subnet_of(i).to_string();
    s[s.find('/')] = '-';
    return prefix + "/subnets/" + s;
}

// The route an event is about when it is one of twill's peer routes, else null.
const netlink::Route* twill_route(const netlink::Event& e) {
    const auto* r = std::get_if<netlink::Route>(&e.object);
    if (!r || r->protocol != reconcile::twill_route_protocol ||
        r->type != netlink::RouteType::unicast)
        return nullptr;
    return r;
}

// Waits until the monitor reports a twill route for `subnet` being added (or removed).
double wait_route(netlink::Monitor& monitor, const net::Prefix& subnet, bool added,
                  Clock::time_point since) {
    for (;;) {
        auto result = monitor.drain();
        for (const auto& e : result.events) {
            const auto* r = twill_route(e);
            if (!r || r->destination != subnet) continue;
            if ((e.action == netlink::Event::Action::added) == added) {
                return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
            }
        }
        if (std::chrono::duration<double>(Clock::now() - since).count() > 30) return -1;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

// The destinations of twill's routes in the kernel, kept by following the monitor. Dumping
// in a loop instead would time the benchmark's own dumps: each holds the kernel's rtnl lock,
// which every route twilld writes has to take too (a profile at 10,000 peers showed twilld
// spinning on it while the benchmark dumped). One dump starts the count, taken while twilld
// is stopped; another one after a monitor overrun, and one confirms the end.
class RouteCount {
  public:
    RouteCount(netlink::Monitor& monitor, netlink::Handle& handle)
        : monitor_(monitor), handle_(handle) {
        recount();
    }

    // Waits until `done(count)` holds, confirmed by a dump, or 120 s have passed.
    template <typename Done>
    void wait(Done done, Clock::time_point since) {
        while (Clock::now() - since < std::chrono::seconds(120)) {
            auto result = monitor_.drain();
            if (result.resync_needed) {
                recount();
            } else {
                for (const auto& e : result.events) follow(e);
            }
            if (done(present_.size())) {
                recount();
                if (done(present_.size())) return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

  private:
    // The drain first: what the dump already shows need not be followed again.
    void recount() {
        monitor_.drain();
        netlink::RouteFilter f;
        f.protocol = reconcile::twill_route_protocol;
        f.type = netlink::RouteType::unicast;
        present_.clear();
        for (const auto& r : handle_.dump_routes(f)) present_.insert(r.destination);
    }
    void follow(const netlink::Event& e) {
        const auto* r = twill_route(e);
        if (!r) return;
        if (e.action == netlink::Event::Action::added) {
            present_.insert(r->destination);
        } else {
            present_.erase(r->destination);
        }
    }

    netlink::Monitor& monitor_;
    netlink::Handle& handle_;
    std::set<net::Prefix> present_;
};

// A field of /proc/<pid>/status in KiB: "VmRSS", "RssAnon" (heap and stacks) or "RssFile"
// (mapped library code, shared with every process that maps the same libraries).
long status_kib(pid_t pid, const std::string& field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return -1;
}

double cpu_seconds(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(content.substr(content.rfind(')') + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; fields >> field; ++i) {
        if (i == 14) utime = std::stoul(field);
        if (i == 15) {
            stime = std::stoul(field);
            break;
        }
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The floor of an idle resync, measured beside it on the same objects: the CPU this process
// needs for the dumps a resync makes (twill's routes, and the neighbours and FDB entries of
// the device they leave by), the mean of `times`.
double dump_floor_ms(netlink::Handle& handle, int times) {
    netlink::RouteFilter routes;
    routes.protocol = reconcile::twill_route_protocol;
    int device = 0;
    for (const auto& r : handle.dump_routes(routes)) {
        if (r.oif != 0) {
            device = r.oif;
            break;
        }
    }
    netlink::NeighbourFilter neighbours;
    neighbours.link_index = device;
    const double c0 = test::own_cpu_ms();
    for (int i = 0; i < times; ++i) {
        handle.dump_routes(routes);
        handle.dump_neighbours(neighbours);
        handle.dump_fdb(device);
    }
    return (test::own_cpu_ms() - c0) / times;
}

// twill_probes_sent_total from twilld's /metrics (-1 when probes are off or unreadable).
double probes_sent() {
    FILE* pipe = ::popen("busybox wget -qO- http://127.0.0.1:9474/metrics 2>/dev/null", "r");
    if (!pipe) return -1;
    std::string text;
    char buffer[4096];
    while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, n);
    ::pclose(pipe);
    const std::string name = "\ntwill_probes_sent_total ";
    const auto at = text.find(name);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"twill convergence benchmark (run inside a node namespace)"};
    std::string endpoint, prefix = "/twill/network";
    int changes = 200;
    std::vector<int> scales{1000, 5000};
    pid_t pid = 0;
    double resync_seconds = 1;
    app.add_option("--etcd", endpoint, "etcd endpoint")->required();
    app.add_option("--prefix", prefix, "etcd prefix");
    app.add_option("--changes", changes, "latency samples");
    app.add_option("--peers", scales, "peer counts for the scale runs");
    app.add_option("--twilld-pid", pid, "the node's twilld")->required();
    app.add_option("--resync-interval", resync_seconds, "twilld's --resync-interval in seconds");
    int loaded_changes = 0;
    double cpu_window = 0;
    app.add_option("--loaded-changes", loaded_changes,
                   "latency samples with each peer count present");
    app.add_option("--cpu-window", cpu_window,
                   "seconds of CPU measurement after programming (default: 10 resyncs)");
    CLI11_PARSE(app, argc, argv);

    kv::ClientOptions options;
    options.endpoints = {endpoint};
    kv::Client client(options);
    netlink::Handle handle;
    netlink::MonitorOptions groups;
    groups.links = groups.addresses = groups.neighbours = false;
    netlink::Monitor monitor(groups);

    // One peer at a time: put its lease, wait for the route; delete it, wait for it to go.
    auto converge = [&](int first, int count, const char* label) {
        std::vector<double> add_ms, del_ms, put_ms;
        for (int i = first; i < first + count; ++i) {
            monitor.drain();
            auto t0 = Clock::now();
            client.put(key_of(prefix, i), lease_value(i));
            put_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            add_ms.push_back(wait_route(monitor, subnet_of(i), true, t0));
            t0 = Clock::now();
            client.delete_range(key_of(prefix, i));
            del_ms.push_back(wait_route(monitor, subnet_of(i), false, t0));
        }
        std::printf(
            "%s convergence over %d changes (etcd put/delete -> route in/out of the kernel):\n",
            label, count);
        std::printf("  add:    p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", percentile(add_ms, 0.5),
                    percentile(add_ms, 0.99), percentile(add_ms, 1));
        std::printf("  delete: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", percentile(del_ms, 0.5),
                    percentile(del_ms, 0.99), percentile(del_ms, 1));
        // What etcd alone takes: the put's answer (twilld hears of it on a watch meanwhile).
        std::printf("  floor: etcd's answer to the put: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
                    percentile(put_ms, 0.5), percentile(put_ms, 0.99), percentile(put_ms, 1));
    };
    if (changes > 0) converge(0, changes, "idle:");

    for (int peers : scales) {
        const auto lease = client.lease_grant(std::chrono::seconds(3600)).id;
        ::kill(pid, SIGSTOP);
        kv::PutOptions put;
        put.lease = lease;
        for (int i = 0; i < peers; ++i) client.put(key_of(prefix, i), lease_value(i), put);
        const long rss_before = status_kib(pid, "VmRSS");
        RouteCount programmed(monitor, handle);
        auto t0 = Clock::now();
        ::kill(pid, SIGCONT);
        const auto all = static_cast<std::size_t>(peers);
        programmed.wait([&](std::size_t n) { return n >= all; }, t0);
        const double program_s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (loaded_changes > 0) {
            converge(peers, loaded_changes, (std::to_string(peers) + " peers present:").c_str());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        // Idle: nothing changes in etcd; what the periodic resyncs (and probes) cost.
        const double window = cpu_window > 0 ? cpu_window : std::max(5.0, resync_seconds * 10);
        const double cpu0 = cpu_seconds(pid);
        const double probes0 = probes_sent();
        // Memory is sampled five times across the window and the median kept: one sample
        // lands inside a resync (its dumps and desired state alive) now and then, and then
        // says more about that moment than about what the daemon holds.
        constexpr int kSamples = 5;
        // The floor is dumped once at each of those moments too, as a resync dumps once in
        // a while with the kernel's tables gone cold, and ten times back to back after.
        std::vector<long> rss_samples, anon_samples, file_samples;
        double spaced_dump_ms = 0;
        for (int i = 0; i < kSamples; ++i) {
            std::this_thread::sleep_for(std::chrono::duration<double>(window / kSamples));
            rss_samples.push_back(status_kib(pid, "VmRSS"));
            anon_samples.push_back(status_kib(pid, "RssAnon"));
            file_samples.push_back(status_kib(pid, "RssFile"));
            spaced_dump_ms += dump_floor_ms(handle, 1) / kSamples;
        }
        const double cpu_used = cpu_seconds(pid) - cpu0;
        const double dump_ms = dump_floor_ms(handle, 10);
        const double probes = probes0 < 0 ? 0 : probes_sent() - probes0;
        // The floor of a probe: one echo through the tunnel to each peer's gateway, sent by
        // this process with nothing else around it.
        double floor_us = 0;
        {
            probe::EchoSocket socket(net::Family::v4);
            const double c0 = test::own_cpu_ms();
            for (int i = 0; i < peers; ++i)
                socket.send(subnet_of(i).first().plus(1), static_cast<std::uint64_t>(i));
            floor_us = (test::own_cpu_ms() - c0) * 1e3 / peers;
        }
        const auto median = [](std::vector<long> v) {
            std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2),
                             v.end());
            return v[v.size() / 2];
        };
        const long rss = median(rss_samples);
        const long anon = median(anon_samples);
        const long file = median(file_samples);
        RouteCount removed(monitor, handle);
        t0 = Clock::now();
        client.lease_revoke(lease);
        removed.wait([](std::size_t n) { return n == 0; }, t0);
        const double remove_s = std::chrono::duration<double>(Clock::now() - t0).count();
        std::printf("%d peers: programmed in %.3f s, removed in %.3f s\n", peers, program_s,
                    remove_s);
        std::printf("    idle CPU %.1f ms/s (%.2f%% of a core) over %.0f s",
                    cpu_used * 1000 / window, cpu_used * 100 / window, window);
        if (resync_seconds > 0 && window >= resync_seconds) {
            const double per_resync = cpu_used * 1000 / (window / resync_seconds);
            std::printf(", %.1f ms per resync", per_resync);
            std::printf(
                "\n    floor: the same objects dumped by this process: %.1f ms CPU (mean of 10 "
                "back to back; resync / dump %.2fx), %.1f ms (mean of 5 across the window; "
                "%.2fx)",
                dump_ms, dump_ms > 0 ? per_resync / dump_ms : 0.0, spaced_dump_ms,
                spaced_dump_ms > 0 ? per_resync / spaced_dump_ms : 0.0);
        }
        if (probes > 0) {
            std::printf(
                "\n    probes sent %.0f (%.0f/s), CPU per probe if all of it were probing: %.1f us",
                probes, probes / window, cpu_used * 1e6 / probes);
        }
        std::printf("\n    floor: one echo sendto through the tunnel: %.1f us CPU", floor_us);
        std::printf(
            "\n    RSS %.1f MiB = %.1f MiB anonymous + %.1f MiB mapped files (%.1f MiB with no "
            "peers)\n",
            rss / 1024.0, anon / 1024.0, file / 1024.0, rss_before / 1024.0);
    }
    return 0;
}
