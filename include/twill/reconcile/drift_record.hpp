#pragma once
// One rule for drift, for every kind of object twill owns (links, addresses, routes,
// neighbours, FDB entries, WireGuard peers, the nftables table): a change is drift when the
// desired value of the object did not change since the last run that applied it, so the
// kernel must have. A change that follows a new desired value (etcd changed) is not drift.
#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "twill/netlink/objects.hpp"
#include "twill/netlink/wireguard.hpp"
#include "twill/reconcile/device_spec.hpp"

namespace twill::reconcile {

// What is remembered of a desired value: a 64-bit hash of every field, not the object (a
// node with thousands of peers remembers tens of thousands of them). Two values that differ
// hash alike only by chance, and then a change is counted as drift where it was not.
using Fingerprint = std::uint64_t;
Fingerprint fingerprint(const netlink::Route& route);
Fingerprint fingerprint(const netlink::Neighbour& neighbour);
Fingerprint fingerprint(const netlink::FdbEntry& entry);
Fingerprint fingerprint(const netlink::WireguardPeer& peer);
Fingerprint fingerprint(const DeviceSpec& spec);
// Objects without a type of their own (the nftables table, a sysctl, a file) by a canonical
// text.
Fingerprint fingerprint(std::string_view text);
// Folds `next` into `so_far`: the one way fingerprints are combined (fields' blocks into an
// object's, objects' into a set's).
Fingerprint combined(Fingerprint so_far, Fingerprint next);
// A set's digest: its size and its values' fingerprints, in order.
template <class T>
Fingerprint digest(const std::vector<T>& values) {
    Fingerprint so_far = values.size();
    for (const auto& value : values) so_far = combined(so_far, fingerprint(value));
    return so_far;
}

class DriftRecord {
  public:
    // The object under `key` in `scope` was desired as `desired` at the last applied run: a
    // kernel that differs from it drifted.
    template <class T>
    bool unchanged(std::string_view scope, const std::string& key, const T& desired) const {
        const auto* value = find(scope, key);
        return value && *value == fingerprint(desired);
    }
    // Whether anything was desired under `key` at the last applied run. An extra object that
    // was not desired then either was added behind twill's back: drift.
    bool was_desired(std::string_view scope, const std::string& key) const {
        return find(scope, key) != nullptr;
    }

    template <class T>
    void set(std::string_view scope, const std::string& key, const T& value) {
        auto& entry = scopes_[std::string(scope)];
        entry.replaced_with.reset();
        entry.remembered.insert_or_assign(hashed(key), fingerprint(value));
    }
    // What a run applied: everything remembered of `scope` becomes `values` (the first of
    // values with equal keys counts). A resync whose desired set is what is remembered
    // already writes nothing and allocates nothing; one whose desired set is, in the same
    // order, the one the last replace was given, with no set or erase since, does not even
    // look its keys up (an idle resync at 10,000 peers spent a tenth of its time here).
    template <class T, class KeyFn>
    void replace(std::string_view scope, const std::vector<T>& values, KeyFn key) {
        replace(scope, values, key, digest(values));
    }
    // The same, given the set's digest (a caller that has it already).
    template <class T, class KeyFn>
    void replace(std::string_view scope, const std::vector<T>& values, KeyFn key,
                 Fingerprint values_digest) {
        auto& entry = scopes_[std::string(scope)];
        if (entry.replaced_with == values_digest) return;
        entry.replaced_with = values_digest;
        auto& remembered = entry.remembered;
        std::size_t kept = 0;
        for (const auto& value : values) {
            const auto print = fingerprint(value);
            auto [it, added] = remembered.try_emplace(hashed(key(value)), print);
            if (!added) it->second = print;
            ++kept;
        }
        // Keys no longer desired (or a desired set with duplicate keys): start over.
        if (remembered.size() != kept) {
            Remembered fresh;
            fresh.reserve(values.size());
            for (const auto& value : values)
                fresh.try_emplace(hashed(key(value)), fingerprint(value));
            remembered = std::move(fresh);
        }
    }
    void erase(std::string_view scope, const std::string& key);
    // Forget a scope (its objects were recreated with their device: nothing there is drift).
    void forget(std::string_view scope);
    void forget_all() { scopes_.clear(); }

  private:
    // Keys are remembered by a 64-bit hash too, in an open-addressing table: three objects per
    // peer, about 20 bytes each, where a node of a std::unordered_map of two integers costs 32
    // and its bucket 8 more (and a string key 72). Two keys hash alike only by chance, with
    // the same effect as two fingerprints doing so.
    using KeyHash = std::uint64_t;
    using Remembered = absl::flat_hash_map<KeyHash, Fingerprint>;
    static KeyHash hashed(std::string_view key) { return std::hash<std::string_view>{}(key); }
    const Fingerprint* find(std::string_view scope, const std::string& key) const;

    struct Scope {
        Remembered remembered;
        // The digest of the values the last replace was given, while nothing else changed
        // `remembered` since.
        std::optional<Fingerprint> replaced_with;
    };
    std::unordered_map<std::string, Scope> scopes_;
};

}  // namespace twill::reconcile
