#pragma once
// The daemon's view of etcd: the network config, this node's lease (acquired, kept alive,
// updated, revoked) and the valid leases of every node. Callbacks arrive on etcd's stream
// threads; the daemon posts them into its loop. Everything else is thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "options.hpp"
#include "twill/subnet/config.hpp"
#include "twill/subnet/lease.hpp"
#include "twill/subnet/watcher.hpp"

namespace twill::kv {
class Client;
}

namespace twill::daemon {

struct ClusterCallbacks {
    std::function<void()> peers_changed;      // the set of valid leases changed
    std::function<void()> own_lease_changed;  // this node's lease was lost, re-taken or moved
    std::function<void()> lease_renewed;
    // Another daemon with this node name took this node's key: a configuration error.
    std::function<void(const std::string& message)> conflict;
    // The value of `<prefix>/config` now (nullopt: deleted), after start() and on each change.
    std::function<void(std::optional<std::string> value)> config_seen;
};

struct InvalidLeaseCount {
    std::string reason;
    std::uint64_t now = 0;
    std::uint64_t total = 0;
};

class Cluster {
  public:
    Cluster(const Options& options, ClusterCallbacks callbacks);
    ~Cluster();

    // Blocking; retry with backoff until they succeed or stop() is called (then throw).
    subnet::NetworkConfig load_config();
    subnet::Lease acquire(const subnet::NetworkConfig& config, const subnet::LeaseValue& value);
    // Starts the keeper and the watcher; callbacks start arriving.
    void start();
    void stop();
    // Sleeps for `delay` unless stop() comes first; false when stopping.
    bool pause(std::chrono::milliseconds delay);

    // The watcher's table, read in place (subnet::LeaseWatcher::read): the one copy of the
    // leases in the daemon.
    void read_leases(const subnet::LeaseWatcher::Reader& reader, bool take);
    std::optional<subnet::Lease> own_lease() const;
    // Publishes a new value (public IP or backend data changed).
    void update_value(const subnet::LeaseValue& value);
    // Revokes this node's lease and forgets it in --state-dir. Throws when etcd cannot be
    // reached, and then changes nothing.
    void leave();
    // Reconnects to etcd at once (this node's address changed).
    void reconnect();
    std::uint64_t lease_losses() const;
    // Deletes the lease of `node`; false when it holds none.
    bool evict(const std::string& node);

    // Whether the peer watcher has delivered its first complete list: before that the set of
    // leases is unknown (not empty), and nothing may be removed because of it.
    bool synced() const;
    std::int64_t revision() const;
    bool connected() const;
    std::uint64_t reconnects() const;
    std::string endpoint() const;
    std::int64_t lease_ttl_seconds() const;
    std::vector<InvalidLeaseCount> invalid_leases() const;

  private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace twill::daemon
