// Allocation throughput and watch-event latency of lib/subnet against a running etcd.
// Run by scripts/bench-subnet, which starts and stops that etcd.
//   subnet_bench --endpoints 127.0.0.1:2379 [--allocations 1000] [--threads 8] [--events 500]
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "percentile.hpp"
#include "twill/subnet/allocator.hpp"
#include "twill/subnet/watcher.hpp"

using namespace twill;
using namespace twill::subnet;
using test::percentile;
using Clock = std::chrono::steady_clock;

namespace {

// Room for thousands of nodes: a /12 of /24s holds 4095 leases.
constexpr auto kConfig = R"({"Network":"10.16.0.0/12","Backend":{"Type":"vxlan"}})";

LeaseValue node_value(int n) {
    return LeaseValue{net::Address::v4(0xC0A80000u + static_cast<std::uint32_t>(n)),
                      "bench-" + std::to_string(n),
                      VxlanLeaseData{net::MacAddress::from_bytes(std::array<std::uint8_t, 6>{
                          0x0a, 0x58, 0, static_cast<std::uint8_t>(n >> 16),
                          static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)})}};
}

void bench_allocations(kv::Client& client, const NetworkConfig& config, const std::string& prefix,
                       int allocations, int threads, bool report = true) {
    LeaseOptions options;
    options.prefix = prefix;
    options.ttl = std::chrono::seconds(300);
    std::atomic<int> next{0};
    std::atomic<int> failures{0};
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i = next++; i < allocations; i = next++) {
                try {
                    acquire_subnet(client, config, node_value(i), options);
                } catch (const std::exception& e) {
                    if (failures++ == 0) std::fprintf(stderr, "allocation failed: %s\n", e.what());
                }
            }
        });
    }
    for (auto& worker : workers) worker.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!report) return;
    std::printf(
        "allocation: %d subnets by %d concurrent allocators in %.2f s: %.0f allocations/s "
        "(%d failed)\n",
        allocations, threads, seconds, allocations / seconds, failures.load());
}

void bench_watch_latency(kv::Client& client, const NetworkConfig& config, const std::string& prefix,
                         int events) {
    std::mutex mutex;
    std::condition_variable arrived;
    kv::Revision seen = 0;
    Clock::time_point seen_at;
    LeaseWatcher watcher(client, config, prefix, net::Family::v4, [&](const LeaseUpdate& update) {
        const auto now = Clock::now();
        std::lock_guard lock(mutex);
        for (const auto& change : update.changes) {
            if (change.after && change.after->mod_revision > seen) {
                seen = change.after->mod_revision;
                seen_at = now;
            }
        }
        arrived.notify_all();
    });
    if (!watcher.wait_for_revision(0, std::chrono::seconds(10))) {
        throw Error("the watcher did not list within 10 s");
    }
    const auto key = subnet_key(prefix, config.range.at(config.range.size() - 1));
    std::vector<double> latencies_ms;
    for (int i = 0; i < events; ++i) {
        auto value = node_value(100000 + i);
        value.node = "bench-watch";
        const auto put_at = Clock::now();
        const auto revision = client.put(key, encode_lease_value(value)).revision;
        std::unique_lock lock(mutex);
        if (!arrived.wait_for(lock, std::chrono::seconds(10), [&] { return seen >= revision; })) {
            throw Error("no watch event for revision " + std::to_string(revision) + " in 10 s");
        }
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(seen_at - put_at).count());
    }
    std::printf(
        "watch latency (put to callback), %d events: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
        events, percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.99),
        *std::max_element(latencies_ms.begin(), latencies_ms.end()));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"lib/subnet benchmark"};
    std::string endpoints;
    int allocations = 1000;
    int threads = 8;
    int events = 500;
    std::string prefix = "/twill-bench/network";
    app.add_option("--endpoints", endpoints, "etcd endpoints (comma list)")->required();
    app.add_option("--allocations", allocations, "subnets to allocate")->check(CLI::Range(1, 4095));
    app.add_option("--threads", threads, "concurrent allocators")->check(CLI::Range(1, 256));
    app.add_option("--events", events, "watch events to time")->check(CLI::Range(1, 100000));
    app.add_option("--prefix", prefix, "etcd prefix (wiped first)");
    CLI11_PARSE(app, argc, argv);
    spdlog::set_level(spdlog::level::warn);
    try {
        kv::ClientOptions options;
        options.endpoints = kv::ClientOptions::parse_endpoints(endpoints);
        kv::Client client(options);
        kv::DeleteOptions wipe;
        wipe.prefix = true;
        client.delete_range(prefix + "/", wipe);
        const auto config = parse_network_config(kConfig);
        client.put(config_key(prefix), kConfig);
        bench_allocations(client, config, prefix, 1, 1, false);  // connects
        client.delete_range(prefix + "/subnets/", wipe);
        bench_allocations(client, config, prefix, allocations, threads);
        bench_watch_latency(client, config, prefix, events);
        client.delete_range(prefix + "/", wipe);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "subnet_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
