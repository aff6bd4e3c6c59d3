#include "twill/subnet/keeper.hpp"

#include <spdlog/spdlog.h>

#include "twill/subnet/state_file.hpp"

namespace twill::subnet {

std::string_view to_string(KeeperState state) {
    switch (state) {
        case KeeperState::idle:
            return "idle";
        case KeeperState::held:
            return "held";
        case KeeperState::reacquiring:
            return "reacquiring";
        case KeeperState::conflict:
            return "conflict";
        case KeeperState::stopped:
            return "stopped";
    }
    return "unknown";
}

SubnetKeeper::SubnetKeeper(kv::Client& client, NetworkConfig config, LeaseValue self,
                           LeaseOptions options, KeeperCallbacks callbacks)
    : client_(client),
      config_(std::move(config)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      self_(std::move(self)) {}

SubnetKeeper::~SubnetKeeper() {
    stop_thread();
    keep_alive_.reset();
    watch_.reset();
}

OwnLease SubnetKeeper::start() {
    LeaseValue self;
    {
        std::lock_guard lock(mutex_);
        if (state_ != KeeperState::idle) throw Error("subnet keeper: start() called twice");
        self = self_;
    }
    auto lease = acquire_subnet(client_, config_, self, options_);
    install(lease);
    start_thread();
    return lease;
}

void SubnetKeeper::update(LeaseValue self) {
    {
        std::lock_guard lock(mutex_);
        self_ = std::move(self);
    }
    post(Event{Event::Type::publish, 0, {}, {}});
}

void SubnetKeeper::leave() {
    // Pause the keeper thread only: the keep-alive and the watch go on (their events wait in
    // the queue), so a revoke that fails leaves the node exactly as it was.
    stop_thread();
    std::optional<OwnLease> lease;
    {
        std::lock_guard lock(mutex_);
        lease = current_;
    }
    if (lease) {
        try {
            client_.lease_revoke(lease->etcd_lease);
        } catch (const kv::LeaseNotFoundError&) {
            // Expired already: etcd deleted the key with it.
        } catch (...) {
            start_thread();
            throw;
        }
        spdlog::info("left: revoked etcd lease {:x}, {} released", lease->etcd_lease,
                     lease->subnet.to_string());
    }
    keep_alive_.reset();
    watch_.reset();
    if (!options_.state_dir.empty()) forget_remembered_lease(options_.state_dir);
    std::lock_guard lock(mutex_);
    current_.reset();
    state_ = KeeperState::stopped;
}

std::optional<OwnLease> SubnetKeeper::current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

KeeperState SubnetKeeper::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

std::uint64_t SubnetKeeper::losses() const {
    std::lock_guard lock(mutex_);
    return losses_;
}

void SubnetKeeper::start_thread() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = false;
    }
    thread_ = std::thread([this] { run(); });
}

std::optional<std::chrono::steady_clock::time_point> SubnetKeeper::renewal_deadline() const {
    if (state() != KeeperState::held) return std::nullopt;
    return std::chrono::steady_clock::time_point(
               std::chrono::steady_clock::duration(renewed_at_.load())) +
           options_.ttl;
}

void SubnetKeeper::post(Event event) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(event));
    }
    wake_.notify_one();
}

void SubnetKeeper::stop_thread() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void SubnetKeeper::install(const OwnLease& lease) {
    const auto generation = ++generation_;
    kv::KeepAliveCallbacks keep_alive;
    keep_alive.on_lost = [this, generation](kv::LeaseId) {
        post(Event{Event::Type::lease_lost, generation, {}, {}});
    };
    keep_alive.on_error = [](const kv::KvError& e) {
        spdlog::debug("keeping the subnet lease alive: {}", e.what());
    };
    keep_alive.on_renewed = [this](kv::LeaseId, std::chrono::seconds) {
        renewed_at_.store(std::chrono::steady_clock::now().time_since_epoch().count());
        if (callbacks_.on_renewed) callbacks_.on_renewed();
    };
    renewed_at_.store(std::chrono::steady_clock::now().time_since_epoch().count());
    keep_alive_ = client_.keep_alive(lease.etcd_lease, std::move(keep_alive));

    kv::WatchOptions options;
    options.start_revision = lease.mod_revision + 1;
    kv::WatchCallbacks watch;
    watch.on_events = [this, generation](const std::vector<kv::WatchEvent>& events, kv::Revision) {
        post(Event{Event::Type::key_events, generation, events, {}});
    };
    watch.on_snapshot = [this, generation](kv::Revision, const std::vector<kv::KeyValue>& kvs) {
        post(Event{Event::Type::key_snapshot, generation, {}, kvs});
    };
    watch.on_error = [](const kv::KvError& e) {
        spdlog::debug("watching the own subnet key: {}", e.what());
    };
    watch_ = client_.watch(lease.key, options, std::move(watch));

    std::lock_guard lock(mutex_);
    current_ = lease;
    state_ = KeeperState::held;
}

void SubnetKeeper::lose(const std::string& why) {
    keep_alive_.reset();
    watch_.reset();
    ++generation_;
    spdlog::error("subnet lease lost: {}; acquiring again", why);
    {
        std::lock_guard lock(mutex_);
        current_.reset();
        state_ = KeeperState::reacquiring;
        ++losses_;
    }
    if (callbacks_.on_lost) callbacks_.on_lost(why);
}

void SubnetKeeper::handle(const Event& event) {
    if (event.type == Event::Type::publish) {
        publish_pending_ = true;
        return;
    }
    if (event.generation != generation_) return;  // from a keep-alive or watch already replaced
    const auto lease = current();
    if (!lease) return;
    if (event.type == Event::Type::lease_lost) {
        lose("etcd lease " + fmt::format("{:x}", lease->etcd_lease) + " expired or was revoked");
        return;
    }
    std::vector<kv::WatchEvent> events = event.events;
    if (event.type == Event::Type::key_snapshot) {
        kv::WatchEvent now;
        if (event.kvs.empty())
            now.type = kv::WatchEvent::Type::Delete;
        else
            now.kv = event.kvs.front();
        events = {now};
    }
    for (const auto& change : events) {
        if (change.type == kv::WatchEvent::Type::Delete) {
            lose(lease->key + " was deleted (evicted, or its etcd lease expired)");
            return;
        }
        if (change.kv.lease == lease->etcd_lease) {
            std::lock_guard lock(mutex_);
            if (current_) current_->mod_revision = change.kv.mod_revision;
            continue;
        }
        std::optional<LeaseValue> value;
        try {
            value = decode_lease_value(change.kv.value);
        } catch (const ParseError&) {
        }
        if (value && value->node == lease->value.node) {
            const auto message = "another daemon with node name " + value->node + " took over " +
                                 lease->key + " (etcd lease " +
                                 fmt::format("{:x}", change.kv.lease) +
                                 "): two daemons with one node name is a configuration error";
            spdlog::error("{}", message);
            keep_alive_.reset();
            watch_.reset();
            ++generation_;
            {
                std::lock_guard lock(mutex_);
                current_.reset();
                state_ = KeeperState::conflict;
            }
            if (callbacks_.on_conflict) callbacks_.on_conflict(message);
            return;
        }
        lose(lease->key + " was overwritten by another writer");
        return;
    }
}

bool SubnetKeeper::try_reacquire() {
    LeaseValue self;
    {
        std::lock_guard lock(mutex_);
        self = self_;
    }
    publish_pending_ = false;  // the claim writes the latest value
    try {
        auto lease = acquire_subnet(client_, config_, self, options_);
        install(lease);
        backoff_.reset();
        if (callbacks_.on_lease_changed) callbacks_.on_lease_changed(lease);
        return true;
    } catch (const std::exception& e) {
        spdlog::warn("acquiring the subnet lease again: {}", e.what());
        if (callbacks_.on_error) callbacks_.on_error(e.what());
        return false;
    }
}

bool SubnetKeeper::try_publish() {
    LeaseValue self;
    std::optional<OwnLease> lease;
    {
        std::lock_guard lock(mutex_);
        self = self_;
        lease = current_;
    }
    if (!lease) return true;
    if (lease->value == self) {
        publish_pending_ = false;
        return true;
    }
    try {
        kv::Txn txn;
        txn.compare.push_back(
            kv::Compare::mod_revision(lease->key, kv::Compare::Op::Equal, lease->mod_revision));
        kv::PutOptions put;
        put.lease = lease->etcd_lease;
        txn.success.push_back(kv::TxnOp::put_kv(lease->key, encode_lease_value(self), put));
        auto result = client_.txn(txn);
        // A failed compare means the key changed under us: the watch reports what happened
        // and the next attempt works from there.
        if (!result.succeeded) return false;
        std::lock_guard lock(mutex_);
        if (current_ && current_->key == lease->key) {
            current_->value = self;
            current_->mod_revision = result.revision;
        }
        publish_pending_ = false;
        spdlog::info("published new lease value for {}: {}", lease->subnet.to_string(),
                     encode_lease_value(self));
        return true;
    } catch (const kv::KvError& e) {
        spdlog::warn("publishing the lease value of {}: {}", lease->subnet.to_string(), e.what());
        return false;
    }
}

void SubnetKeeper::run() {
    std::unique_lock lock(mutex_);
    std::optional<std::chrono::steady_clock::time_point> retry_at;
    auto ready = [this] { return stopping_ || !queue_.empty(); };
    while (!stopping_) {
        // A local deadline: no renewal for longer than the TTL means etcd may have freed the
        // subnet while this node was cut off, whether or not anything told us.
        lock.unlock();
        auto wake_at = renewal_deadline();
        lock.lock();
        if (retry_at && (!wake_at || *retry_at < *wake_at)) wake_at = retry_at;
        if (wake_at)
            wake_.wait_until(lock, *wake_at, ready);
        else
            wake_.wait(lock, ready);
        if (stopping_) break;
        auto events = std::move(queue_);
        queue_.clear();
        lock.unlock();
        for (const auto& event : events) handle(event);
        if (const auto deadline = renewal_deadline();
            deadline && std::chrono::steady_clock::now() >= *deadline) {
            lose("no keep-alive answer from etcd for longer than the lease TTL (" +
                 std::to_string(options_.ttl.count()) + "s): etcd may have given the subnet away");
        }
        bool retry = false;
        const auto state = this->state();
        if (state == KeeperState::reacquiring)
            retry = !try_reacquire();
        else if (state == KeeperState::held && publish_pending_)
            retry = !try_publish();
        lock.lock();
        // A failed attempt waits its backoff; a loss found by the deadline retries at once.
        if (retry) {
            retry_at = std::chrono::steady_clock::now() + backoff_.next();
        } else {
            retry_at.reset();
        }
    }
}

}  // namespace twill::subnet
