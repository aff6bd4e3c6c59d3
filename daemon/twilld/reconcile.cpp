// The reconcile run: the inputs gathered, the desired state computed (lib/node), applied by
// the node reconciler, and its outcome recorded.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cluster.hpp"
#include "daemon.hpp"
#include "pod_store.hpp"

namespace twill::daemon {

void Daemon::refresh_leases() {
    if (!leases_dirty_) return;
    leases_ = cluster_->leases();
    leases_dirty_ = false;
    ++leases_version_;
}

bool Daemon::can_reconcile() const {
    return config_ && own_lease_ && underlay_ && backend_ && !stopping_ && !leaving_;
}

node::DesiredState Daemon::desired(const std::vector<ipam::Reservation>* pods) const {
    node::NodeInputs inputs;
    inputs.node_name = options_.node_name;
    inputs.network = config_->network();
    if (config_->ipv6) inputs.ipv6_network = config_->ipv6->range.network();
    inputs.own = *own_lease_;
    inputs.leases = &leases_;
    inputs.underlay = *underlay_;
    if (options_.mtu) inputs.mtu = static_cast<std::uint32_t>(*options_.mtu);
    inputs.ip_masq = options_.ip_masq;
    if (pods) inputs.bridge_ports = pod_host_veths(*pods);
    return node::desired_state(*backend_, inputs);
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
    refresh_leases();
    std::optional<std::vector<ipam::Reservation>> pods;
    if (ports_due_) pods = pod_reservations(options_.cni_data_dir);
    ports_due_ = false;
    const auto state = desired(pods ? &*pods : nullptr);
    auto report = node_.apply(state, *backend_, options_.dry_run);

    ++reconcile_runs_;
    last_reconcile_ = std::chrono::system_clock::now();
    metrics_.reconcile_runs.Increment();
    metrics_.reconcile_seconds.Observe(std::chrono::duration<double>(report.duration).count());
    metrics_.reconcile_errors.Increment(static_cast<double>(report.errors.size()));
    for (const auto& error : report.errors) spdlog::error("reconcile: {}", error);
    record_changes(report);

    ready_ = report.errors.empty() && node_.overlay_index() != 0 && !options_.dry_run;
    if (ready_) set_startup_state("ready");
    metrics_.ready.Set(ready_ ? 1 : 0);
    metrics_.peers.Set(static_cast<double>(state.peers.size()));
    // Thousands of peers come and go in bursts: hand the freed memory back to the system.
    if (last_change_count_ + report.changes.size() > 1000) ::malloc_trim(0);
    last_change_count_ = report.changes.size();
    // Probe after the routes to new peers are in place, and only when the peers changed.
    if (probes_ && probed_version_ != leases_version_) hand_peers_to_probes();

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

void Daemon::hand_peers_to_probes() {
    std::vector<probe::Target> targets;
    targets.reserve(leases_.size());
    for (const auto& [subnet, lease] : leases_) {
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
    probed_version_ = leases_version_;
}

}  // namespace twill::daemon
