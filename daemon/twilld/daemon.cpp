#include "daemon.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cstdlib>

#include "cluster.hpp"
#include "leave_marker.hpp"
#include "resync_timing.hpp"
#include "retry.hpp"
#include "twill/api/server.hpp"
#include "twill/error.hpp"
#include "twill/metrics/http_server.hpp"
#include "twill/metrics/listen_address.hpp"
#include "twill/netlink/failpoints.hpp"
#include "twill/sys/file.hpp"
#include "underlay.hpp"
#include "version.hpp"

namespace twill::daemon {

Daemon::Daemon(Options options)
    : options_(std::move(options)),
      signals_(io_, SIGTERM, SIGINT),
      resync_timer_(io_),
      retry_timer_(io_),
      debounce_timer_(io_),
      gauge_timer_(io_),
      node_(options_.run_dir) {
    if (options_.probe_interval.count() > 0) {
        probe::ProbeOptions probe_options;
        probe_options.interval = options_.probe_interval;
        probe_options.rate = options_.probe_rate;
        probes_.emplace(io_, probe_options, metrics_);
    }
    cluster_ = std::make_unique<Cluster>(
        options_, ClusterCallbacks{
                      [this] { boost::asio::post(io_, [this] { on_peers_changed(); }); },
                      [this] { boost::asio::post(io_, [this] { on_own_lease_changed(); }); },
                      [this] { metrics_.lease_renewals.Increment(); },
                      [this](const std::string& message) {
                          boost::asio::post(io_, [this, message] {
                              spdlog::critical(
                                  "another twilld runs with node name {}: {}; this one stops "
                                  "(two daemons with one node name is a configuration error)",
                                  options_.node_name, message);
                              exit_code_ = 1;
                              stop_loop();
                          });
                      },
                      [this](std::optional<std::string> value) {
                          boost::asio::post(
                              io_, [this, value = std::move(value)] { on_config_seen(value); });
                      },
                  });
}

Daemon::~Daemon() {
    stopping_ = true;
    if (cluster_) cluster_->stop();
    if (startup_thread_.joinable()) startup_thread_.join();
}

int Daemon::run() {
    // Fault injection for the tests of failure paths (docs/operations.md).
    if (const char* failpoints = std::getenv("TWILL_FAILPOINTS")) {
        netlink::set_failpoints(failpoints);
        spdlog::warn("TWILL_FAILPOINTS={}: kernel calls named there fail on purpose", failpoints);
    }
    sys::make_directories(options_.run_dir);
    api_server_ = std::make_unique<api::Server>(api::socket_path(options_.run_dir), *this,
                                                api::ServerOptions{io_.get_executor()});
    if (!options_.metrics_addr.empty()) {
        http_server_ = std::make_unique<metrics::HttpServer>(
            io_, metrics::parse_listen_address(options_.metrics_addr), metrics_.registry(), [this] {
                if (ready_) return metrics::Readiness{true, "ready"};
                return metrics::Readiness{false, startup_state()};
            });
        spdlog::info("metrics on {}", options_.metrics_addr);
    }
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        spdlog::info("signal {}: stopping; the data plane and the lease stay in place", signal);
        stop_loop();
    });
    arm_monitor();
    arm_firewall_monitor();
    arm_gauges();
    spdlog::info("twilld {} starting: node {}, etcd {}, prefix {}{}", kVersion, options_.node_name,
                 options_.etcd_endpoints.front(), options_.etcd_prefix,
                 options_.dry_run ? " (dry run: no kernel changes)" : "");
    left_ = leave_reason(options_.state_dir);
    if (left_) {
        set_startup_state("this node left the cluster (" + *left_ +
                          "); it stays out until `netctl join`, `twilld --join` or removing " +
                          leave_marker_path(options_.state_dir).string());
        spdlog::warn("{}", startup_state());
    } else {
        begin_startup();
    }
    io_.run();

    stopping_ = true;
    cluster_->stop();
    if (startup_thread_.joinable()) startup_thread_.join();
    api_server_.reset();
    http_server_.reset();
    monitor_descriptor_.reset();
    firewall_descriptor_.reset();
    spdlog::info("twilld stopped");
    return exit_code_;
}

void Daemon::stop_loop() {
    stopping_ = true;
    cluster_->stop();
    signals_.cancel();
    resync_timer_.cancel();
    retry_timer_.cancel();
    debounce_timer_.cancel();
    gauge_timer_.cancel();
    if (monitor_descriptor_) monitor_descriptor_->cancel();
    if (firewall_descriptor_) firewall_descriptor_->cancel();
    if (probes_) probes_->stop();
    io_.stop();
}

void Daemon::set_startup_state(std::string state) {
    std::lock_guard lock(startup_mutex_);
    startup_state_ = std::move(state);
}

std::string Daemon::startup_state() const {
    std::lock_guard lock(startup_mutex_);
    return startup_state_;
}

void Daemon::begin_startup() {
    if (startup_thread_.joinable()) startup_thread_.join();
    set_startup_state("starting");
    startup_thread_ = std::thread([this] { start_cluster(); });
}

void Daemon::start_cluster() {
    try {
        set_startup_state("waiting for the network config in etcd");
        auto config = cluster_->load_config();
        for (const auto& field : config.ignored_fields) {
            spdlog::warn("config: {} has no effect in twill", field);
        }
        auto backend = backend::make_backend(
            config, backend::BackendEnvironment{options_.state_dir, options_.run_dir,
                                                options_.wireguard_impl});
        netlink::Handle handle;  // this thread's own; the loop's handle stays on the loop
        // The underlay may not be there yet (a NIC brought up late at boot): wait for it.
        set_startup_state("looking for the underlay interface");
        const auto underlay = retry_until_done(
            "the underlay", OnParseError::fail,
            [this](auto delay) { return cluster_->pause(delay); },
            [&] {
                return find_underlay(handle, options_.underlay, options_.public_ip,
                                     config.network().family());
            });
        spdlog::info("underlay {} address {} mtu {}", underlay.name, underlay.address.to_string(),
                     underlay.mtu);

        set_startup_state("acquiring a subnet lease");
        auto lease = cluster_->acquire(config, lease_value(config, *backend, underlay));
        spdlog::info("holding subnet {} (etcd lease {:x})", lease.subnet.to_string(),
                     lease.etcd_lease);
        set_startup_state("programming the kernel");
        boost::asio::post(io_, [this, config = std::move(config), backend = std::move(backend),
                                underlay, lease]() mutable {
            config_ = std::move(config);
            backend_ = std::move(backend);
            underlay_ = underlay;
            own_lease_ = lease;
            on_cluster_ready();
        });
    } catch (const std::exception& e) {
        if (stopping_) return;
        spdlog::critical("startup failed: {}", e.what());
        boost::asio::post(io_, [this] {
            exit_code_ = 1;
            stop_loop();
        });
    }
}

void Daemon::on_cluster_ready() {
    cluster_->start();
    if (probes_) {
        std::vector<net::Family> families{config_->network().family()};
        if (config_->ipv6) families.push_back(net::Family::v6);
        probes_->start(families);
    }
    full_due_ = true;
    ports_due_ = true;
    reconcile();
    arm_resync();
}

void Daemon::on_peers_changed() {
    last_lease_change_ = std::chrono::steady_clock::now();
    if (!config_) return;
    // The watcher may call once per event: the run takes every change since the previous.
    schedule_reconcile("leases changed", /*full=*/false);
}

// A loss means etcd may have handed this node's subnet to another node: stop handing out its
// addresses at once (not ready, no subnet.json), keep the data plane, and let the keeper
// acquire again. The same subnet comes back when it is still free: then nothing changes in
// the kernel. Another subnet moves twill0, the overlay device and every peer with it.
void Daemon::on_own_lease_changed() {
    if (!config_ || leaving_) return;
    auto lease = cluster_->own_lease();
    if (!lease) {
        if (!own_lease_) return;
        spdlog::error(
            "this node's subnet lease {} is lost: not ready and no new pods until it is held "
            "again; the data plane stays",
            own_lease_->subnet.to_string());
        own_lease_.reset();
        ready_ = false;
        metrics_.ready.Set(0);
        set_startup_state("the subnet lease was lost; acquiring one again");
        try {
            node_.remove_subnet_file();
        } catch (const Error& e) {
            spdlog::error("{}", e.what());
        }
        return;
    }
    if (!own_lease_ || own_lease_->subnet != lease->subnet) {
        spdlog::warn("this node's subnet is now {}", lease->subnet.to_string());
        node_.forget_objects();
        ports_due_ = true;
    }
    own_lease_ = lease;
    schedule_reconcile("own lease changed");
}

void Daemon::schedule_reconcile(const char* reason, bool full) {
    if (full) full_due_ = true;
    if (reconcile_pending_ || stopping_) return;
    reconcile_pending_ = true;
    spdlog::debug("reconcile scheduled: {}", reason);
    boost::asio::post(io_, [this] { reconcile(); });
}

void Daemon::arm_retry(std::chrono::milliseconds delay, const char* reason) {
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([this, reason](const boost::system::error_code& ec) {
        if (!ec) schedule_reconcile(reason);
    });
}

void Daemon::arm_resync() {
    arm_resync(options_.resync_interval, std::nullopt);
}

void Daemon::arm_resync(std::chrono::steady_clock::duration delay,
                        std::optional<std::chrono::steady_clock::time_point> due) {
    if (options_.resync_interval.count() == 0 || stopping_) return;
    resync_timer_.expires_after(delay);
    resync_timer_.async_wait([this, due](const boost::system::error_code& ec) {
        if (ec) return;
        const auto now = std::chrono::steady_clock::now();
        ResyncTiming timing;
        timing.max_delay = std::min(timing.max_delay, options_.resync_interval);
        const auto fell_due = due.value_or(now);
        if (const auto wait = timing.wait(fell_due, last_lease_change_, now);
            wait > std::chrono::steady_clock::duration::zero()) {
            arm_resync(wait, fell_due);
            return;
        }
        refresh_underlay();
        update_oversized_gauge();
        ports_due_ = true;
        schedule_reconcile("periodic resync");
        arm_resync();
    });
}

}  // namespace twill::daemon
