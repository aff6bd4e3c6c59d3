#pragma once
// Every node's valid lease, kept current from a list plus a watch of `<prefix>/subnets/`.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "twill/kv/client.hpp"
#include "twill/subnet/lease_table.hpp"

namespace twill::subnet {

// One delivery of the watcher.
struct LeaseUpdate {
    std::vector<LeaseChange> changes;  // ordered by subnet; may be empty for a snapshot
    kv::Revision revision = 0;         // the map reflects every change up to this revision
    bool snapshot = false;  // from a (re)list: the first one, or a relist after compaction
};

// A consistent, revisioned map subnet -> valid lease (validation and the overlap rule as in
// LeaseTable). It starts with a Range of the prefix and watches from the revision after it;
// after a broken stream or an etcd restart the watch resumes where it was, and when that
// revision was compacted it relists and delivers the difference (kv::Watch,
// LeaseTable::replace_all), so no change is lost.
//
// Threading: `on_update` runs on the kv watch's thread, one call at a time, in revision order,
// after the map has been updated (leases() already shows the change). It is called for every
// snapshot (the first one even if empty, so a consumer knows the initial list is complete)
// and for every event batch that changed a valid lease. It must not block for long (post the
// update to your own loop) and must not destroy the watcher. Every other member function is
// thread-safe.
class LeaseWatcher {
  public:
    using UpdateCallback = std::function<void(const LeaseUpdate& update)>;
    using ErrorCallback = std::function<void(const kv::KvError& error)>;

    // `underlay_family`: the family of this node's underlay address (see validate_lease).
    LeaseWatcher(kv::Client& client, NetworkConfig config, std::string prefix,
                 std::optional<net::Family> underlay_family, UpdateCallback on_update,
                 ErrorCallback on_error = {});
    LeaseWatcher(const LeaseWatcher&) = delete;
    LeaseWatcher& operator=(const LeaseWatcher&) = delete;
    ~LeaseWatcher();

    // A copy of the valid leases (tests, tools; the daemon reads them in place with read()).
    std::map<net::Prefix, Lease> leases() const;
    // Per subnet whose valid lease changed since the previous take: the lease it had then
    // (nullopt: none). The lease it has now is in the table.
    using Changed = std::map<net::Prefix, std::optional<Lease>>;
    using Reader = std::function<void(const std::map<net::Prefix, Lease>& leases, Changed changed)>;
    // Calls `reader` with the table locked: the valid leases in place (keep no reference past
    // the call) and, with `take`, what changed since the previous take (which that forgets);
    // without, `changed` is empty. The reader must not call back into the watcher.
    void read(const Reader& reader, bool take);
    // The revision the map reflects (0 before the first snapshot).
    kv::Revision revision() const;
    bool synced() const;
    // Waits until the map reflects `revision` (or, with 0, the first snapshot); false on
    // timeout.
    bool wait_for_revision(kv::Revision revision, std::chrono::milliseconds timeout) const;
    std::map<IgnoreReason, std::size_t> ignored_now() const;
    std::map<IgnoreReason, std::uint64_t> ignored_total() const;
    // Whether the watch stream is established right now (for status and metrics).
    bool connected() const;

  private:
    void on_snapshot(kv::Revision revision, const std::vector<kv::KeyValue>& kvs);
    void on_events(const std::vector<kv::WatchEvent>& events, kv::Revision revision);
    void note(const std::vector<LeaseChange>& changes);  // into changed_, under mutex_
    void deliver(std::vector<LeaseChange> changes, kv::Revision revision, bool snapshot);

    UpdateCallback on_update_;
    mutable std::mutex mutex_;
    mutable std::condition_variable progressed_;
    LeaseTable table_;
    Changed changed_;  // since the previous take
    kv::Revision revision_ = 0;
    bool synced_ = false;
    std::unique_ptr<kv::Watch> watch_;  // last: stopped first
};

}  // namespace twill::subnet
