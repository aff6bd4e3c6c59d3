// The reconcile run: the inputs gathered, the desired state computed (lib/node), applied by
// the node reconciler, and its outcome recorded.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cluster.hpp"
#include "daemon.hpp"
#include "pod_store.hpp"

namespace twill::daemon {

bool Daemon::can_reconcile() const {
    return config_ && own_lease_ && underlay_ && backend_ && !stopping_ && !leaving_;
}

node::NodeInputs Daemon::inputs(const std::map<net::Prefix, subnet::Lease>* leases,
                                const std::vector<ipam::Reservation>* pods) const {
    node::NodeInputs inputs;
    inputs.node_name = options_.node_name;
    inputs.network = config_->network();
    if (config_->ipv6) inputs.ipv6_network = config_->ipv6->range.network();
    inputs.own = *own_lease_;
    inputs.leases = leases;
    inputs.underlay = *underlay_;
    if (options_.mtu) inputs.mtu = static_cast<std::uint32_t>(*options_.mtu);
    inputs.ip_masq = options_.ip_masq;
    if (pods) inputs.bridge_ports = pod_host_veths(*pods);
    return inputs;
}

node::DesiredState Daemon::desired(const std::map<net::Prefix, subnet::Lease>& leases,
                                   const std::vector<ipam::Reservation>* pods) const {
    return node::desired_state(*backend_, inputs(&leases, pods));
}

backend::NodeContext Daemon::node_context(const subnet::NetworkConfig& config,
                                          const backend::Underlay& underlay) const {
    backend::NodeContext context;
    context.node = options_.node_name;
    context.network = config.network();
    context.underlay = underlay;
    return context;
}

subnet::LeaseValue Daemon::lease_value(const subnet::NetworkConfig& config,
                                       const backend::Backend& backend,
                                       const backend::Underlay& underlay) const {
    const auto context = node_context(config, underlay);
    subnet::LeaseValue value{options_.public_ip.value_or(underlay.address), options_.node_name,
                             backend.lease_data(context)};
    // Dual-stack over an IPv6 underlay: the IPv6 overlay device's address and data.
    if (config.ipv6 && underlay.ipv6_address) {
        if (auto data = backend.lease_data_v6(context)) {
            value.public_ipv6 = underlay.ipv6_address;
            value.backend_v6_data = std::move(data);
        }
    }
    return value;
}

std::uint32_t Daemon::overlay_mtu() const {
    return options_.mtu ? static_cast<std::uint32_t>(*options_.mtu)
                        : backend::overlay_mtu(*backend_, *underlay_);
}

void Daemon::reconcile() {
    reconcile_pending_ = false;
    if (!can_reconcile()) return;
    // Until the watcher has listed every lease once, the set of peers is unknown: nothing may
    // be removed because of it (a restarted daemon must not flap routes).
    if (!cluster_->synced()) {
        arm_retry(std::chrono::milliseconds(50), "waiting for the first lease list");
        return;
    }
    // A dry run applies nothing, so a change has nothing to build on: it compares in full.
    if (full_due_ || options_.dry_run) {
        reconcile_all();
    } else {
        reconcile_peers();
    }
}

void Daemon::reconcile_all() {
    full_due_ = false;
    std::optional<std::vector<ipam::Reservation>> pods;
    if (ports_due_) pods = pod_reservations(options_.cni_data_dir);
    ports_due_ = false;
    reconcile::Report report;
    bool applied_changes = false;
    cluster_->read_leases(
        [&](const std::map<net::Prefix, subnet::Lease>& leases, auto changed) {
            if (!changed.empty()) {
                probes_due_ = true;
                applied_changes = true;
            }
            const auto state = desired(leases, pods ? &*pods : nullptr);
            report = node_.apply(state, *backend_, options_.dry_run);
            peer_count_ = state.peers.size();
            std::vector<const subnet::Lease*> off_link;
            for (const auto& [subnet, peer] : state.peers) {
                if (peer.off_link) off_link.push_back(peer.lease);
            }
            if (off_link.size() != off_link_count_ && !off_link.empty())
                spdlog::warn("{}", off_link_warning(off_link, underlay_->name));
            off_link_count_ = off_link.size();
            // Probe after the routes to new peers are in place, and only when the peers changed.
            if (probes_ && probes_due_) hand_peers_to_probes(leases);
        },
        /*take=*/true);
    ready_ = report.errors.empty() && node_.devices_ready() && !options_.dry_run;
    if (ready_) set_startup_state("ready");
    finish_run(report, /*full=*/true);
    // A burst of changes the loop took seconds to program ends when it is programmed: a
    // resync due meanwhile would otherwise start at once and hold whatever change follows.
    if (applied_changes) last_lease_change_ = std::chrono::steady_clock::now();
}

// Only the peers whose leases changed since the previous run, each compared with its lease
// then: nothing is dumped, the cost follows the change. What the kernel holds beyond them is
// the next full run's (periodic, or one a kernel notification asks for).
void Daemon::reconcile_peers() {
    reconcile::Report report;
    bool applied_changes = false;
    cluster_->read_leases(
        [&](const std::map<net::Prefix, subnet::Lease>& leases, auto changed) {
            if (changed.empty()) return;
            applied_changes = true;
            const auto context = node::node_context(*backend_, inputs(nullptr, nullptr));
            std::vector<node::PeerUpdate> updates;
            updates.reserve(changed.size());
            for (const auto& [subnet, before] : changed) {
                node::PeerUpdate update;
                if (before) update.before = node::peer_objects(*backend_, context, *before);
                if (const auto now = leases.find(subnet); now != leases.end())
                    update.after = node::peer_objects(*backend_, context, now->second);
                if (update.before) --peer_count_;
                if (update.after) ++peer_count_;
                if (update.before && update.before->off_link) --off_link_count_;
                if (update.after && update.after->off_link) {
                    ++off_link_count_;
                    spdlog::warn("{}", off_link_warning({&leases.at(subnet)}, underlay_->name));
                }
                if (update.before || update.after) updates.push_back(std::move(update));
            }
            report = node_.apply_peer_updates(updates, *backend_);
            probes_due_ = true;
            if (probes_) hand_peers_to_probes(leases);
        },
        /*take=*/true);
    if (!report.errors.empty()) ready_ = false;
    finish_run(report, /*full=*/false);
    if (applied_changes) last_lease_change_ = std::chrono::steady_clock::now();
}

std::string off_link_warning(const std::vector<const subnet::Lease*>& peers,
                             const std::string& underlay) {
    constexpr std::size_t kNamed = 5;
    std::string names;
    for (std::size_t i = 0; i < peers.size() && i < kNamed; ++i) {
        names += (i ? ", " : "") + peers[i]->value.node + " (" +
                 peers[i]->value.public_ip.to_string() + ")";
    }
    if (peers.size() > kNamed) names += " and " + std::to_string(peers.size() - kNamed) + " more";
    return "host-gw: " + std::to_string(peers.size()) + " peer(s) not on a subnet of " + underlay +
           ", so no route reaches their pods: " + names +
           " (host-gw needs every node on one link; use vxlan with DirectRouting)";
}

void Daemon::finish_run(const reconcile::Report& report, bool full) {
    ++reconcile_runs_;
    last_reconcile_ = std::chrono::system_clock::now();
    metrics_.reconcile_runs.Increment();
    metrics_.reconcile_seconds.Observe(std::chrono::duration<double>(report.duration).count());
    metrics_.reconcile_errors.Increment(static_cast<double>(report.errors.size()));
    for (const auto& error : report.errors) spdlog::error("reconcile: {}", error);
    record_changes(report);
    metrics_.ready.Set(ready_ ? 1 : 0);
    metrics_.peers.Set(static_cast<double>(peer_count_));
    metrics_.peers_off_link.Set(static_cast<double>(off_link_count_));
    // A full run's dumps and diffs are megabytes that live for milliseconds, and thousands of
    // peers come and go in bursts: hand the freed memory back to the system after either.
    if (full || last_change_count_ + report.changes.size() > 1000) ::malloc_trim(0);
    last_change_count_ = report.changes.size();
    if (!report.errors.empty()) {
        // A failed step (a dump, a bridge port) is looked at again in full.
        ports_due_ = true;
        arm_retry(std::chrono::seconds(1), "retry after errors");
    }
}

void Daemon::record_changes(const reconcile::Report& report) {
    if (options_.dry_run) return;
    for (const auto& change : report.changes) {
        const auto action = std::string(reconcile::to_string(change.action));
        metrics_.count_change(change.kind, action, change.drift);
        if (change.drift) {
            ++corrections_[change.kind + "_" + action];
            ++corrections_total_;
            spdlog::warn("drift corrected: {} {} {}", change.kind, action, change.object);
        } else {
            spdlog::info("{} {} {}", change.kind, action, change.object);
        }
    }
}

void Daemon::hand_peers_to_probes(const std::map<net::Prefix, subnet::Lease>& leases) {
    std::vector<probe::Target> targets;
    targets.reserve(leases.size());
    for (const auto& [subnet, lease] : leases) {
        if (!node::is_peer(lease, own_lease_->subnet, options_.node_name)) continue;
        targets.push_back({subnet, lease.value.node, subnet.first().plus(1)});
        // A dual-stack peer's IPv6 gateway too (its IPv6 path may be another device).
        if (own_lease_->ipv6_subnet && lease.ipv6_subnet) {
            targets.push_back(
                {*lease.ipv6_subnet, lease.value.node, lease.ipv6_subnet->first().plus(1)});
        }
    }
    std::sort(targets.begin(), targets.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    probes_->set_peers(std::move(targets));
    probes_due_ = false;
}

}  // namespace twill::daemon
