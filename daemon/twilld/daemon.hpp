#pragma once
// twilld's core: one Boost.Asio event loop owns the netlink handle, the desired state and the
// reconciler. etcd streams (lease keep-alive, peer watch) and the local API run on their own
// threads and only post into the loop; the loop is the only writer of the kernel.
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon_metrics.hpp"
#include "options.hpp"
#include "peer_probes.hpp"
#include "twill/api/handler.hpp"
#include "twill/backend/backend.hpp"
#include "twill/firewall/change_monitor.hpp"
#include "twill/firewall/masquerade.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/netlink/monitor.hpp"
#include "twill/reconcile/object_reconciler.hpp"
#include "twill/subnet/config.hpp"
#include "twill/subnet/lease.hpp"

namespace twill::kv {
class Client;
}
namespace twill::api {
class Server;
}
namespace twill::metrics {
class HttpServer;
}

namespace twill::daemon {

class Cluster;

class Daemon final : public api::Handler {
  public:
    explicit Daemon(Options options);
    ~Daemon() override;

    // Runs until SIGTERM/SIGINT (data plane and lease stay) or a leave (both removed).
    // Returns the process exit code.
    int run();

    // api::Handler, called on the API server's threads; each runs its work on the loop.
    api::v1::StatusReply status() override;
    api::v1::CheckReply check() override;
    void probe_round(ProbeRoundDone done) override;
    api::v1::LeaveReply leave() override;
    api::v1::EvictReply evict(const std::string& node) override;

  private:
    // Startup, on a thread of its own so the loop keeps serving /healthz and netctl while
    // etcd is away: read the config, pick the underlay, acquire the lease.
    void start_cluster();
    void on_cluster_ready();                                       // loop
    void on_peers_changed();                                       // loop
    void on_own_lease_changed();                                   // loop
    void on_config_seen(const std::optional<std::string>& value);  // loop
    void refresh_leases();
    void schedule_reconcile(const char* reason);
    void reconcile();
    void arm_resync();
    void arm_monitor();
    void on_monitor_readable();
    void arm_firewall_monitor();
    bool concerns_twill(const netlink::Event& event) const;
    void refresh_underlay();
    void do_leave();
    void stop_loop();

    template <class Fn>
    auto on_loop(Fn fn) -> decltype(fn());

    api::v1::StatusReply build_status();
    std::vector<subnet::Lease> peers() const;
    bool is_peer(const subnet::Lease& lease) const;
    backend::NodeContext node_context() const;
    reconcile::DeviceSpec bridge_spec() const;
    reconcile::Report reconcile_devices(bool dry_run);
    reconcile::Report reconcile_objects(bool dry_run);
    reconcile::Report reconcile_firewall(bool dry_run);
    std::uint32_t pod_ips_in_use() const;
    void update_oversized_gauge();
    std::uint32_t count_oversized_pod_interfaces(std::uint32_t overlay_mtu);

    Options options_;
    boost::asio::io_context io_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer resync_timer_;
    boost::asio::steady_timer retry_timer_;
    boost::asio::steady_timer debounce_timer_;
    std::optional<boost::asio::posix::stream_descriptor> monitor_descriptor_;
    DaemonMetrics metrics_;

    netlink::Handle handle_;
    netlink::Monitor monitor_;
    reconcile::ObjectReconciler objects_;
    // twill's nftables table; rtnetlink does not report nftables, so its own monitor.
    firewall::Masquerade firewall_;
    firewall::ChangeMonitor firewall_monitor_;
    std::optional<boost::asio::posix::stream_descriptor> firewall_descriptor_;
    std::optional<firewall::MasqueradeSpec> firewall_applied_;  // last spec put in the kernel

    std::unique_ptr<Cluster> cluster_;
    std::thread startup_thread_;
    std::atomic<bool> stopping_{false};
    std::string startup_state_ = "starting";

    // Loop-owned state.
    std::optional<subnet::NetworkConfig> config_;
    std::unique_ptr<backend::Backend> backend_;
    std::optional<backend::Underlay> underlay_;
    std::optional<subnet::Lease> own_lease_;
    std::map<net::Prefix, subnet::Lease> leases_;  // valid leases by subnet (own included)
    bool leases_dirty_ = false;         // the watcher has news: refresh leases_ before reconciling
    std::uint64_t leases_version_ = 0;  // bumped on every refresh of leases_
    std::uint64_t probed_version_ = 0;  // the leases_version_ the probes were last given
    int overlay_index_ = 0;
    bool ready_ = false;
    bool reconcile_pending_ = false;
    bool leaving_ = false;
    int exit_code_ = 0;
    std::string config_problem_;  // how etcd's config differs from the running one; "" if not

    // Results of reconciliation, for status and metrics.
    std::map<std::string, std::uint64_t> corrections_;  // drift fixed, by "<kind>_<action>"
    std::uint64_t corrections_total_ = 0;
    std::uint64_t reconcile_runs_ = 0;
    std::chrono::system_clock::time_point last_reconcile_{};
    reconcile::Report last_report_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

    std::optional<PeerProbes> probes_;  // absent: --probe-interval=0

    std::unique_ptr<api::Server> api_server_;
    std::unique_ptr<metrics::HttpServer> http_server_;
};

}  // namespace twill::daemon
