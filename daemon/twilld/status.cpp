// `netctl status`, `peers` and `check`: rendered from the loop state and a fresh dry run of
// the node reconciler (the same comparison `check` makes, so they cannot disagree). Nothing
// here writes a metric.
#include <spdlog/spdlog.h>

#include "cluster.hpp"
#include "daemon.hpp"
#include "pod_store.hpp"
#include "time_format.hpp"
#include "twill/error.hpp"
#include "twill/node/sysctl.hpp"
#include "version.hpp"

namespace twill::daemon {

namespace {

// What a dry-run reconcile would change, as the differences netctl shows.
void add_differences(const reconcile::Report& report,
                     google::protobuf::RepeatedPtrField<api::v1::Difference>& out) {
    for (const auto& change : report.changes) {
        auto* d = out.Add();
        d->set_kind(change.kind);
        d->set_action(change.action == reconcile::Action::added     ? "missing"
                      : change.action == reconcile::Action::deleted ? "extra"
                                                                    : "differs");
        d->set_object(change.object);
        d->set_detail(change.detail);
    }
    for (const auto& error : report.errors) {
        auto* d = out.Add();
        d->set_kind("error");
        d->set_action("unknown");
        d->set_object(error);
    }
}

}  // namespace

api::v1::StatusReply Daemon::status() {
    api::v1::StatusReply s;
    s.set_version(std::string(kVersion));
    s.set_node(options_.node_name);
    s.set_dry_run(options_.dry_run);
    s.set_uptime_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - started_)
                             .count());
    s.set_etcd_reachable(cluster_->connected());
    s.set_etcd_endpoint(cluster_->endpoint());
    s.set_etcd_reconnects(cluster_->reconnects());
    s.set_ready(ready_);
    s.set_left(left_.has_value());
    // The plugin's store, read once for the pod count, the lost pods and the bridge's ports.
    const auto pods = pod_reservations(options_.cni_data_dir);
    s.set_pod_ips_in_use(static_cast<std::uint32_t>(pods.size()));
    s.set_reconcile_runs(reconcile_runs_);
    s.set_last_reconcile(rfc3339(last_reconcile_));
    if (!ready_) s.add_warnings("not ready: " + startup_state());
    if (!config_problem_.empty()) s.add_warnings(config_problem_);
    for (const auto& [kind, count] : corrections_) {
        auto* c = s.add_corrections();
        c->set_kind(kind);
        c->set_count(count);
    }
    s.set_corrections_total(corrections_total_);
    // The watcher and the keeper exist once startup handed over to the loop.
    if (!config_) {
        s.set_ip_forward(node::read_sysctl("net.ipv4.ip_forward") == "1");
        return s;
    }
    s.set_last_revision(cluster_->revision());
    s.set_lease_losses(cluster_->lease_losses());
    for (const auto& invalid : cluster_->invalid_leases()) {
        auto* entry = s.add_invalid_leases();
        entry->set_reason(invalid.reason);
        entry->set_count(invalid.now);
        s.set_invalid_leases_total(s.invalid_leases_total() + invalid.now);
    }
    s.set_network(config_->network().to_string());
    if (config_->ipv6) s.set_ipv6_network(config_->ipv6->range.network().to_string());
    s.set_backend(std::string(subnet::to_string(config_->backend_type())));
    s.set_backend_detail(backend_->detail());
    if (underlay_) {
        s.set_public_ip(options_.public_ip.value_or(underlay_->address).to_string());
        s.set_underlay_iface(underlay_->name);
    }
    s.set_lease_held(own_lease_.has_value());
    s.set_lease_ttl_seconds(cluster_->lease_ttl_seconds());
    add_lost_pods(s, pods);
    if (!can_reconcile()) {
        s.set_ip_forward(node::read_sysctl("net.ipv4.ip_forward") == "1");
        return s;
    }
    s.set_lease_id(own_lease_->etcd_lease);

    // A fresh comparison, so "in kernel" is what the kernel holds now.
    cluster_->read_leases([&](const std::map<net::Prefix, subnet::Lease>& leases,
                              auto) { add_node_state(s, leases, pods); },
                          /*take=*/false);
    return s;
}

void Daemon::add_node_state(api::v1::StatusReply& s,
                            const std::map<net::Prefix, subnet::Lease>& leases,
                            const std::vector<ipam::Reservation>& pods) {
    const auto desired = this->desired(leases, &pods);
    const auto& context = desired.context;
    s.set_subnet(context.subnet.to_string());
    s.set_gateway(desired.subnet_file.gateway.to_string());
    if (const auto& v6 = desired.subnet_file.ipv6) {
        s.set_ipv6_subnet(v6->subnet.to_string());
        s.set_ipv6_gateway(v6->gateway.to_string());
    }
    s.set_mtu(context.overlay_mtu);
    for (const auto& sysctl : desired.sysctls) {
        const bool set = node::read_sysctl(sysctl.name) == sysctl.value;
        if (sysctl.name == "net.ipv4.ip_forward") s.set_ip_forward(set);
        if (!set) {
            s.add_warnings(sysctl.name + " is not " + sysctl.value +
                           ": pods cannot reach other nodes");
        }
    }
    try {
        const auto oversized = count_oversized_pod_interfaces(context.overlay_mtu);
        s.set_pod_interfaces_oversized(oversized);
        if (oversized > 0) {
            s.add_warnings(std::to_string(oversized) + " pod interface(s) on " + node::kBridge +
                           " have an MTU above the overlay MTU " +
                           std::to_string(context.overlay_mtu) +
                           " (created before the underlay MTU dropped; recreate those pods)");
        }
    } catch (const Error& e) {
        s.add_warnings(std::string("links: ") + e.what());
    }
    const auto report = node_.apply(desired, *backend_, true);
    add_differences(report, *s.mutable_differences());
    try {
        for (const auto& chain : node_.dropping_forward_chains()) {
            s.add_warnings("forward chain " + chain +
                           " has policy drop: pod traffic forwarded through this node "
                           "may be dropped there (twill's own forward accept does not override "
                           "it)");
        }
    } catch (const Error& e) {
        s.add_warnings(std::string("nftables: ") + e.what());
    }
    add_peers(s, desired, report);
}

void Daemon::add_lost_pods(api::v1::StatusReply& s,
                           const std::vector<ipam::Reservation>& pods) const {
    if (!own_lease_) return;
    for (const auto& pod : pods_on_lost_subnets(pods, *own_lease_)) {
        auto* lost = s.add_lost_pods();
        lost->set_container_id(pod.owner.container_id);
        lost->set_ifname(pod.owner.ifname);
        lost->set_ip(pod.address.to_string());
    }
    if (s.lost_pods_size() > 0) {
        s.add_warnings(std::to_string(s.lost_pods_size()) +
                       " pod(s) hold addresses of a subnet this node lost: recreate them");
    }
}

void Daemon::add_peers(api::v1::StatusReply& s, const node::DesiredState& desired,
                       const reconcile::Report& report) {
    std::vector<const subnet::Lease*> off_link;
    for (const auto& [subnet, peer] : desired.peers) {
        const auto& lease = *peer.lease;
        auto* p = s.add_peers();
        p->set_node(lease.value.node);
        p->set_subnet(subnet.to_string());
        if (desired.context.ipv6_subnet.has_value() && lease.ipv6_subnet) {
            p->set_ipv6_subnet(lease.ipv6_subnet->to_string());
        }
        p->set_public_ip(lease.value.public_ip.to_string());
        if (const auto* v = std::get_if<subnet::VxlanLeaseData>(&lease.value.backend_data)) {
            p->set_vtep_mac(v->vtep_mac.to_string());
        }
        if (const auto* w = std::get_if<subnet::WireguardLeaseData>(&lease.value.backend_data)) {
            p->set_public_key(w->public_key_base64());
        }
        p->set_create_revision(lease.create_revision);
        p->set_mod_revision(lease.mod_revision);
        const auto objects = desired.objects_of(subnet);
        p->set_in_kernel(node_.settled(objects, report));
        p->set_path(objects.off_link                           ? "off-link"
                    : !objects.underlay_objects.routes.empty() ? "direct"
                    : objects.device_peer                      ? "wireguard"
                                                               : "vxlan");
        if (objects.off_link) off_link.push_back(&lease);
        if (probes_) {
            if (auto health = probes_->health(subnet)) *p->mutable_health() = std::move(*health);
            if (lease.ipv6_subnet) {
                if (auto health = probes_->health(*lease.ipv6_subnet))
                    *p->mutable_ipv6_health() = std::move(*health);
            }
        }
    }
    if (!off_link.empty()) s.add_warnings(off_link_warning(off_link, underlay_->name));
    if (!probes_) {
        s.mutable_probes()->set_enabled(false);
        return;
    }
    *s.mutable_probes() = probes_->summary();
    const auto& probes = s.probes();
    if (!probes.enabled()) {
        s.add_warnings("peer probes are off: " + probes_->disabled_reason());
    } else if (probes.stretched()) {
        s.add_warnings("probe interval stretched to " +
                       std::to_string(static_cast<int>(probes.effective_interval_seconds())) +
                       "s: " + std::to_string(desired.peers.size()) + " peers at --probe-rate " +
                       std::to_string(static_cast<int>(probes.rate())) +
                       "/s do not fit in --probe-interval " +
                       std::to_string(static_cast<int>(probes.interval_seconds())) + "s");
    }
}

api::v1::CheckReply Daemon::check() {
    api::v1::CheckReply reply;
    reply.set_revision(cluster_->revision());
    if (!can_reconcile()) {
        auto* d = reply.add_differences();
        d->set_kind("daemon");
        d->set_action("missing");
        d->set_object("not ready: " + startup_state());
        reply.set_in_sync(false);
        return reply;
    }
    const auto pods = pod_reservations(options_.cni_data_dir);
    reconcile::Report report;
    cluster_->read_leases(
        [&](const std::map<net::Prefix, subnet::Lease>& leases, auto) {
            report = node_.apply(desired(leases, &pods), *backend_, true);
        },
        /*take=*/false);
    add_differences(report, *reply.mutable_differences());
    reply.set_in_sync(report.changes.empty() && report.errors.empty());
    return reply;
}

void Daemon::probe_round(ProbeRoundDone done) {
    if (!probes_) throw Error("peer probes are off (--probe-interval=0)");
    if (!own_lease_) throw Error("no peers to probe yet: " + startup_state());
    probes_->start_round(std::move(done));
}

}  // namespace twill::daemon
