#include "twill/subnet/lease_table.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "twill/error.hpp"

namespace twill::subnet {

std::string_view to_string(IgnoreReason reason) {
    switch (reason) {
        case IgnoreReason::bad_key:
            return "bad_key";
        case IgnoreReason::outside_range:
            return "outside_range";
        case IgnoreReason::bad_value:
            return "bad_value";
        case IgnoreReason::bad_public_ip:
            return "bad_public_ip";
        case IgnoreReason::bad_backend_data:
            return "bad_backend_data";
        case IgnoreReason::wrong_backend:
            return "wrong_backend";
        case IgnoreReason::overlap:
            return "overlap";
    }
    return "unknown";
}

namespace {

IgnoreReason reason_for_field(std::string_view field) {
    if (field == "PublicIP") return IgnoreReason::bad_public_ip;
    if (field == "BackendType") return IgnoreReason::wrong_backend;
    if (field.starts_with("BackendData")) return IgnoreReason::bad_backend_data;
    return IgnoreReason::bad_value;
}

std::optional<BackendType> declared_backend(std::string_view json) {
    auto object = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (!object.is_object()) return std::nullopt;
    auto type = object.find("BackendType");
    if (type == object.end() || !type->is_string()) return std::nullopt;
    return backend_type_from_string(type->get<std::string>());
}

Rejection wrong_backend(BackendType type, const NetworkConfig& config) {
    return Rejection{IgnoreReason::wrong_backend,
                     "BackendType: " + std::string(to_string(type)) +
                         " but the network's backend is " +
                         std::string(to_string(config.backend_type()))};
}

std::optional<Rejection> check_public_ip(const NetworkConfig& config, const net::Address& ip) {
    if (!ip.is_usable_unicast()) {
        return Rejection{IgnoreReason::bad_public_ip,
                         "PublicIP: " + ip.to_string() + " is not a usable unicast address"};
    }
    const bool in_v6_network = config.ipv6 && config.ipv6->range.network().contains(ip);
    if (config.network().contains(ip) || in_v6_network) {
        return Rejection{IgnoreReason::bad_public_ip,
                         "PublicIP: " + ip.to_string() + " lies inside the pod network"};
    }
    return std::nullopt;
}

std::optional<Rejection> check_backend_data(const LeaseBackendData& data) {
    if (const auto* vxlan = std::get_if<VxlanLeaseData>(&data)) {
        if (!vxlan->vtep_mac.is_unicast()) {
            return Rejection{IgnoreReason::bad_backend_data,
                             "BackendData.VtepMAC: " + vxlan->vtep_mac.to_string() +
                                 " is not a unicast MAC address"};
        }
        return std::nullopt;
    }
    const auto& key = std::get<WireguardLeaseData>(data).public_key;
    if (std::all_of(key.begin(), key.end(), [](std::uint8_t b) { return b == 0; })) {
        return Rejection{IgnoreReason::bad_backend_data, "BackendData.PublicKey: all zero"};
    }
    return std::nullopt;
}

}  // namespace

std::variant<Lease, Rejection> validate_lease(const NetworkConfig& config, std::string_view prefix,
                                              const RawEntry& entry) {
    const auto subnet = parse_subnet_key(prefix, entry.key);
    if (!subnet) {
        return Rejection{IgnoreReason::bad_key,
                         "key is not " + subnets_key_prefix(prefix) + "<address>-<length>"};
    }
    if (!config.range.contains(*subnet)) {
        const auto& range = config.range;
        return Rejection{
            IgnoreReason::outside_range,
            subnet->to_string() + " is not one of Network " + range.network().to_string() + "'s /" +
                std::to_string(range.subnet_len()) + " subnets from " +
                range.min().address().to_string() + " to " + range.max().address().to_string()};
    }
    LeaseValue value;
    try {
        value = decode_lease_value(entry.value);
    } catch (const ParseError& e) {
        // Another backend's lease fails on its BackendData; name the real reason.
        if (auto type = declared_backend(entry.value); type && *type != config.backend_type()) {
            return wrong_backend(*type, config);
        }
        return Rejection{reason_for_field(e.field()), e.what()};
    }
    if (auto rejection = check_public_ip(config, value.public_ip)) return *rejection;
    if (value.backend_type() != config.backend_type()) {
        return wrong_backend(value.backend_type(), config);
    }
    if (auto rejection = check_backend_data(value.backend_data)) return *rejection;
    return Lease{
        *subnet,         std::move(value), entry.key, entry.create_revision, entry.mod_revision,
        entry.etcd_lease};
}

LeaseTable::LeaseTable(NetworkConfig config, std::string prefix)
    : config_(std::move(config)), prefix_(std::move(prefix)) {
    for (auto reason : kIgnoreReasons) total_[reason] = 0;
}

std::vector<LeaseChange> LeaseTable::put(const RawEntry& entry) {
    Before before;
    apply_put(entry, before);
    return settle(before);
}

std::vector<LeaseChange> LeaseTable::erase(std::string_view key) {
    Before before;
    apply_erase(std::string(key), before);
    return settle(before);
}

std::vector<LeaseChange> LeaseTable::apply(const std::vector<Mutation>& batch) {
    Before before;
    for (const auto& mutation : batch) {
        if (mutation.entry)
            apply_put(*mutation.entry, before);
        else
            apply_erase(mutation.key, before);
    }
    return settle(before);
}

void LeaseTable::remember_before(const net::Prefix& subnet, Before& before) const {
    if (before.contains(subnet)) return;
    auto it = winners_.find(subnet);
    before.emplace(subnet, it == winners_.end() ? std::nullopt : std::optional<Lease>(it->second));
}

void LeaseTable::apply_erase(const std::string& key, Before& before) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    if (const auto& lease = it->second.lease) {
        remember_before(lease->subnet, before);
        auto& set = candidates_[lease->subnet];
        set.erase({lease->create_revision, key});
        if (set.empty()) candidates_.erase(lease->subnet);
    }
    entries_.erase(it);
}

void LeaseTable::apply_put(const RawEntry& raw, Before& before) {
    auto existing = entries_.find(raw.key);
    // A relist or a replayed event brings the same version again: nothing to do, and the
    // rejection of that version has been logged and counted already.
    if (existing != entries_.end() && existing->second.raw.mod_revision == raw.mod_revision &&
        existing->second.raw.value == raw.value) {
        return;
    }
    apply_erase(raw.key, before);
    Entry entry{raw, std::nullopt, std::nullopt, false};
    auto result = validate_lease(config_, prefix_, raw);
    if (auto* lease = std::get_if<Lease>(&result)) {
        remember_before(lease->subnet, before);
        candidates_[lease->subnet].insert({lease->create_revision, raw.key});
        entry.lease = std::move(*lease);
    } else {
        auto& rejection = std::get<Rejection>(result);
        spdlog::warn("ignoring subnet lease {} (mod revision {}): {}", raw.key, raw.mod_revision,
                     rejection.message);
        ++total_[rejection.reason];
        entry.rejection = std::move(rejection);
    }
    entries_.insert_or_assign(raw.key, std::move(entry));
}

std::vector<LeaseChange> LeaseTable::settle(const Before& before) {
    std::vector<LeaseChange> changes;
    for (const auto& [subnet, old] : before) {
        std::optional<Lease> now;
        auto candidates = candidates_.find(subnet);
        if (candidates != candidates_.end()) {
            bool first = true;
            for (const auto& [create_revision, key] : candidates->second) {
                auto& entry = entries_.at(key);
                if (first) {
                    now = *entry.lease;
                    first = false;
                    continue;
                }
                if (!entry.overlap_reported) {
                    spdlog::warn(
                        "ignoring subnet lease {} (mod revision {}): {} is leased by {} "
                        "created earlier (create revision {} < {})",
                        key, entry.raw.mod_revision, subnet.to_string(), now->key,
                        now->create_revision, create_revision);
                    ++total_[IgnoreReason::overlap];
                    entry.overlap_reported = true;
                }
            }
        }
        if (now)
            winners_.insert_or_assign(subnet, *now);
        else
            winners_.erase(subnet);
        if (old != now) changes.push_back(LeaseChange{subnet, old, now});
    }
    return changes;
}

std::map<IgnoreReason, std::size_t> LeaseTable::ignored_now() const {
    std::map<IgnoreReason, std::size_t> counts;
    for (auto reason : kIgnoreReasons) counts[reason] = 0;
    for (const auto& [key, entry] : entries_) {
        if (entry.rejection)
            ++counts[entry.rejection->reason];
        else if (winners_.at(entry.lease->subnet).key != key)
            ++counts[IgnoreReason::overlap];
    }
    return counts;
}

std::vector<Lease> peer_leases(const std::map<net::Prefix, Lease>& leases,
                               std::string_view own_node,
                               const std::optional<net::Prefix>& own_subnet) {
    std::vector<Lease> peers;
    for (const auto& [subnet, lease] : leases) {
        if (lease.value.node == own_node) continue;
        if (own_subnet && subnet.overlaps(*own_subnet)) continue;
        peers.push_back(lease);
    }
    return peers;
}

}  // namespace twill::subnet
