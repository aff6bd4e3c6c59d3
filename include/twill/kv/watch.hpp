#pragma once
// A watch of one key or prefix that never loses a change.
//
// Threading: every Watch owns one thread. It runs the stream, reconnects with Backoff (across
// endpoints) and calls the callbacks, one at a time, in revision order, from that thread.
// Callbacks must not block for long (the stream waits for them) and must not throw (an
// exception leaving a callback ends the process). Destroying the Watch cancels
// the stream and joins the thread; it may be destroyed from inside its own callback (then the
// thread finishes after the callback returns, without calling any more callbacks).
//
// Continuity: after a broken stream or an etcd restart the watch resumes at the last revision
// it delivered + 1. When etcd has compacted that revision away, the watch relists the key or
// prefix and delivers the complete current state through on_snapshot ("reset"): the consumer
// replaces what it holds by that snapshot (subnet::LeaseTable::replace_all does that and
// yields the difference). So consumer state = last snapshot + the events after it, always.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "twill/kv/error.hpp"
#include "twill/kv/types.hpp"

namespace twill::kv {

namespace detail {
class Connection;
struct WatchState;
}  // namespace detail

struct WatchOptions {
    bool prefix = false;  // watch every key starting with the key
    // 0: list first (on_snapshot with the state at the current revision), then watch from the
    // revision after it. > 0: watch from this revision on, no initial snapshot.
    Revision start_revision = 0;
    bool prev_kv = false;          // events carry the previous key-value pair
    bool progress_notify = false;  // etcd sends on_progress while nothing changes (~10 min)
};

struct WatchCallbacks {
    // The complete state of the key or prefix at `revision`; replaces what the consumer holds.
    // Called first when start_revision is 0, and whenever compaction cut the event history.
    std::function<void(Revision revision, const std::vector<KeyValue>& kvs)> on_snapshot{};
    // Changes in revision order. `revision` is the store revision of the response: every
    // change up to it has been delivered.
    std::function<void(const std::vector<WatchEvent>& events, Revision revision)> on_events{};
    // The stream failed or could not be opened (etcd down, wrong TLS, ...); the watch retries
    // on its own. Optional.
    std::function<void(const KvError& error)> on_error{};
    // No change up to `revision` (progress notification). Optional.
    std::function<void(Revision revision)> on_progress{};
};

class Watch {
  public:
    // Use Client::watch.
    Watch(std::shared_ptr<detail::Connection> connection, std::string key, WatchOptions options,
          WatchCallbacks callbacks);
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch();

    const std::string& key() const noexcept;
    // The revision up to which changes have been delivered (0 before the first delivery).
    Revision revision() const noexcept;
    // True while the stream is established and the watch is created on the server.
    bool connected() const noexcept;

  private:
    std::shared_ptr<detail::WatchState> state_;
    std::thread thread_;
};

}  // namespace twill::kv
