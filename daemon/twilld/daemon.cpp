#include "daemon.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "cluster.hpp"
#include "sysctl.hpp"
#include "time_format.hpp"
#include "twill/api/server.hpp"
#include "twill/cni/node_subnet.hpp"
#include "twill/error.hpp"
#include "twill/ipam/store.hpp"
#include "twill/metrics/http_server.hpp"
#include "twill/metrics/listen_address.hpp"
#include "twill/reconcile/device_reconciler.hpp"
#include "twill/sys/file.hpp"
#include "underlay.hpp"
#include "version.hpp"

namespace twill::daemon {

namespace {

constexpr const char* kBridge = "twill0";
// The unreachable route for the whole Network sits behind every real route.
constexpr std::uint32_t kUnreachableMetric = 65535;
// Monitor-triggered reconciles are spaced by this much, so our own changes (which the
// monitor reports too) fold into one follow-up run.
constexpr auto kMonitorDebounce = std::chrono::milliseconds(5);

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
}

}  // namespace

Daemon::Daemon(Options options)
    : options_(std::move(options)),
      signals_(io_, SIGTERM, SIGINT),
      resync_timer_(io_),
      retry_timer_(io_),
      debounce_timer_(io_),
      objects_(handle_) {
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
    sys::make_directories(options_.run_dir);
    api_server_ = std::make_unique<api::Server>(api::socket_path(options_.run_dir), *this,
                                                api::ServerOptions{io_.get_executor()});
    if (!options_.metrics_addr.empty()) {
        http_server_ = std::make_unique<metrics::HttpServer>(
            io_, metrics::parse_listen_address(options_.metrics_addr), metrics_.registry(), [this] {
                if (ready_) return metrics::Readiness{true, "ready"};
                return metrics::Readiness{false, startup_state_};
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
    spdlog::info("twilld {} starting: node {}, etcd {}, prefix {}{}", kVersion, options_.node_name,
                 options_.etcd_endpoints.front(), options_.etcd_prefix,
                 options_.dry_run ? " (dry run: no kernel changes)" : "");
    startup_thread_ = std::thread([this] { start_cluster(); });
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
    if (monitor_descriptor_) monitor_descriptor_->cancel();
    if (firewall_descriptor_) firewall_descriptor_->cancel();
    if (probes_) probes_->stop();
    io_.stop();
}

void Daemon::start_cluster() {
    try {
        startup_state_ = "waiting for the network config in etcd";
        auto config = cluster_->load_config();
        for (const auto& field : config.ignored_fields) {
            spdlog::warn("config: {} has no effect in twill", field);
        }
        auto backend = backend::make_backend(
            config, backend::BackendEnvironment{options_.state_dir, options_.run_dir,
                                                options_.wireguard_impl});
        netlink::Handle handle;  // this thread's own; the loop's handle stays on the loop
        auto underlay = find_underlay(handle, options_.underlay, options_.public_ip);
        spdlog::info("underlay {} address {} mtu {}", underlay.name, underlay.address.to_string(),
                     underlay.mtu);

        startup_state_ = "acquiring a subnet lease";
        backend::NodeContext context;
        context.node = options_.node_name;
        context.network = config.network();
        context.underlay = underlay;
        subnet::LeaseValue value{options_.public_ip.value_or(underlay.address), options_.node_name,
                                 backend->lease_data(context)};
        auto lease = cluster_->acquire(config, value);
        spdlog::info("holding subnet {} (etcd lease {:x})", lease.subnet.to_string(),
                     lease.etcd_lease);
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
    startup_state_ = "programming the kernel";
    cluster_->start();
    if (probes_) probes_->start(config_->network().family());
    leases_dirty_ = true;
    reconcile();
    arm_resync();
}

void Daemon::on_peers_changed() {
    if (!config_) return;
    // The watcher may call once per event: copy its map once per reconcile, not per call.
    leases_dirty_ = true;
    schedule_reconcile("leases changed");
}

void Daemon::on_own_lease_changed() {
    if (!config_) return;
    auto lease = cluster_->own_lease();
    if (!lease) {
        spdlog::error("this node's subnet lease is lost; keeping the data plane, retrying");
        own_lease_.reset();
        ready_ = false;
        return;
    }
    if (!own_lease_ || own_lease_->subnet != lease->subnet) {
        spdlog::warn("this node's subnet is now {}", lease->subnet.to_string());
        objects_.forget();
    }
    own_lease_ = lease;
    leases_dirty_ = true;
    schedule_reconcile("own lease changed");
}

namespace {

bool same_config(const subnet::NetworkConfig& a, const subnet::NetworkConfig& b) {
    return a.network() == b.network() && a.range.subnet_len() == b.range.subnet_len() &&
           a.range.min() == b.range.min() && a.range.max() == b.range.max() &&
           a.backend == b.backend && a.ipv6.has_value() == b.ipv6.has_value();
}

std::string describe(const subnet::NetworkConfig& config) {
    return "Network " + config.network().to_string() + ", SubnetLen " +
           std::to_string(config.range.subnet_len()) + ", SubnetMin " +
           config.range.min().to_string() + ", SubnetMax " + config.range.max().to_string() +
           ", backend " + std::string(subnet::to_string(config.backend_type()));
}

}  // namespace

void Daemon::on_config_seen(const std::optional<std::string>& value) {
    if (!config_) return;
    std::string problem;
    const auto key = subnet::config_key(options_.etcd_prefix);
    if (!value) {
        problem =
            key + " was deleted from etcd; twilld keeps running with the config it started with";
    } else {
        try {
            const auto fresh = subnet::parse_network_config(*value);
            if (!same_config(fresh, *config_)) {
                problem = key + " changed in etcd (now " + describe(fresh) + "; running with " +
                          describe(*config_) + "): restart twilld on every node to apply it";
            }
        } catch (const Error& e) {
            problem = key + " in etcd is invalid now (" + e.what() +
                      "); twilld keeps running with the config it started with";
        }
    }
    if (problem == config_problem_) return;
    if (problem.empty()) {
        spdlog::info("{} in etcd matches the running config again", key);
    } else {
        spdlog::warn("{}", problem);
    }
    config_problem_ = problem;
    metrics_.config_stale.Set(problem.empty() ? 0 : 1);
}

void Daemon::refresh_leases() {
    if (!leases_dirty_) return;
    leases_ = cluster_->leases();
    leases_dirty_ = false;
    ++leases_version_;
}

void Daemon::schedule_reconcile(const char* reason) {
    if (reconcile_pending_ || stopping_) return;
    reconcile_pending_ = true;
    spdlog::debug("reconcile scheduled: {}", reason);
    boost::asio::post(io_, [this] { reconcile(); });
}

bool Daemon::is_peer(const subnet::Lease& lease) const {
    return own_lease_ && lease.subnet != own_lease_->subnet &&
           lease.value.node != options_.node_name;
}

std::vector<subnet::Lease> Daemon::peers() const {
    std::vector<subnet::Lease> result;
    for (const auto& [subnet, lease] : leases_) {
        if (is_peer(lease)) result.push_back(lease);
    }
    return result;
}

backend::NodeContext Daemon::node_context() const {
    backend::NodeContext context;
    context.node = options_.node_name;
    context.network = config_->network();
    context.subnet = own_lease_->subnet;
    context.underlay = *underlay_;
    context.overlay_mtu = options_.mtu ? static_cast<std::uint32_t>(*options_.mtu)
                                       : backend::overlay_mtu(*backend_, *underlay_);
    return context;
}

reconcile::DeviceSpec Daemon::bridge_spec() const {
    const auto context = node_context();
    reconcile::DeviceSpec bridge;
    bridge.kind = reconcile::DeviceSpec::Kind::bridge;
    bridge.name = kBridge;
    bridge.mtu = context.overlay_mtu;
    bridge.addresses = {net::Prefix(context.subnet.first().plus(1), context.subnet.length())};
    return bridge;
}

reconcile::Report Daemon::reconcile_devices(bool dry_run) {
    reconcile::Report report;
    reconcile::reconcile_device(handle_, bridge_spec(), dry_run, report);
    bool recreated = false;
    overlay_index_ =
        backend_->reconcile_device(handle_, node_context(), dry_run, report, recreated);
    if (recreated) objects_.forget();
    return report;
}

reconcile::Report Daemon::reconcile_objects(bool dry_run) {
    reconcile::ObjectSet desired;
    const auto context = node_context();
    const auto all_peers = peers();
    reconcile::Report backend_report;
    backend_->reconcile_peers(context, all_peers, dry_run, backend_report);
    if (overlay_index_ != 0) {
        for (auto& set : backend_->peer_objects(context, all_peers, overlay_index_)) {
            for (auto& r : set.routes) desired.routes.push_back(std::move(r));
            for (auto& n : set.neighbours) desired.neighbours.push_back(std::move(n));
            for (auto& f : set.fdb) desired.fdb.push_back(std::move(f));
        }
    }
    netlink::Route unreachable;
    unreachable.destination = config_->network();
    unreachable.type = netlink::RouteType::unreachable;
    unreachable.protocol = reconcile::twill_route_protocol;
    unreachable.priority = kUnreachableMetric;
    desired.routes.push_back(unreachable);

    reconcile::Ownership owned;
    if (overlay_index_ != 0) owned.devices = {overlay_index_};
    owned.neighbour_scope = {config_->network()};
    auto report = objects_.reconcile(desired, owned, dry_run);
    report.merge(std::move(backend_report));
    return report;
}

reconcile::Report Daemon::reconcile_firewall(bool dry_run) {
    reconcile::Report report;
    std::optional<firewall::MasqueradeSpec> spec;
    if (options_.ip_masq) spec = firewall::MasqueradeSpec{config_->network(), own_lease_->subnet};
    try {
        const auto outcome = firewall_.reconcile(spec, dry_run);
        if (outcome.action != firewall::Outcome::Action::none) {
            const auto action = outcome.action == firewall::Outcome::Action::created
                                    ? reconcile::Action::added
                                : outcome.action == firewall::Outcome::Action::removed
                                    ? reconcile::Action::deleted
                                    : reconcile::Action::replaced;
            const bool drift = firewall_applied_.has_value() && spec == firewall_applied_;
            report.changes.push_back(
                {"nftables", action, "table inet twill", outcome.detail, drift});
        }
        if (!dry_run) firewall_applied_ = spec;
    } catch (const Error& e) {
        report.errors.emplace_back(e.what());
    }
    return report;
}

void Daemon::reconcile() {
    reconcile_pending_ = false;
    if (!config_ || !own_lease_ || !underlay_ || stopping_ || leaving_) return;
    // Until the watcher has listed every lease once, the set of peers is unknown: program
    // devices, but leave per-peer objects alone (a restarted daemon must not flap them).
    if (!cluster_->synced()) {
        retry_timer_.expires_after(std::chrono::milliseconds(50));
        retry_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) schedule_reconcile("waiting for the first lease list");
        });
        return;
    }
    refresh_leases();
    auto report = reconcile_devices(options_.dry_run);
    report.merge(reconcile_objects(options_.dry_run));
    report.merge(reconcile_firewall(options_.dry_run));

    if (!options_.dry_run && ip_forward_enabled() != true) {
        try {
            enable_ip_forward();
            report.changes.push_back(
                {"sysctl", reconcile::Action::replaced, "net.ipv4.ip_forward=1", "was 0", false});
        } catch (const Error& e) {
            report.errors.emplace_back(e.what());
        }
    }

    ++reconcile_runs_;
    last_reconcile_ = std::chrono::system_clock::now();
    metrics_.reconcile_runs.Increment();
    metrics_.reconcile_seconds.Observe(std::chrono::duration<double>(report.duration).count());
    metrics_.reconcile_errors.Increment(static_cast<double>(report.errors.size()));
    if (!options_.dry_run) {
        for (const auto& change : report.changes) {
            metrics_.count_change(change.kind, std::string(reconcile::to_string(change.action)),
                                  change.drift);
            if (change.drift) {
                ++corrections_[change.kind + "_" +
                               std::string(reconcile::to_string(change.action))];
                ++corrections_total_;
                spdlog::warn("drift corrected: {} {} {}", change.kind,
                             reconcile::to_string(change.action), change.object);
            } else {
                spdlog::info("{} {} {}", change.kind, reconcile::to_string(change.action),
                             change.object);
            }
        }
    }

    if (!options_.dry_run && overlay_index_ != 0) {
        const auto context = node_context();
        cni::NodeSubnet file{context.network, context.subnet, context.subnet.first().plus(1),
                             kBridge, static_cast<int>(context.overlay_mtu)};
        try {
            if (cni::read_node_subnet(options_.run_dir) != file) {
                cni::write_node_subnet(options_.run_dir, file);
                spdlog::info("wrote {}", (options_.run_dir / cni::node_subnet_file_name).string());
            }
        } catch (const Error& e) {
            report.errors.emplace_back(e.what());
        }
    }
    ready_ = report.errors.empty() && overlay_index_ != 0 && !options_.dry_run;
    if (ready_) startup_state_ = "ready";
    metrics_.ready.Set(ready_ ? 1 : 0);
    metrics_.peers.Set(static_cast<double>(
        std::count_if(leases_.begin(), leases_.end(),
                      [this](const auto& entry) { return is_peer(entry.second); })));
    // Thousands of peers come and go in bursts: hand the freed memory back to the system.
    if (last_report_.changes.size() + report.changes.size() > 1000) ::malloc_trim(0);
    last_report_ = std::move(report);
    // Probe after the routes to new peers are in place, and only when the peers changed.
    if (probes_ && probed_version_ != leases_version_) {
        std::vector<probe::Target> targets;
        targets.reserve(leases_.size());
        for (const auto& [subnet, lease] : leases_) {
            if (is_peer(lease))
                targets.push_back({subnet, lease.value.node, subnet.first().plus(1)});
        }
        probes_->set_peers(std::move(targets));
        probed_version_ = leases_version_;
    }

    if (!last_report_.errors.empty()) {
        retry_timer_.expires_after(std::chrono::seconds(1));
        retry_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) schedule_reconcile("retry after errors");
        });
    }
}

void Daemon::arm_resync() {
    if (options_.resync_interval.count() == 0 || stopping_) return;
    resync_timer_.expires_after(options_.resync_interval);
    resync_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        refresh_underlay();
        update_oversized_gauge();
        schedule_reconcile("periodic resync");
        arm_resync();
    });
}

void Daemon::arm_monitor() {
    if (!monitor_descriptor_) monitor_descriptor_.emplace(io_, ::dup(monitor_.fd()));
    monitor_descriptor_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                    [this](const boost::system::error_code& ec) {
                                        if (ec) return;
                                        on_monitor_readable();
                                        arm_monitor();
                                    });
}

bool Daemon::concerns_twill(const netlink::Event& event) const {
    return std::visit(
        [&](const auto& object) -> bool {
            using T = std::decay_t<decltype(object)>;
            if constexpr (std::is_same_v<T, netlink::Route>) {
                return object.protocol == reconcile::twill_route_protocol ||
                       (overlay_index_ != 0 && object.oif == overlay_index_) ||
                       object.destination.length() == 0;
            } else if constexpr (std::is_same_v<T, netlink::Neighbour> ||
                                 std::is_same_v<T, netlink::FdbEntry>) {
                return overlay_index_ != 0 && object.link_index == overlay_index_;
            } else if constexpr (std::is_same_v<T, netlink::Link>) {
                return object.name == kBridge || object.index == overlay_index_ ||
                       object.name.starts_with("twill.") ||
                       (underlay_ && object.index == underlay_->index);
            } else {
                return object.link_index == overlay_index_ ||
                       (underlay_ && object.link_index == underlay_->index);
            }
        },
        event.object);
}

void Daemon::arm_firewall_monitor() {
    if (!firewall_descriptor_) firewall_descriptor_.emplace(io_, ::dup(firewall_monitor_.fd()));
    firewall_descriptor_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                     [this](const boost::system::error_code& ec) {
                                         if (ec) return;
                                         bool changed = true;
                                         try {
                                             changed = firewall_monitor_.drain();
                                         } catch (const Error& e) {
                                             spdlog::warn("nftables monitor: {}", e.what());
                                         }
                                         if (changed && config_)
                                             schedule_reconcile("nftables table changed");
                                         arm_firewall_monitor();
                                     });
}

void Daemon::on_monitor_readable() {
    netlink::DrainResult result;
    try {
        result = monitor_.drain();
    } catch (const Error& e) {
        spdlog::warn("netlink monitor: {}", e.what());
        result.resync_needed = true;
    }
    bool relevant = result.resync_needed;
    bool underlay_touched = false;
    for (const auto& event : result.events) {
        if (!concerns_twill(event)) continue;
        relevant = true;
        if (event.kind == netlink::Event::Kind::link ||
            event.kind == netlink::Event::Kind::address) {
            underlay_touched = true;
        }
    }
    if (!relevant || !config_) return;
    if (underlay_touched) refresh_underlay();
    if (reconcile_pending_) return;
    reconcile_pending_ = true;
    debounce_timer_.expires_after(kMonitorDebounce);
    debounce_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) {
            reconcile_pending_ = false;
            return;
        }
        reconcile();
    });
}

void Daemon::refresh_underlay() {
    if (!underlay_ || !own_lease_ || !backend_) return;
    try {
        auto fresh = find_underlay(handle_, options_.underlay, options_.public_ip);
        if (fresh.address == underlay_->address && fresh.mtu == underlay_->mtu &&
            fresh.index == underlay_->index)
            return;
        spdlog::info("underlay changed: {} {} mtu {} -> {} {} mtu {}", underlay_->name,
                     underlay_->address.to_string(), underlay_->mtu, fresh.name,
                     fresh.address.to_string(), fresh.mtu);
        const bool address_changed = fresh.address != underlay_->address;
        const bool mtu_changed = fresh.mtu != underlay_->mtu;
        underlay_ = fresh;
        // The pods made before now exceed the overlay: count them at once, not at the next resync.
        if (mtu_changed) update_oversized_gauge();
        if (address_changed && !options_.public_ip && !options_.dry_run) {
            subnet::LeaseValue value{fresh.address, options_.node_name,
                                     backend_->lease_data(node_context())};
            cluster_->update_value(value);
        }
    } catch (const Error& e) {
        spdlog::warn("underlay: {}", e.what());
    }
}

// Pods keep the MTU they were created with: after the underlay shrank, older pods' veths
// exceed the overlay and their large packets get "frag needed" answers.
std::uint32_t Daemon::count_oversized_pod_interfaces(std::uint32_t overlay_mtu) {
    std::uint32_t oversized = 0;
    if (const auto bridge = handle_.find_link(kBridge)) {
        for (const auto& link : handle_.list_links()) {
            if (link.master == bridge->index && link.mtu > overlay_mtu) ++oversized;
        }
    }
    metrics_.pod_interfaces_oversized.Set(oversized);
    return oversized;
}

// A link dump: kept off the per-change reconcile path. Pods only become oversized when the
// underlay MTU drops, so the gauge follows that change and the periodic resync (and status).
void Daemon::update_oversized_gauge() {
    if (!config_ || !own_lease_ || !underlay_ || !backend_) return;
    try {
        count_oversized_pod_interfaces(node_context().overlay_mtu);
    } catch (const Error& e) {
        spdlog::warn("count pod interfaces on {}: {}", kBridge, e.what());
    }
}

std::uint32_t Daemon::pod_ips_in_use() const {
    std::uint32_t count = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options_.cni_data_dir, ec)) {
        if (!entry.is_directory()) continue;
        try {
            count += static_cast<std::uint32_t>(ipam::Store(entry.path()).list().size());
        } catch (const Error&) {
        }
    }
    return count;
}

api::v1::StatusReply Daemon::status() {
    return build_status();
}

api::v1::StatusReply Daemon::build_status() {
    api::v1::StatusReply s;
    s.set_version(std::string(kVersion));
    s.set_node(options_.node_name);
    s.set_dry_run(options_.dry_run);
    s.set_uptime_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - started_)
                             .count());
    s.set_etcd_reachable(cluster_->connected());
    s.set_etcd_endpoint(cluster_->endpoint());
    s.set_last_revision(cluster_->revision());
    s.set_etcd_reconnects(cluster_->reconnects());
    s.set_ready(ready_);
    s.set_ip_forward(ip_forward_enabled().value_or(false));
    s.set_pod_ips_in_use(pod_ips_in_use());
    s.set_reconcile_runs(reconcile_runs_);
    s.set_last_reconcile(rfc3339(last_reconcile_));
    if (!ready_) s.add_warnings("not ready: " + startup_state_);
    if (!config_problem_.empty()) s.add_warnings(config_problem_);
    if (!s.ip_forward()) s.add_warnings("net.ipv4.ip_forward is 0: pods cannot reach other nodes");
    for (const auto& invalid : cluster_->invalid_leases()) {
        auto* entry = s.add_invalid_leases();
        entry->set_reason(invalid.reason);
        entry->set_count(invalid.now);
        s.set_invalid_leases_total(s.invalid_leases_total() + invalid.now);
        metrics_.set_invalid(invalid.reason, static_cast<double>(invalid.now),
                             static_cast<double>(invalid.total));
    }
    for (const auto& [kind, count] : corrections_) {
        auto* c = s.add_corrections();
        c->set_kind(kind);
        c->set_count(count);
    }
    s.set_corrections_total(corrections_total_);
    if (!config_) return s;

    s.set_network(config_->network().to_string());
    s.set_backend(std::string(subnet::to_string(config_->backend_type())));
    s.set_backend_detail(backend_->detail());
    if (underlay_) {
        s.set_public_ip(options_.public_ip.value_or(underlay_->address).to_string());
        s.set_underlay_iface(underlay_->name);
    }
    s.set_lease_held(own_lease_.has_value());
    s.set_lease_ttl_seconds(cluster_->lease_ttl_seconds());
    if (!own_lease_) return s;
    s.set_lease_id(own_lease_->etcd_lease);
    const auto context = node_context();
    s.set_subnet(context.subnet.to_string());
    s.set_gateway(context.subnet.first().plus(1).to_string());
    s.set_mtu(context.overlay_mtu);
    try {
        const auto oversized = count_oversized_pod_interfaces(context.overlay_mtu);
        s.set_pod_interfaces_oversized(oversized);
        if (oversized > 0) {
            s.add_warnings(std::to_string(oversized) + " pod interface(s) on " + kBridge +
                           " have an MTU above the overlay MTU " +
                           std::to_string(context.overlay_mtu) +
                           " (created before the underlay MTU dropped; recreate those pods)");
        }
    } catch (const Error& e) {
        s.add_warnings(std::string("links: ") + e.what());
    }

    // A fresh comparison, so "in kernel" is what the kernel holds now.
    refresh_leases();
    auto report = reconcile_devices(true);
    report.merge(reconcile_objects(true));
    report.merge(reconcile_firewall(true));
    add_differences(report, *s.mutable_differences());
    try {
        for (const auto& chain : firewall_.dropping_forward_chains()) {
            s.add_warnings(
                "forward chain " + chain +
                " has policy drop: pod traffic forwarded through this node "
                "may be dropped there (twill's own forward accept does not override it)");
        }
    } catch (const Error& e) {
        s.add_warnings(std::string("nftables: ") + e.what());
    }
    const auto all_peers = peers();
    const auto sets = overlay_index_ != 0
                          ? backend_->peer_objects(context, all_peers, overlay_index_)
                          : std::vector<reconcile::ObjectSet>{};
    for (std::size_t i = 0; i < all_peers.size(); ++i) {
        const auto& lease = all_peers[i];
        auto* p = s.add_peers();
        p->set_node(lease.value.node);
        p->set_subnet(lease.subnet.to_string());
        p->set_public_ip(lease.value.public_ip.to_string());
        if (const auto* v = std::get_if<subnet::VxlanLeaseData>(&lease.value.backend_data)) {
            p->set_vtep_mac(v->vtep_mac.to_string());
        }
        if (const auto* w = std::get_if<subnet::WireguardLeaseData>(&lease.value.backend_data)) {
            p->set_public_key(w->public_key_base64());
        }
        p->set_create_revision(lease.create_revision);
        p->set_mod_revision(lease.mod_revision);
        bool in_kernel = i < sets.size();
        if (in_kernel) {
            for (const auto& r : sets[i].routes)
                in_kernel = in_kernel && !report.unsettled.contains(reconcile::route_key(r));
            for (const auto& n : sets[i].neighbours)
                in_kernel = in_kernel && !report.unsettled.contains(reconcile::neighbour_key(n));
            for (const auto& f : sets[i].fdb)
                in_kernel = in_kernel && !report.unsettled.contains(reconcile::fdb_key(f));
        }
        p->set_in_kernel(in_kernel);
        if (probes_) {
            if (auto health = probes_->health(lease.subnet))
                *p->mutable_health() = std::move(*health);
        }
    }
    if (!probes_) {
        s.mutable_probes()->set_enabled(false);
    } else {
        *s.mutable_probes() = probes_->summary();
        const auto& probes = s.probes();
        if (!probes.enabled()) {
            s.add_warnings("peer probes are off: " + probes_->disabled_reason());
        } else if (probes.stretched()) {
            s.add_warnings("probe interval stretched to " +
                           std::to_string(static_cast<int>(probes.effective_interval_seconds())) +
                           "s: " + std::to_string(all_peers.size()) + " peers at --probe-rate " +
                           std::to_string(static_cast<int>(probes.rate())) +
                           "/s do not fit in --probe-interval " +
                           std::to_string(static_cast<int>(probes.interval_seconds())) + "s");
        }
    }
    metrics_.pod_ips_in_use.Set(s.pod_ips_in_use());
    metrics_.etcd_connected.Set(s.etcd_reachable() ? 1 : 0);
    metrics_.last_revision.Set(static_cast<double>(s.last_revision()));
    metrics_.etcd_reconnects.Set(static_cast<double>(s.etcd_reconnects()));
    return s;
}

api::v1::CheckReply Daemon::check() {
    api::v1::CheckReply reply;
    reply.set_revision(cluster_->revision());
    if (!config_ || !own_lease_ || !underlay_) {
        auto* d = reply.add_differences();
        d->set_kind("daemon");
        d->set_action("missing");
        d->set_object("not ready: " + startup_state_);
        reply.set_in_sync(false);
        return reply;
    }
    refresh_leases();
    auto report = reconcile_devices(true);
    report.merge(reconcile_objects(true));
    report.merge(reconcile_firewall(true));
    if (ip_forward_enabled() != true) {
        report.changes.push_back(
            {"sysctl", reconcile::Action::replaced, "net.ipv4.ip_forward=1", "is 0", false});
    }
    add_differences(report, *reply.mutable_differences());
    reply.set_in_sync(report.changes.empty());
    return reply;
}

void Daemon::probe_round(ProbeRoundDone done) {
    if (!probes_) throw Error("peer probes are off (--probe-interval=0)");
    if (!own_lease_) throw Error("no peers to probe yet: " + startup_state_);
    probes_->start_round(std::move(done));
}

api::v1::LeaveReply Daemon::leave() {
    do_leave();
    api::v1::LeaveReply reply;
    reply.set_message("node " + options_.node_name +
                      " left: lease revoked, devices and routes removed");
    // Exit once the reply is on its way.
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(200));
    timer->async_wait([this, timer](const boost::system::error_code&) { stop_loop(); });
    return reply;
}

void Daemon::do_leave() {
    leaving_ = true;
    if (probes_) probes_->stop();
    spdlog::warn("leaving for good: revoking the lease and removing twill's kernel objects");
    cluster_->leave();
    reconcile::Report report;
    reconcile::remove_device(handle_, kBridge, report);
    if (backend_ && own_lease_ && underlay_) backend_->remove(handle_, node_context(), report);
    try {
        firewall_.reconcile(std::nullopt, false);
    } catch (const Error& e) {
        spdlog::warn("leave: {}", e.what());
    }
    netlink::RouteFilter filter;
    filter.protocol = reconcile::twill_route_protocol;
    for (const auto& route : handle_.dump_routes(filter)) {
        try {
            handle_.delete_route(route);
        } catch (const Error& e) {
            spdlog::warn("leave: {}", e.what());
        }
    }
    try {
        if (::unlink((options_.run_dir / cni::node_subnet_file_name).c_str()) < 0 &&
            errno != ENOENT) {
            throw_errno("remove " + (options_.run_dir / cni::node_subnet_file_name).string());
        }
    } catch (const Error& e) {
        spdlog::warn("leave: {}", e.what());
    }
    ready_ = false;
}

api::v1::EvictReply Daemon::evict(const std::string& node) {
    if (node.empty()) throw ParseError("node", "empty node name");
    if (node == options_.node_name)
        throw ParseError("node", "this is the local node; use `netctl leave`");
    api::v1::EvictReply reply;
    const bool found = cluster_->evict(node);
    reply.set_found(found);
    reply.set_message(found ? "evicted node " + node + ": its lease is deleted; every peer drops it"
                            : "node " + node + " holds no lease");
    return reply;
}

}  // namespace twill::daemon
