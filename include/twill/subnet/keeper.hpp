#pragma once
// Keeps this node's subnet lease: renews the etcd lease, watches the node's own key, claims
// the lease again when it was lost, publishes value changes, revokes it on leave.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "twill/kv/backoff.hpp"
#include "twill/kv/client.hpp"
#include "twill/subnet/allocator.hpp"

namespace twill::subnet {

enum class KeeperState {
    idle,         // before start()
    held,         // the lease is held and kept alive
    reacquiring,  // the lease or key was lost; acquiring again (retrying while etcd fails)
    conflict,     // another daemon with this node name took the key; the keeper gave up
    stopped,      // after leave() or destruction
};
std::string_view to_string(KeeperState state);

// Called on the keeper's own thread, one at a time; they may call the keeper's const
// functions but not leave() or the destructor.
struct KeeperCallbacks {
    // The lease was acquired again after a loss: a fresh etcd lease, the same subnet when it
    // was still free (outcome reclaimed or taken_over), else a new one (allocated).
    std::function<void(const OwnLease& lease)> on_lease_changed;
    // Another daemon with this node name took the key over: a configuration error. The
    // keeper stops keeping; the daemon should report it and exit.
    std::function<void(const std::string& message)> on_conflict;
    // Acquiring again failed (etcd unreachable, network full); the keeper retries with
    // backoff. Optional.
    std::function<void(const std::string& message)> on_error;
    // The lease was lost (key deleted or overwritten, keep-alive answered TTL 0, or no
    // keep-alive answer for longer than the TTL): the subnet may be another node's by now.
    // current() is nullopt from before this call until on_lease_changed. Optional.
    std::function<void(const std::string& why)> on_lost;
    // etcd renewed the lease. Optional.
    std::function<void()> on_renewed;
};

class SubnetKeeper {
  public:
    SubnetKeeper(kv::Client& client, NetworkConfig config, LeaseValue self, LeaseOptions options,
                 KeeperCallbacks callbacks = {});
    SubnetKeeper(const SubnetKeeper&) = delete;
    SubnetKeeper& operator=(const SubnetKeeper&) = delete;
    // Stops keeping the lease alive without revoking it: a restarted daemon adopts it.
    ~SubnetKeeper();

    // Acquires the lease (acquire_subnet; throws what it throws) and starts keeping it.
    OwnLease start();
    // Publishes a new public IP or backend data. Asynchronous: written on the keeper thread
    // (a Txn conditioned on the key's mod revision), retried while etcd fails.
    void update(LeaseValue self);
    // Leaves for good: revokes the etcd lease (etcd deletes the key), then stops keeping it
    // and removes the state file. Blocking; throws kv errors when etcd cannot be reached, and
    // then changes nothing: the lease is still kept alive and watched.
    void leave();

    // The lease held now; nullopt while reacquiring, after a conflict or leave.
    std::optional<OwnLease> current() const;
    KeeperState state() const;
    // Times the lease was lost since start().
    std::uint64_t losses() const;

  private:
    // What the keep-alive and watch threads (and update()) hand to the keeper thread.
    struct Event {
        enum class Type { lease_lost, key_events, key_snapshot, publish };
        Type type = Type::publish;
        std::uint64_t generation = 0;  // of the keep-alive/watch that sent it
        std::vector<kv::WatchEvent> events;
        std::vector<kv::KeyValue> kvs;
    };
    void post(Event event);
    void run();
    void handle(const Event& event);
    void install(const OwnLease& lease);
    void lose(const std::string& why);
    bool try_reacquire();
    bool try_publish();
    void stop_thread();
    void start_thread();
    std::optional<std::chrono::steady_clock::time_point> renewal_deadline() const;

    kv::Client& client_;
    const NetworkConfig config_;
    const LeaseOptions options_;
    const KeeperCallbacks callbacks_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Event> queue_;
    bool stopping_ = false;
    LeaseValue self_;  // guarded by mutex_ (update() writes it)
    std::optional<OwnLease> current_;
    KeeperState state_ = KeeperState::idle;
    std::uint64_t losses_ = 0;
    // When etcd last renewed (or granted) the lease: past this plus the TTL, etcd may have
    // freed the subnet while this node could not hear it.
    std::atomic<std::chrono::steady_clock::rep> renewed_at_{0};

    // Keeper thread only.
    std::uint64_t generation_ = 0;  // tags events of the current keep-alive and watch
    bool publish_pending_ = false;
    Backoff backoff_;
    std::unique_ptr<kv::LeaseKeepAlive> keep_alive_;
    std::unique_ptr<kv::Watch> watch_;
    std::thread thread_;
};

}  // namespace twill::subnet
