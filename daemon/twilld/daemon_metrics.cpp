#include "daemon_metrics.hpp"

namespace twill::daemon {

namespace {
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

prometheus::Gauge& gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
    return BuildGauge().Name(name).Help(help).Register(r).Add({});
}
prometheus::Counter& counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
    return BuildCounter().Name(name).Help(help).Register(r).Add({});
}
}  // namespace

DaemonMetrics::DaemonMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      peers(gauge(*registry_, "twill_peers", "Valid peer leases this node programs")),
      ready(gauge(*registry_, "twill_ready",
                  "1 when the lease is held, devices programmed and subnet.json written")),
      etcd_connected(gauge(*registry_, "twill_etcd_connected",
                           "1 when the last etcd call or stream reached etcd")),
      last_revision(gauge(*registry_, "twill_etcd_last_revision",
                          "Last etcd revision the lease watcher has seen")),
      reconcile_runs(counter(*registry_, "twill_reconcile_runs_total",
                             "Reconciliations of kernel state against etcd")),
      reconcile_errors(counter(*registry_, "twill_reconcile_errors_total",
                               "Kernel operations that failed during reconciliation")),
      reconcile_seconds(
          BuildHistogram()
              .Name("twill_reconcile_duration_seconds")
              .Help("Time of one reconciliation: dump, diff and apply")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                               0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                               5})),
      lease_renewals(counter(*registry_, "twill_lease_renewals_total",
                             "Keep-alives of this node's subnet lease answered by etcd")),
      etcd_reconnects(gauge(*registry_, "twill_etcd_reconnects_total",
                            "Times the etcd client moved to another endpoint or reconnected")),
      pod_ips_in_use(gauge(*registry_, "twill_pod_ips_in_use",
                           "Pod IP reservations in the CNI plugin's data dir")),
      config_stale(gauge(*registry_, "twill_config_stale",
                         "1 when <prefix>/config in etcd differs from the config twilld runs with "
                         "(restart to apply)")),
      lease_losses(gauge(*registry_, "twill_lease_losses_total",
                         "Times this node's subnet lease was lost (deleted, expired, taken, or "
                         "no keep-alive answer for longer than the TTL)")),
      pods_on_lost_subnet(gauge(*registry_, "twill_pods_on_lost_subnet",
                                "Pod reservations outside this node's subnet (recreate them)")),
      peers_off_link(gauge(*registry_, "twill_peers_off_link",
                           "host-gw peers whose public address is on no subnet of the underlay "
                           "interface: they get no route")),
      pod_interfaces_oversized(gauge(*registry_, "twill_pod_interfaces_oversized",
                                     "Interfaces on twill0 whose MTU exceeds the overlay MTU (pods "
                                     "made before the underlay MTU dropped)")),
      peers_reachable(gauge(*registry_, "twill_peers_reachable",
                            "Peers whose last probe through the overlay was answered")),
      peers_unreachable(gauge(*registry_, "twill_peers_unreachable",
                              "Peers whose probes went unanswered, retries included")),
      probe_rtt_seconds(
          BuildHistogram()
              .Name("twill_probe_rtt_seconds")
              .Help("Round-trip time of answered peer probes through the overlay")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001,
                                                               0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1, 0.25, 0.5, 1})),
      probes_sent(counter(*registry_, "twill_probes_sent_total",
                          "Peer probes (ICMP echo through the overlay) sent")),
      probes_lost(counter(*registry_, "twill_probes_lost_total",
                          "Peer probes that got no reply within their timeout")),
      changes_(BuildCounter()
                   .Name("twill_kernel_changes_total")
                   .Help("Kernel objects changed by twilld; cause=drift when the kernel differed "
                         "from an unchanged desired state")
                   .Register(*registry_)),
      invalid_now_(BuildGauge()
                       .Name("twill_invalid_leases")
                       .Help("Entries under the subnets prefix ignored right now, by reason")
                       .Register(*registry_)),
      invalid_total_(BuildGauge()
                         .Name("twill_invalid_leases_seen_total")
                         .Help("Distinct invalid lease versions seen since start, by reason")
                         .Register(*registry_)) {}

void DaemonMetrics::count_change(const std::string& kind, const std::string& action, bool drift) {
    changes_.Add({{"kind", kind}, {"action", action}, {"cause", drift ? "drift" : "etcd"}})
        .Increment();
}

void DaemonMetrics::set_invalid(const std::string& reason, double now, double total) {
    invalid_now_.Add({{"reason", reason}}).Set(now);
    invalid_total_.Add({{"reason", reason}}).Set(total);
}

}  // namespace twill::daemon
