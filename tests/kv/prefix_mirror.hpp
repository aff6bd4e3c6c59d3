#pragma once
// A test model of a watch consumer (the resilience tests compare it with a fresh Range): a
// local copy of a watched key or prefix. Feed it a Watch's snapshots and events; it holds
// the state at revision() and turns a snapshot ("reset") into the difference it makes, as
// put/delete events, so a consumer can handle resets and events with one code path.
// Not thread-safe (use it from the watch's callbacks or under the consumer's own lock).
#include <map>
#include <string>
#include <vector>

#include "twill/kv/types.hpp"

namespace twill::kv {

class PrefixMirror {
  public:
    // Replaces the state by `kvs` at `revision`; returns the events that turn the old state
    // into the new one: puts for keys that are new or whose mod_revision changed, deletes for
    // keys that vanished (kv holds the key, prev_kv the vanished pair).
    std::vector<WatchEvent> reset(Revision revision, const std::vector<KeyValue>& kvs);
    // Applies events in order.
    void apply(const std::vector<WatchEvent>& events, Revision revision);

    const std::map<std::string, KeyValue>& items() const noexcept { return items_; }
    Revision revision() const noexcept { return revision_; }

  private:
    std::map<std::string, KeyValue> items_;
    Revision revision_ = 0;
};

}  // namespace twill::kv
