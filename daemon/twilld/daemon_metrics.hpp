#pragma once
// twilld's metrics (DESIGN.md/issue: peers, reconcile runs and duration, corrections by kind,
// invalid leases, etcd reconnects, lease renewals). Bounded label sets only: kinds and
// reasons, never peers.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>

namespace twill::daemon {

class DaemonMetrics {
  public:
    DaemonMetrics();

    std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  private:
    std::shared_ptr<prometheus::Registry> registry_;  // first: the references below live in it

  public:
    prometheus::Gauge& peers;
    prometheus::Gauge& ready;
    prometheus::Gauge& etcd_connected;
    prometheus::Gauge& last_revision;
    prometheus::Counter& reconcile_runs;
    prometheus::Counter& reconcile_errors;
    prometheus::Histogram& reconcile_seconds;
    prometheus::Counter& lease_renewals;
    prometheus::Gauge& etcd_reconnects;  // mirrors the client's counter
    prometheus::Gauge& pod_ips_in_use;
    prometheus::Gauge& config_stale;
    prometheus::Gauge& lease_losses;  // mirrors the keeper's count
    prometheus::Gauge& pods_on_lost_subnet;
    prometheus::Gauge& peers_off_link;
    prometheus::Gauge& pod_interfaces_oversized;
    // Peer probes: states now, RTTs, probes sent and lost. Per-peer detail lives in netctl.
    prometheus::Gauge& peers_reachable;
    prometheus::Gauge& peers_unreachable;
    prometheus::Histogram& probe_rtt_seconds;
    prometheus::Counter& probes_sent;
    prometheus::Counter& probes_lost;

    // twill_kernel_changes_total{kind,action,cause="etcd|drift"}
    void count_change(const std::string& kind, const std::string& action, bool drift);
    // twill_invalid_leases{reason}: entries ignored now; twill_invalid_leases_total{reason}.
    void set_invalid(const std::string& reason, double now, double total);

  private:
    prometheus::Family<prometheus::Counter>& changes_;
    prometheus::Family<prometheus::Gauge>& invalid_now_;
    prometheus::Family<prometheus::Gauge>& invalid_total_;
};

}  // namespace twill::daemon
