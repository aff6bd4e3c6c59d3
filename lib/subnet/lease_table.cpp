#include "twill/subnet/lease_table.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
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
        case IgnoreReason::duplicate:
            return "duplicate";
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

bool is_v4_mapped(const net::Address& ip) {
    if (!ip.is_v6()) return false;
    const auto bytes = ip.bytes();
    return std::all_of(bytes.begin(), bytes.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
           bytes[10] == 0xff && bytes[11] == 0xff;
}

std::string family_name(net::Family family) {
    return family == net::Family::v4 ? "IPv4" : "IPv6";
}

std::optional<Rejection> check_public_ip(const NetworkConfig& config, const net::Address& ip,
                                         std::optional<net::Family> underlay_family) {
    if (!ip.is_usable_unicast()) {
        return Rejection{IgnoreReason::bad_public_ip,
                         "PublicIP: " + ip.to_string() + " is not a usable unicast address"};
    }
    // A v4-mapped address would be IPv4 traffic through an IPv6 socket: no IPv6 peer, and the
    // VXLAN device of an IPv4 underlay cannot send to it either.
    if (is_v4_mapped(ip)) {
        return Rejection{IgnoreReason::bad_public_ip,
                         "PublicIP: " + ip.to_string() + " is an IPv4-mapped IPv6 address"};
    }
    if (underlay_family && ip.family() != *underlay_family) {
        return Rejection{IgnoreReason::bad_public_ip,
                         "PublicIP: " + ip.to_string() + " is " + family_name(ip.family()) +
                             " but this node's underlay is " + family_name(*underlay_family)};
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
                                              const RawEntry& entry,
                                              std::optional<net::Family> underlay_family) {
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
    if (auto rejection = check_public_ip(config, value.public_ip, underlay_family))
        return *rejection;
    if (value.backend_type() != config.backend_type()) {
        return wrong_backend(value.backend_type(), config);
    }
    if (auto rejection = check_backend_data(value.backend_data)) return *rejection;
    return Lease{
        *subnet,         std::move(value), entry.key, entry.create_revision, entry.mod_revision,
        entry.etcd_lease};
}

LeaseTable::LeaseTable(NetworkConfig config, std::string prefix,
                       std::optional<net::Family> underlay_family)
    : config_(std::move(config)), prefix_(std::move(prefix)), underlay_family_(underlay_family) {
    for (auto reason : kIgnoreReasons) total_[reason] = 0;
}

std::vector<LeaseChange> LeaseTable::put(const RawEntry& entry) {
    if (!apply_put(entry)) return {};
    return settle();
}

std::vector<LeaseChange> LeaseTable::erase(std::string_view key) {
    if (!apply_erase(std::string(key))) return {};
    return settle();
}

std::vector<LeaseChange> LeaseTable::apply(const std::vector<Mutation>& batch) {
    bool changed = false;
    for (const auto& mutation : batch) {
        changed |= mutation.entry ? apply_put(*mutation.entry) : apply_erase(mutation.key);
    }
    if (!changed) return {};
    return settle();
}

bool LeaseTable::apply_erase(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    if (const auto& lease = it->second.lease) precedence_.erase({lease->create_revision, key});
    entries_.erase(it);
    return true;
}

bool LeaseTable::apply_put(const RawEntry& raw) {
    auto existing = entries_.find(raw.key);
    // A relist or a replayed event brings the same version again: nothing to do, and the
    // rejection of that version has been logged and counted already.
    if (existing != entries_.end() && existing->second.raw.mod_revision == raw.mod_revision &&
        existing->second.raw.value == raw.value) {
        return false;
    }
    apply_erase(raw.key);
    Entry entry{raw, std::nullopt, std::nullopt, std::nullopt, {}};
    auto result = validate_lease(config_, prefix_, raw, underlay_family_);
    if (auto* lease = std::get_if<Lease>(&result)) {
        precedence_.insert({lease->create_revision, raw.key});
        entry.lease = std::move(*lease);
    } else {
        auto& rejection = std::get<Rejection>(result);
        spdlog::warn("ignoring subnet lease {} (mod revision {}): {}", raw.key, raw.mod_revision,
                     rejection.message);
        ++total_[rejection.reason];
        entry.rejection = std::move(rejection);
    }
    entries_.insert_or_assign(raw.key, std::move(entry));
    return true;
}

namespace {

// What a lease announces that no other lease may: its VTEP MAC or its WireGuard key.
std::pair<std::string, std::string> identity(const LeaseBackendData& data) {
    if (const auto* vxlan = std::get_if<VxlanLeaseData>(&data))
        return {"BackendData.VtepMAC", vxlan->vtep_mac.to_string()};
    return {"BackendData.PublicKey", std::get<WireguardLeaseData>(data).public_key_base64()};
}

}  // namespace

// Recomputed from all entries: a table of a few thousand leases takes well under a
// millisecond, and a pure function of the entries cannot depend on the order they came in.
std::vector<LeaseChange> LeaseTable::settle() {
    std::map<net::Prefix, const Lease*> won;
    std::map<std::pair<std::string, std::string>, const Lease*> announced;
    for (const auto& [create_revision, key] : precedence_) {
        auto& entry = entries_.at(key);
        const auto& lease = *entry.lease;
        std::optional<Rejection> lost;
        if (const auto winner = won.find(lease.subnet); winner != won.end()) {
            const auto& first = *winner->second;
            lost = Rejection{IgnoreReason::overlap,
                             lease.subnet.to_string() + " is leased by " + first.key +
                                 " created earlier (create revision " +
                                 std::to_string(first.create_revision) +
                                 " <= " + std::to_string(create_revision) + ")"};
        } else if (auto [holder, fresh] =
                       announced.emplace(identity(lease.value.backend_data), &lease);
                   !fresh) {
            const auto& first = *holder->second;
            lost =
                Rejection{IgnoreReason::duplicate,
                          holder->first.first + ": " + holder->first.second + " is announced by " +
                              first.key + " created earlier (create revision " +
                              std::to_string(first.create_revision) +
                              " <= " + std::to_string(create_revision) + ")"};
        } else {
            won.emplace(lease.subnet, &lease);
        }
        if (lost && !entry.reported.contains(lost->reason)) {
            spdlog::warn("ignoring subnet lease {} (mod revision {}): {}", key,
                         entry.raw.mod_revision, lost->message);
            ++total_[lost->reason];
            entry.reported.insert(lost->reason);
        }
        entry.lost = std::move(lost);
    }

    // The difference to the previous winners, ordered by subnet (both maps are).
    std::vector<LeaseChange> changes;
    auto old_it = winners_.begin();
    auto new_it = won.begin();
    while (old_it != winners_.end() || new_it != won.end()) {
        if (new_it == won.end() || (old_it != winners_.end() && old_it->first < new_it->first)) {
            changes.push_back(LeaseChange{old_it->first, old_it->second, std::nullopt});
            old_it = winners_.erase(old_it);
        } else if (old_it == winners_.end() || new_it->first < old_it->first) {
            changes.push_back(LeaseChange{new_it->first, std::nullopt, *new_it->second});
            winners_.emplace_hint(old_it, new_it->first, *new_it->second);
            ++new_it;
        } else {
            if (old_it->second != *new_it->second) {
                changes.push_back(LeaseChange{old_it->first, old_it->second, *new_it->second});
                old_it->second = *new_it->second;
            }
            ++old_it;
            ++new_it;
        }
    }
    return changes;
}

std::map<IgnoreReason, std::size_t> LeaseTable::ignored_now() const {
    std::map<IgnoreReason, std::size_t> counts;
    for (auto reason : kIgnoreReasons) counts[reason] = 0;
    for (const auto& [key, entry] : entries_) {
        if (entry.rejection)
            ++counts[entry.rejection->reason];
        else if (entry.lost)
            ++counts[entry.lost->reason];
    }
    return counts;
}

}  // namespace twill::subnet
