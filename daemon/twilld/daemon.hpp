#pragma once
// twilld's core: one Boost.Asio event loop owns the node reconciler (and with it the netlink
// handle) and the loop state. etcd streams (lease keep-alive, peer watch) and the local API
// run on their own threads and only post into the loop; the loop is the only writer of the
// kernel. This file holds the lifecycle and the triggers; what the node should look like is
// lib/node's desired_state(), applying it is lib/node's NodeReconciler, and status, metrics,
// monitors and the pods' store each have a file of their own.
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon_metrics.hpp"
#include "options.hpp"
#include "peer_probes.hpp"
#include "twill/api/handler.hpp"
#include "twill/backend/backend.hpp"
#include "twill/firewall/change_monitor.hpp"
#include "twill/ipam/store.hpp"
#include "twill/netlink/monitor.hpp"
#include "twill/node/desired_state.hpp"
#include "twill/node/node_reconciler.hpp"
#include "twill/subnet/config.hpp"
#include "twill/subnet/lease.hpp"

namespace twill::api {
class Server;
}
namespace twill::metrics {
class HttpServer;
}

namespace twill::daemon {

class Cluster;

// The warning (log and `netctl status`) for host-gw peers that no route can reach.
std::string off_link_warning(const std::vector<const subnet::Lease*>& peers,
                             const std::string& underlay);

class Daemon final : public api::Handler {
  public:
    explicit Daemon(Options options);
    ~Daemon() override;

    // Runs until SIGTERM/SIGINT (data plane and lease stay) or a leave (both removed).
    // Returns the process exit code.
    int run();

    // api::Handler, called on the loop (the API server posts each call there).
    api::v1::StatusReply status() override;
    api::v1::CheckReply check() override;
    void probe_round(ProbeRoundDone done) override;
    api::v1::LeaveReply leave() override;
    api::v1::EvictReply evict(const std::string& node) override;
    api::v1::JoinReply join() override;

  private:
    // ---- lifecycle (daemon.cpp) ----
    // Startup, on a thread of its own so the loop keeps serving /healthz and netctl while
    // etcd is away: read the config, pick the underlay, acquire the lease.
    void start_cluster();
    void begin_startup();
    void on_cluster_ready();  // loop
    void stop_loop();
    void set_startup_state(std::string state);
    std::string startup_state() const;

    // ---- triggers (daemon.cpp): each only says "look now" ----
    void on_peers_changed();
    void on_own_lease_changed();
    // `full`: the run compares everything; else it looks at the changed peers only (unless
    // a full run is due anyway).
    void schedule_reconcile(const char* reason, bool full = true);
    void arm_resync();
    // `due`: when the resync fell due, while it waits for a pause in lease changes.
    void arm_resync(std::chrono::steady_clock::duration delay,
                    std::optional<std::chrono::steady_clock::time_point> due);
    void arm_retry(std::chrono::milliseconds delay, const char* reason);

    // ---- reconcile (reconcile.cpp) ----
    bool can_reconcile() const;
    // `leases`: the valid leases (the watcher's table, read in place); `pods`: the plugin's
    // reservations, whose host veths belong on twill0; nullptr: the bridge's ports are not
    // looked at in this run.
    node::NodeInputs inputs(const std::map<net::Prefix, subnet::Lease>* leases,
                            const std::vector<ipam::Reservation>* pods) const;
    node::DesiredState desired(const std::map<net::Prefix, subnet::Lease>& leases,
                               const std::vector<ipam::Reservation>* pods) const;
    std::uint32_t overlay_mtu() const;
    // This node on `underlay` before its lease is known: name, Network, underlay.
    backend::NodeContext node_context(const subnet::NetworkConfig& config,
                                      const backend::Underlay& underlay) const;
    // What this node publishes about itself: its public IP(s) and the backend's data.
    subnet::LeaseValue lease_value(const subnet::NetworkConfig& config,
                                   const backend::Backend& backend,
                                   const backend::Underlay& underlay) const;
    // The full run when one is due (startup, resync, kernel or nftables drift, own lease,
    // underlay, errors), else the run of the peers whose leases changed.
    void reconcile();
    void reconcile_all();
    void reconcile_peers();
    void finish_run(const reconcile::Report& report, bool full);
    void record_changes(const reconcile::Report& report);
    void hand_peers_to_probes(const std::map<net::Prefix, subnet::Lease>& leases);

    // ---- kernel and nftables monitors, the underlay (monitors.cpp) ----
    void arm_monitor();
    void on_monitor_readable();
    bool concerns_twill(const netlink::Event& event) const;
    void arm_firewall_monitor();
    void refresh_underlay();

    // ---- config watch (config_watch.cpp) ----
    void on_config_seen(const std::optional<std::string>& value);

    // ---- status and check (status.cpp): rendering only, no metric written ----
    void add_peers(api::v1::StatusReply& s, const node::DesiredState& desired,
                   const reconcile::Report& report);
    void add_lost_pods(api::v1::StatusReply& s, const std::vector<ipam::Reservation>& pods) const;
    void add_node_state(api::v1::StatusReply& s, const std::map<net::Prefix, subnet::Lease>& leases,
                        const std::vector<ipam::Reservation>& pods);

    // ---- gauges (gauges.cpp): refreshed on the daemon's own schedule ----
    void arm_gauges();
    void refresh_gauges();
    std::uint32_t count_oversized_pod_interfaces(std::uint32_t overlay_mtu);
    void update_oversized_gauge();

    // ---- leave and join (membership.cpp) ----
    void finish_leave();

    Options options_;
    boost::asio::io_context io_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer resync_timer_;
    boost::asio::steady_timer retry_timer_;
    boost::asio::steady_timer debounce_timer_;
    boost::asio::steady_timer gauge_timer_;
    std::optional<boost::asio::posix::stream_descriptor> monitor_descriptor_;
    DaemonMetrics metrics_;

    node::NodeReconciler node_;
    netlink::Monitor monitor_;
    // twill's nftables table: rtnetlink does not report nftables, so a monitor of its own.
    firewall::ChangeMonitor firewall_monitor_;
    std::optional<boost::asio::posix::stream_descriptor> firewall_descriptor_;

    std::unique_ptr<Cluster> cluster_;
    std::thread startup_thread_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex startup_mutex_;        // the startup thread writes, the loop reads
    std::string startup_state_ = "starting";  // guarded by startup_mutex_

    // Loop-owned state.
    std::optional<subnet::NetworkConfig> config_;
    std::unique_ptr<backend::Backend> backend_;
    std::optional<backend::Underlay> underlay_;
    std::optional<subnet::Lease> own_lease_;
    // The periodic resync waits for a pause in lease changes (resync_timing.hpp): the last
    // time one arrived, or a run finished applying some.
    std::chrono::steady_clock::time_point last_lease_change_;
    bool full_due_ = true;    // the next run compares everything (else: changed peers only)
    bool ports_due_ = true;   // look at the pods' bridge ports in the next full run
    bool probes_due_ = true;  // the peers changed since the probes were given them
    std::size_t peer_count_ = 0;
    std::size_t off_link_count_ = 0;  // host-gw peers that get no route
    bool ready_ = false;
    bool reconcile_pending_ = false;
    bool leaving_ = false;
    std::optional<std::string> left_;  // the leave marker's text: this node stays out
    int exit_code_ = 0;
    std::string config_problem_;  // how etcd's config differs from the running one; "" if not

    // Results of reconciliation, for status and metrics.
    std::map<std::string, std::uint64_t> corrections_;  // drift fixed, by "<kind>_<action>"
    std::uint64_t corrections_total_ = 0;
    std::uint64_t reconcile_runs_ = 0;
    std::chrono::system_clock::time_point last_reconcile_{};
    std::size_t last_change_count_ = 0;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

    std::optional<PeerProbes> probes_;  // absent: --probe-interval=0

    std::unique_ptr<api::Server> api_server_;
    std::unique_ptr<metrics::HttpServer> http_server_;
};

}  // namespace twill::daemon
