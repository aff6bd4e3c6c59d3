#include "prefix_mirror.hpp"

namespace twill::kv {

std::vector<WatchEvent> PrefixMirror::reset(Revision revision, const std::vector<KeyValue>& kvs) {
    std::map<std::string, KeyValue> next;
    for (const auto& kv : kvs) next.emplace(kv.key, kv);

    std::vector<WatchEvent> difference;
    for (const auto& [key, old_kv] : items_) {
        if (next.contains(key)) continue;
        WatchEvent event;
        event.type = WatchEvent::Type::Delete;
        event.kv.key = key;
        event.kv.mod_revision = revision;
        event.prev_kv = old_kv;
        difference.push_back(std::move(event));
    }
    for (const auto& [key, new_kv] : next) {
        auto old = items_.find(key);
        if (old != items_.end() && old->second.mod_revision == new_kv.mod_revision) continue;
        WatchEvent event;
        event.type = WatchEvent::Type::Put;
        event.kv = new_kv;
        if (old != items_.end()) event.prev_kv = old->second;
        difference.push_back(std::move(event));
    }
    items_ = std::move(next);
    revision_ = revision;
    return difference;
}

void PrefixMirror::apply(const std::vector<WatchEvent>& events, Revision revision) {
    for (const auto& event : events) {
        if (event.type == WatchEvent::Type::Put) {
            items_[event.kv.key] = event.kv;
        } else {
            items_.erase(event.kv.key);
        }
    }
    if (revision > revision_) revision_ = revision;
}

}  // namespace twill::kv
