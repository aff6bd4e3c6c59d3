// The cost of twill's nftables table in a resync (scripts/bench-firewall sets the stage: run
// inside a throwaway namespace whose --iface is the underlay):
//   - one reconcile of the table alone: compare-only when the kernel holds it unchanged, and
//     a full replace right after `nft delete table inet twill`;
//   - one full resync as twilld's periodic resync does it (Daemon::reconcile: bridge and
//     VXLAN device, every peer's route, neighbour and FDB entry, then the table) at --peers
//     peers, with masquerade on and, in the same run, off (no table).
// Each figure is the median and p99 over --runs runs.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include "twill/backend/vxlan_backend.hpp"
#include "twill/error.hpp"
#include "twill/firewall/masquerade.hpp"
#include "twill/firewall/nftables.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/node/desired_state.hpp"
#include "twill/node/node_reconciler.hpp"

using namespace twill;
using Clock = std::chrono::steady_clock;

namespace {

const net::Prefix kNetwork = net::Prefix::parse("10.0.0.0/8");
const net::Prefix kSubnet = net::Prefix::parse("10.0.1.0/24");

// Peer i: subnet 10.<100 + i/256>.<i%256>.0/24 (as converge_bench), its own VTEP MAC and
// underlay address.
subnet::Lease peer(int i) {
    subnet::Lease lease;
    lease.subnet =
        net::Prefix(net::Address::v4((10u << 24) | (static_cast<unsigned>(100 + i / 256) << 16) |
                                     (static_cast<unsigned>(i % 256) << 8)),
                    24);
    lease.value.node = "bench" + std::to_string(i);
    lease.value.public_ip =
        net::Address::v4((198u << 24) | (18u << 16) | static_cast<unsigned>(i + 1));
    lease.value.backend_data =
        subnet::VxlanLeaseData{backend::VxlanBackend::vtep_mac(lease.value.node, 1)};
    return lease;
}

struct Figures {
    double median_ms = 0;
    double p99_ms = 0;
};

// Times `fn` `runs` times, after a tenth as many untimed warm-up runs; `prepare` runs untimed
// before each.
Figures measure(
    int runs, const std::function<void()>& fn, const std::function<void()>& prepare = [] {}) {
    for (int i = 0; i < runs / 10; ++i) {
        prepare();
        fn();
    }
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        prepare();
        const auto t0 = Clock::now();
        fn();
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return {ms[ms.size() / 2],
            ms[std::min(ms.size() - 1,
                        static_cast<std::size_t>(0.99 * static_cast<double>(ms.size())))]};
}

void print(const char* what, const Figures& f) {
    std::printf("  %-58s median %7.3f ms   p99 %7.3f ms\n", what, f.median_ms, f.p99_ms);
}

// What one twilld resync does: the node's desired state applied by the node reconciler,
// exactly the calls twilld makes.
class Resync {
  public:
    Resync(backend::NodeContext node, std::vector<subnet::Lease> peers,
           std::filesystem::path run_dir)
        : node_(std::move(node)), node_reconciler_(std::move(run_dir)) {
        for (auto& lease : peers) leases_.emplace(lease.subnet, std::move(lease));
        own_.subnet = node_.subnet;
        own_.value.node = node_.node;
    }

    reconcile::Report run(bool masquerade) {
        node::NodeInputs inputs;
        inputs.node_name = node_.node;
        inputs.network = node_.network;
        inputs.own = own_;
        inputs.leases = &leases_;
        inputs.underlay = node_.underlay;
        inputs.mtu = node_.overlay_mtu;
        inputs.ip_masq = masquerade;
        return node_reconciler_.apply(node::desired_state(backend_, inputs), backend_, false);
    }

  private:
    backend::NodeContext node_;
    subnet::Lease own_;
    std::map<net::Prefix, subnet::Lease> leases_;
    backend::VxlanBackend backend_{subnet::VxlanBackend{}};
    node::NodeReconciler node_reconciler_;
};

void expect_unchanged(const reconcile::Report& report, const char* what) {
    if (!report.changes.empty() || !report.errors.empty()) {
        throw Error(std::string(what) + ": a resync of an unchanged state changed " +
                    std::to_string(report.changes.size()) + " objects, " +
                    std::to_string(report.errors.size()) + " errors" +
                    (report.errors.empty() ? "" : ": " + report.errors.front()));
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"twill firewall benchmark (run inside a throwaway namespace)"};
    std::string iface = "eth0";
    int peers = 1000;
    int runs = 500;
    app.add_option("--iface", iface, "the underlay interface")->capture_default_str();
    app.add_option("--peers", peers, "peers in the full resync")->capture_default_str();
    app.add_option("--runs", runs, "runs per figure")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try {
        netlink::Handle handle;
        const auto link = handle.find_link(iface);
        if (!link) throw Error("--iface " + iface + ": no such interface");
        const auto addresses = handle.list_addresses(link->index);
        if (addresses.empty()) throw Error("--iface " + iface + ": no address");
        backend::NodeContext node;
        node.node = "bench";
        node.network = kNetwork;
        node.subnet = kSubnet;
        node.underlay = {link->index, link->name, addresses.front().prefix.address(), link->mtu};
        node.overlay_mtu = link->mtu - 50;
        std::vector<subnet::Lease> leases;
        for (int i = 0; i < peers; ++i) leases.push_back(peer(i));

        char run_dir[] = "/tmp/twill-firewall-bench-XXXXXX";
        if (!::mkdtemp(run_dir)) throw_errno("mkdtemp");
        Resync resync(node, leases, run_dir);
        const auto first = resync.run(true);  // program everything once
        if (!first.errors.empty()) throw Error("programming the node: " + first.errors.front());

        firewall::Nftables nft;
        firewall::Masquerade table;
        const firewall::MasqueradeSpec spec{kNetwork, kSubnet};
        std::printf("nftables table inet twill (runs %d):\n", runs);
        print("reconcile, table unchanged (list + compare)", measure(runs, [&] {
                  if (table.reconcile(spec, false).action != firewall::Outcome::Action::none) {
                      throw Error("an unchanged table was rewritten");
                  }
              }));
        print(
            "reconcile after `nft delete table inet twill` (list + add)",
            measure(
                runs,
                [&] {
                    if (table.reconcile(spec, false).action != firewall::Outcome::Action::created) {
                        throw Error("a deleted table was not put back");
                    }
                },
                [&] { nft.run(firewall::delete_commands().dump(), "delete table inet twill"); }));

        std::printf("full resync, %d peers, nothing to change (runs %d):\n", peers, runs);
        print("--ip-masq=true  (devices + peers + table)",
              measure(runs, [&] { expect_unchanged(resync.run(true), "--ip-masq=true"); }));
        resync.run(false);  // removes the table
        print("--ip-masq=false (devices + peers)",
              measure(runs, [&] { expect_unchanged(resync.run(false), "--ip-masq=false"); }));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "twill-bench-firewall: %s\n", e.what());
        return 1;
    }
    return 0;
}
