// Gauges kept current by the daemon itself, whether or not anybody runs netctl: etcd's state,
// invalid leases, pods, lease losses. Rendering status never writes a metric.
#include <spdlog/spdlog.h>

#include "cluster.hpp"
#include "daemon.hpp"
#include "pod_store.hpp"
#include "twill/error.hpp"

namespace twill::daemon {

namespace {
// Often enough for a scrape interval of 10 s or more; a directory listing and a few atomics.
constexpr auto kGaugeInterval = std::chrono::seconds(2);
}  // namespace

void Daemon::arm_gauges() {
    refresh_gauges();
    gauge_timer_.expires_after(kGaugeInterval);
    gauge_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) arm_gauges();
    });
}

void Daemon::refresh_gauges() {
    metrics_.etcd_connected.Set(cluster_->connected() ? 1 : 0);
    metrics_.etcd_reconnects.Set(static_cast<double>(cluster_->reconnects()));
    metrics_.ready.Set(ready_ ? 1 : 0);
    const auto pods = pod_reservations(options_.cni_data_dir);
    metrics_.pod_ips_in_use.Set(static_cast<double>(pods.size()));
    // The watcher and the keeper exist once startup handed over to the loop.
    if (!config_) return;
    metrics_.last_revision.Set(static_cast<double>(cluster_->revision()));
    metrics_.lease_losses.Set(static_cast<double>(cluster_->lease_losses()));
    for (const auto& invalid : cluster_->invalid_leases()) {
        metrics_.set_invalid(invalid.reason, static_cast<double>(invalid.now),
                             static_cast<double>(invalid.total));
    }
    const auto lost = own_lease_ ? pods_on_lost_subnets(pods, *own_lease_).size() : 0;
    metrics_.pods_on_lost_subnet.Set(static_cast<double>(lost));
}

// Pods keep the MTU they were created with: after the underlay shrank, older pods' veths
// exceed the overlay and their large packets get "frag needed" answers.
std::uint32_t Daemon::count_oversized_pod_interfaces(std::uint32_t overlay_mtu) {
    std::uint32_t oversized = 0;
    auto& handle = node_.handle();
    if (const auto bridge = handle.find_link(node::kBridge)) {
        for (const auto& link : handle.list_links()) {
            if (link.master == bridge->index && link.mtu > overlay_mtu) ++oversized;
        }
    }
    return oversized;
}

// A link dump: kept off the per-change reconcile path. Pods only become oversized when the
// underlay MTU drops, so the gauge follows that change and the periodic resync.
void Daemon::update_oversized_gauge() {
    if (!can_reconcile()) return;
    try {
        metrics_.pod_interfaces_oversized.Set(count_oversized_pod_interfaces(overlay_mtu()));
    } catch (const Error& e) {
        spdlog::warn("count pod interfaces on {}: {}", node::kBridge, e.what());
    }
}

}  // namespace twill::daemon
