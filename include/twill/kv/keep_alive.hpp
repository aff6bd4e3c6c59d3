#pragma once
// Keeps one etcd lease alive over a LeaseKeepAlive bidirectional stream.
//
// Threading: every LeaseKeepAlive owns one thread. It sends a keep-alive every TTL/3 (TTL as
// etcd last reported it), reconnects with Backoff across endpoints when the stream fails, and
// calls the callbacks from that thread, one at a time; they must not throw. Destroying it stops the
// keep-alive (it does not revoke the lease) and joins the thread; it may be destroyed from inside
// its own callback (then no more callbacks follow).
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "twill/kv/error.hpp"
#include "twill/kv/types.hpp"

namespace twill::kv {

namespace detail {
class Connection;
struct KeepAliveState;
}  // namespace detail

struct KeepAliveCallbacks {
    // etcd renewed the lease to `ttl`. Optional.
    std::function<void(LeaseId id, std::chrono::seconds ttl)> on_renewed{};
    // etcd answered TTL <= 0: the lease expired or was revoked, keys attached to it are gone.
    // The keep-alive ends after this call (no further callbacks).
    std::function<void(LeaseId id)> on_lost{};
    // The stream failed (etcd unreachable, ...); the keep-alive retries on its own. Optional.
    std::function<void(const KvError& error)> on_error{};
};

class LeaseKeepAlive {
  public:
    // Use Client::keep_alive.
    LeaseKeepAlive(std::shared_ptr<detail::Connection> connection, LeaseId id,
                   KeepAliveCallbacks callbacks);
    LeaseKeepAlive(const LeaseKeepAlive&) = delete;
    LeaseKeepAlive& operator=(const LeaseKeepAlive&) = delete;
    ~LeaseKeepAlive();

    LeaseId id() const noexcept;
    // True once etcd reported the lease gone (on_lost was called).
    bool lost() const noexcept;
    // The TTL of the last renewal (0 before the first).
    std::chrono::seconds ttl() const noexcept;

  private:
    std::shared_ptr<detail::KeepAliveState> state_;
    std::thread thread_;
};

}  // namespace twill::kv
