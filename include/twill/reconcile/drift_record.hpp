#pragma once
// One rule for drift, for every kind of object twill owns (links, addresses, routes,
// neighbours, FDB entries, WireGuard peers, the nftables table): a change is drift when the
// desired value of the object did not change since the last run that applied it, so the
// kernel must have. A change that follows a new desired value (etcd changed) is not drift.
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "twill/netlink/objects.hpp"
#include "twill/netlink/wireguard.hpp"
#include "twill/reconcile/device_spec.hpp"

namespace twill::reconcile {

// What can be remembered as desired. Objects without a type of their own (the nftables
// table) are remembered by a canonical text.
using DesiredValue = std::variant<netlink::Route, netlink::Neighbour, netlink::FdbEntry,
                                  netlink::WireguardPeer, DeviceSpec, std::string>;

class DriftRecord {
  public:
    // The object under `key` in `scope` was desired as `desired` at the last applied run: a
    // kernel that differs from it drifted.
    template <class T>
    bool unchanged(std::string_view scope, const std::string& key, const T& desired) const {
        const auto* value = find(scope, key);
        if (!value) return false;
        const auto* before = std::get_if<T>(value);
        return before && *before == desired;
    }
    // Whether anything was desired under `key` at the last applied run. An extra object that
    // was not desired then either was added behind twill's back: drift.
    bool was_desired(std::string_view scope, const std::string& key) const {
        return find(scope, key) != nullptr;
    }

    // What a run applied: replaces everything remembered of `scope`.
    void replace(std::string_view scope, std::unordered_map<std::string, DesiredValue> values);
    // The same for a run whose desired set is mostly what is remembered already (a resync):
    // only what differs is written, nothing is copied when nothing changed.
    template <class T, class KeyFn>
    void update(std::string_view scope, const std::vector<T>& values, KeyFn key) {
        auto& remembered = scopes_[std::string(scope)];
        std::size_t kept = 0;
        for (const auto& value : values) {
            auto [it, added] = remembered.try_emplace(key(value), value);
            if (!added) {
                const auto* before = std::get_if<T>(&it->second);
                if (!before || !(*before == value)) it->second = value;
            }
            ++kept;
        }
        // Keys no longer desired (or a desired set with duplicate keys): start over.
        if (remembered.size() != kept) {
            std::unordered_map<std::string, DesiredValue> fresh;
            fresh.reserve(values.size());
            for (const auto& value : values) fresh.try_emplace(key(value), value);
            remembered = std::move(fresh);
        }
    }
    void set(std::string_view scope, const std::string& key, DesiredValue value);
    void erase(std::string_view scope, const std::string& key);
    // Forget a scope (its objects were recreated with their device: nothing there is drift).
    void forget(std::string_view scope);
    void forget_all() { scopes_.clear(); }

  private:
    const DesiredValue* find(std::string_view scope, const std::string& key) const;

    std::unordered_map<std::string, std::unordered_map<std::string, DesiredValue>> scopes_;
};

}  // namespace twill::reconcile
