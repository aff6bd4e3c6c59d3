#include "twill/subnet/watcher.hpp"

#include <spdlog/spdlog.h>

namespace twill::subnet {

namespace {

RawEntry raw_entry(const kv::KeyValue& kv) {
    return RawEntry{kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.lease};
}

std::vector<LeaseTable::Mutation> mutations(const std::vector<kv::WatchEvent>& events) {
    std::vector<LeaseTable::Mutation> batch;
    batch.reserve(events.size());
    for (const auto& event : events) {
        if (event.type == kv::WatchEvent::Type::Put) {
            batch.push_back({event.kv.key, raw_entry(event.kv)});
        } else {
            batch.push_back({event.kv.key, std::nullopt});
        }
    }
    return batch;
}

}  // namespace

LeaseWatcher::LeaseWatcher(kv::Client& client, NetworkConfig config, std::string prefix,
                           std::optional<net::Family> underlay_family, UpdateCallback on_update,
                           ErrorCallback on_error)
    : on_update_(std::move(on_update)), table_(std::move(config), prefix, underlay_family) {
    kv::WatchOptions options;
    options.prefix = true;
    options.start_revision = 0;  // list first, then watch from the revision after the list
    kv::WatchCallbacks callbacks;
    callbacks.on_snapshot = [this](kv::Revision revision, const std::vector<kv::KeyValue>& kvs) {
        on_snapshot(revision, kvs);
    };
    callbacks.on_events = [this](const std::vector<kv::WatchEvent>& events, kv::Revision revision) {
        on_events(events, revision);
    };
    callbacks.on_error = [on_error = std::move(on_error)](const kv::KvError& error) {
        spdlog::debug("watching subnet leases: {}", error.what());
        if (on_error) on_error(error);
    };
    callbacks.on_progress = [this](kv::Revision revision) {
        std::lock_guard lock(mutex_);
        if (revision > revision_) revision_ = revision;
        progressed_.notify_all();
    };
    watch_ = client.watch(subnets_key_prefix(prefix), options, std::move(callbacks));
}

LeaseWatcher::~LeaseWatcher() {
    watch_.reset();
}

void LeaseWatcher::on_snapshot(kv::Revision revision, const std::vector<kv::KeyValue>& kvs) {
    std::vector<LeaseChange> changes;
    {
        std::lock_guard lock(mutex_);
        std::vector<RawEntry> entries;
        entries.reserve(kvs.size());
        for (const auto& kv : kvs) entries.push_back(raw_entry(kv));
        changes = table_.replace_all(entries);
        note(changes);
        revision_ = revision;
        synced_ = true;
    }
    deliver(std::move(changes), revision, /*snapshot=*/true);
}

void LeaseWatcher::on_events(const std::vector<kv::WatchEvent>& events, kv::Revision revision) {
    std::vector<LeaseChange> changes;
    {
        std::lock_guard lock(mutex_);
        changes = table_.apply(mutations(events));
        note(changes);
        if (revision > revision_) revision_ = revision;
    }
    if (changes.empty()) {
        progressed_.notify_all();
        return;
    }
    deliver(std::move(changes), revision, /*snapshot=*/false);
}

void LeaseWatcher::note(const std::vector<LeaseChange>& changes) {
    for (const auto& change : changes) changed_.try_emplace(change.subnet, change.before);
}

void LeaseWatcher::deliver(std::vector<LeaseChange> changes, kv::Revision revision, bool snapshot) {
    progressed_.notify_all();
    if (on_update_) on_update_(LeaseUpdate{std::move(changes), revision, snapshot});
}

std::map<net::Prefix, Lease> LeaseWatcher::leases() const {
    std::lock_guard lock(mutex_);
    return table_.leases();
}

void LeaseWatcher::read(const Reader& reader, bool take) {
    std::lock_guard lock(mutex_);
    Changed changed;
    if (take) changed.swap(changed_);
    reader(table_.leases(), std::move(changed));
}

kv::Revision LeaseWatcher::revision() const {
    std::lock_guard lock(mutex_);
    return revision_;
}

bool LeaseWatcher::synced() const {
    std::lock_guard lock(mutex_);
    return synced_;
}

bool LeaseWatcher::wait_for_revision(kv::Revision revision,
                                     std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return progressed_.wait_for(lock, timeout, [&] { return synced_ && revision_ >= revision; });
}

std::map<IgnoreReason, std::size_t> LeaseWatcher::ignored_now() const {
    std::lock_guard lock(mutex_);
    return table_.ignored_now();
}

std::map<IgnoreReason, std::uint64_t> LeaseWatcher::ignored_total() const {
    std::lock_guard lock(mutex_);
    return table_.ignored_total();
}

bool LeaseWatcher::connected() const {
    return watch_ && watch_->connected();
}

}  // namespace twill::subnet
