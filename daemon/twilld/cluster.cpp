#include "cluster.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <thread>

#include "retry.hpp"
#include "twill/error.hpp"
#include "twill/kv/client.hpp"
#include "twill/subnet/allocator.hpp"
#include "twill/subnet/keeper.hpp"
#include "twill/subnet/watcher.hpp"

namespace twill::daemon {

namespace {

kv::ClientOptions client_options(const Options& o) {
    kv::ClientOptions options;
    options.endpoints = o.etcd_endpoints;
    if (!o.etcd_cafile.empty() || !o.etcd_certfile.empty() || !o.etcd_keyfile.empty()) {
        options.tls = kv::TlsOptions{o.etcd_cafile, o.etcd_certfile, o.etcd_keyfile};
    }
    return options;
}

subnet::Lease as_lease(const subnet::OwnLease& own) {
    subnet::Lease lease;
    lease.subnet = own.subnet;
    lease.value = own.value;
    lease.key = own.key;
    lease.mod_revision = own.mod_revision;
    lease.etcd_lease = own.etcd_lease;
    lease.ipv6_subnet = own.ipv6_subnet;
    return lease;
}

}  // namespace

struct Cluster::State {
    State(const Options& o, ClusterCallbacks c)
        : options(o), callbacks(std::move(c)), client(client_options(o)) {}

    Options options;
    ClusterCallbacks callbacks;
    kv::Client client;
    subnet::LeaseOptions lease_options;
    std::unique_ptr<subnet::SubnetKeeper> keeper;
    std::unique_ptr<subnet::LeaseWatcher> watcher;
    std::unique_ptr<kv::Watch> config_watch;
    std::optional<subnet::NetworkConfig> config;

    std::mutex mutex;
    std::condition_variable stop_requested;
    bool stopping = false;

    // Sleeps for `delay` unless stop() comes first; returns false when stopping.
    bool pause(std::chrono::milliseconds delay) {
        std::unique_lock lock(mutex);
        return !stop_requested.wait_for(lock, delay, [&] { return stopping; });
    }
    bool is_stopping() {
        std::lock_guard lock(mutex);
        return stopping;
    }
};

Cluster::Cluster(const Options& options, ClusterCallbacks callbacks)
    : state_(std::make_unique<State>(options, std::move(callbacks))) {
    state_->lease_options.prefix = options.etcd_prefix;
    state_->lease_options.ttl = options.subnet_lease_ttl;
    state_->lease_options.state_dir = options.state_dir;
}

Cluster::~Cluster() {
    stop();
    state_->watcher.reset();
    state_->keeper.reset();
}

subnet::NetworkConfig Cluster::load_config() {
    return retry_until_done(
        "the network config", OnParseError::retry,
        [this](auto delay) { return state_->pause(delay); },
        [this] {
            auto config = subnet::read_network_config(state_->client, state_->options.etcd_prefix);
            if (!config) {
                throw Error("no network config at " +
                            subnet::config_key(state_->options.etcd_prefix) + " yet");
            }
            state_->config = *config;
            return *config;
        });
}

subnet::Lease Cluster::acquire(const subnet::NetworkConfig& config,
                               const subnet::LeaseValue& value) {
    return retry_until_done(
        "a subnet lease", OnParseError::fail, [this](auto delay) { return state_->pause(delay); },
        [&] {
            state_->keeper = std::make_unique<subnet::SubnetKeeper>(
                state_->client, config, value, state_->lease_options,
                subnet::KeeperCallbacks{
                    [this](const subnet::OwnLease& lease) {
                        spdlog::warn("subnet lease acquired again: {} ({})",
                                     lease.subnet.to_string(), subnet::to_string(lease.outcome));
                        if (state_->callbacks.own_lease_changed)
                            state_->callbacks.own_lease_changed();
                    },
                    [this](const std::string& message) {
                        if (state_->callbacks.conflict) state_->callbacks.conflict(message);
                    },
                    [](const std::string& message) { spdlog::error("subnet lease: {}", message); },
                    [this](const std::string&) {
                        if (state_->callbacks.own_lease_changed)
                            state_->callbacks.own_lease_changed();
                    },
                    [this] {
                        if (state_->callbacks.lease_renewed) state_->callbacks.lease_renewed();
                    },
                });
            try {
                auto own = state_->keeper->start();
                spdlog::info("subnet lease {}: {}", subnet::to_string(own.outcome),
                             own.subnet.to_string());
                return as_lease(own);
            } catch (...) {
                state_->keeper.reset();
                throw;
            }
        });
}

void Cluster::start() {
    if (state_->watcher || !state_->config) return;
    // Peers of the other family than the public IP this node publishes cannot be reached.
    const auto own = own_lease();
    state_->watcher = std::make_unique<subnet::LeaseWatcher>(
        state_->client, *state_->config, state_->options.etcd_prefix,
        own ? std::optional(own->value.public_ip.family()) : std::nullopt,
        [this](const subnet::LeaseUpdate&) {
            if (state_->callbacks.peers_changed) state_->callbacks.peers_changed();
        },
        [](const kv::KvError& error) { spdlog::debug("lease watch: {}", error.what()); });
    // The config is read once at start; a later change is reported, not applied (a new
    // Network or VNI under running pods needs every node restarted together).
    auto seen = [this](std::optional<std::string> value) {
        if (state_->callbacks.config_seen) state_->callbacks.config_seen(std::move(value));
    };
    kv::WatchCallbacks callbacks;
    callbacks.on_snapshot = [seen](kv::Revision, const std::vector<kv::KeyValue>& kvs) {
        seen(kvs.empty() ? std::nullopt : std::optional(kvs.front().value));
    };
    callbacks.on_events = [seen](const std::vector<kv::WatchEvent>& events, kv::Revision) {
        if (events.empty()) return;
        const auto& last = events.back();
        seen(last.type == kv::WatchEvent::Type::Put ? std::optional(last.kv.value) : std::nullopt);
    };
    callbacks.on_error = [](const kv::KvError& error) {
        spdlog::debug("config watch: {}", error.what());
    };
    state_->config_watch = state_->client.watch(subnet::config_key(state_->options.etcd_prefix), {},
                                                std::move(callbacks));
}

void Cluster::stop() {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->stop_requested.notify_all();
}

void Cluster::read_leases(const subnet::LeaseWatcher::Reader& reader, bool take) {
    if (state_->watcher) {
        state_->watcher->read(reader, take);
        return;
    }
    reader({}, {});
}

std::optional<subnet::Lease> Cluster::own_lease() const {
    if (!state_->keeper) return std::nullopt;
    auto own = state_->keeper->current();
    if (!own) return std::nullopt;
    return as_lease(*own);
}

void Cluster::update_value(const subnet::LeaseValue& value) {
    if (state_->keeper) state_->keeper->update(value);
}

void Cluster::leave() {
    // The revoke first: when etcd cannot be reached it throws and the node stays a full
    // member (keep-alive, watch, reconcile).
    if (state_->keeper) state_->keeper->leave();
    state_->watcher.reset();
    state_->config_watch.reset();
    state_->keeper.reset();
}

bool Cluster::pause(std::chrono::milliseconds delay) {
    return state_->pause(delay);
}

void Cluster::reconnect() {
    state_->client.reconnect();
}

std::uint64_t Cluster::lease_losses() const {
    return state_->keeper ? state_->keeper->losses() : 0;
}

bool Cluster::evict(const std::string& node) {
    return !subnet::evict_node(state_->client, state_->options.etcd_prefix, node).empty();
}

bool Cluster::synced() const {
    return state_->watcher && state_->watcher->synced();
}

std::int64_t Cluster::revision() const {
    return state_->watcher ? state_->watcher->revision() : 0;
}

bool Cluster::connected() const {
    return state_->client.connected();
}

std::uint64_t Cluster::reconnects() const {
    return state_->client.reconnects();
}

std::string Cluster::endpoint() const {
    return state_->client.current_endpoint();
}

std::int64_t Cluster::lease_ttl_seconds() const {
    return state_->lease_options.ttl.count();
}

std::vector<InvalidLeaseCount> Cluster::invalid_leases() const {
    std::vector<InvalidLeaseCount> result;
    if (!state_->watcher) return result;
    const auto now = state_->watcher->ignored_now();
    const auto total = state_->watcher->ignored_total();
    for (auto reason : subnet::kIgnoreReasons) {
        InvalidLeaseCount count{std::string(subnet::to_string(reason)), 0, 0};
        if (auto it = now.find(reason); it != now.end()) count.now = it->second;
        if (auto it = total.find(reason); it != total.end()) count.total = it->second;
        if (count.now || count.total) result.push_back(count);
    }
    return result;
}

}  // namespace twill::daemon
