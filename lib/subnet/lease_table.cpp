#include "twill/subnet/lease_table.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

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
    if (field == "PublicIP" || field == "PublicIPv6") return IgnoreReason::bad_public_ip;
    if (field == "BackendType") return IgnoreReason::wrong_backend;
    if (field.starts_with("BackendData") || field.starts_with("BackendV6Data"))
        return IgnoreReason::bad_backend_data;
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

// `field` is "PublicIP" or "PublicIPv6"; `family`, when known, the one it must have.
std::optional<Rejection> check_public_ip(const NetworkConfig& config, const net::Address& ip,
                                         std::optional<net::Family> family,
                                         const std::string& field, const std::string& whose) {
    if (!ip.is_usable_unicast()) {
        return Rejection{IgnoreReason::bad_public_ip,
                         field + ": " + ip.to_string() + " is not a usable unicast address"};
    }
    // A v4-mapped address would be IPv4 traffic through an IPv6 socket: no IPv6 peer, and the
    // VXLAN device of an IPv4 underlay cannot send to it either.
    if (is_v4_mapped(ip)) {
        return Rejection{IgnoreReason::bad_public_ip,
                         field + ": " + ip.to_string() + " is an IPv4-mapped IPv6 address"};
    }
    if (family && ip.family() != *family) {
        return Rejection{IgnoreReason::bad_public_ip, field + ": " + ip.to_string() + " is " +
                                                          family_name(ip.family()) + " but " +
                                                          whose + " is " + family_name(*family)};
    }
    if (config.in_pod_network(ip)) {
        return Rejection{IgnoreReason::bad_public_ip,
                         field + ": " + ip.to_string() + " lies inside the pod network"};
    }
    return std::nullopt;
}

// `field` is "BackendData" or "BackendV6Data".
std::optional<Rejection> check_backend_data(const LeaseBackendData& data,
                                            const std::string& field) {
    if (const auto* vxlan = std::get_if<VxlanLeaseData>(&data)) {
        if (!vxlan->vtep_mac.is_unicast()) {
            return Rejection{IgnoreReason::bad_backend_data,
                             field + ".VtepMAC: " + vxlan->vtep_mac.to_string() +
                                 " is not a unicast MAC address"};
        }
        return std::nullopt;
    }
    const auto* wireguard = std::get_if<WireguardLeaseData>(&data);
    if (!wireguard) return std::nullopt;  // host-gw: nothing to check
    const auto& key = wireguard->public_key;
    if (std::all_of(key.begin(), key.end(), [](std::uint8_t b) { return b == 0; })) {
        return Rejection{IgnoreReason::bad_backend_data, field + ".PublicKey: all zero"};
    }
    return std::nullopt;
}

Rejection outside(const net::Prefix& subnet, const net::SubnetRange& range,
                  const std::string& network_field) {
    return Rejection{IgnoreReason::outside_range,
                     subnet.to_string() + " is not one of " + network_field + " " +
                         range.network().to_string() + "'s /" + std::to_string(range.subnet_len()) +
                         " subnets from " + range.min().address().to_string() + " to " +
                         range.max().address().to_string()};
}

}  // namespace

std::variant<Lease, Rejection> validate_lease(const NetworkConfig& config, std::string_view prefix,
                                              const RawEntry& entry,
                                              std::optional<net::Family> underlay_family) {
    const auto key = parse_subnet_key(prefix, entry.key);
    if (!key) {
        return Rejection{IgnoreReason::bad_key, "key is not " + subnets_key_prefix(prefix) +
                                                    "<address>-<length>[&<IPv6 address>-<length>]"};
    }
    const bool ipv6_only = config.network().address().is_v6();
    if (!config.range.contains(key->subnet)) {
        return outside(key->subnet, config.range, ipv6_only ? "IPv6Network" : "Network");
    }
    // A v4-only lease in a dual-stack network is a peer without IPv6 entries; an IPv6 half in
    // an IPv4-only network is not used.
    std::optional<net::Prefix> ipv6_subnet;
    if (config.ipv6 && key->ipv6_subnet) {
        if (!config.ipv6->range.contains(*key->ipv6_subnet)) {
            return outside(*key->ipv6_subnet, config.ipv6->range, "IPv6Network");
        }
        ipv6_subnet = key->ipv6_subnet;
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
    if (auto rejection = check_public_ip(config, value.public_ip, underlay_family, "PublicIP",
                                         "this node's underlay"))
        return *rejection;
    if (value.public_ipv6) {
        if (auto rejection = check_public_ip(config, *value.public_ipv6, net::Family::v6,
                                             "PublicIPv6", "the field"))
            return *rejection;
    }
    if (value.backend_type() != config.backend_type()) {
        return wrong_backend(value.backend_type(), config);
    }
    if (auto rejection = check_backend_data(value.backend_data, "BackendData")) return *rejection;
    if (value.backend_v6_data) {
        if (auto rejection = check_backend_data(*value.backend_v6_data, "BackendV6Data"))
            return *rejection;
    }
    return Lease{key->subnet,        std::move(value), entry.key,  entry.create_revision,
                 entry.mod_revision, entry.etcd_lease, ipv6_subnet};
}

LeaseTable::LeaseTable(NetworkConfig config, std::string prefix,
                       std::optional<net::Family> underlay_family)
    : config_(std::move(config)), prefix_(std::move(prefix)), underlay_family_(underlay_family) {
    for (auto reason : kIgnoreReasons) total_[reason] = 0;
}

std::vector<LeaseChange> LeaseTable::put(const RawEntry& entry) {
    apply_put(entry);
    return settle();
}

std::vector<LeaseChange> LeaseTable::erase(std::string_view key) {
    apply_erase(std::string(key));
    return settle();
}

std::vector<LeaseChange> LeaseTable::apply(const std::vector<Mutation>& batch) {
    for (const auto& mutation : batch) {
        if (mutation.entry)
            apply_put(*mutation.entry);
        else
            apply_erase(mutation.key);
    }
    return settle();
}

std::vector<LeaseChange> LeaseTable::replace_all(const std::vector<RawEntry>& entries) {
    std::unordered_set<std::string_view> listed;
    listed.reserve(entries.size());
    for (const auto& entry : entries) listed.insert(entry.key);
    std::vector<std::string> gone;
    for (const auto& [key, entry] : entries_) {
        if (!listed.contains(key)) gone.push_back(key);
    }
    for (const auto& key : gone) apply_erase(key);
    for (const auto& entry : entries) apply_put(entry);
    return settle();
}

namespace {

// What a lease claims that no other lease may: its subnets, its VTEP MACs or its WireGuard
// keys. The identities carry no "V6": a MAC of one lease's IPv6 device taken by another
// lease's IPv4 device captures traffic just the same.
struct Claim {
    std::string id;       // the index key: a kind letter, then the text
    IgnoreReason reason;  // what losing it is
    std::string what;     // for the message: "10.244.3.0/24", "BackendData.VtepMAC: ..."
    std::string verb;     // "leased", "announced"
};

std::string subnet_id(const net::Prefix& subnet) {
    const auto bytes = subnet.address().bytes();
    std::string id(1, 's');
    id.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    id.push_back(static_cast<char>(subnet.length()));
    return id;
}

std::vector<Claim> claims_of(const Lease& lease) {
    std::vector<Claim> claims;
    claims.push_back(
        {subnet_id(lease.subnet), IgnoreReason::overlap, lease.subnet.to_string(), "leased"});
    if (lease.ipv6_subnet) {
        claims.push_back({subnet_id(*lease.ipv6_subnet), IgnoreReason::overlap,
                          lease.ipv6_subnet->to_string(), "leased"});
    }
    std::vector<Claim> identities;
    for (const auto* data :
         {&lease.value.backend_data,
          lease.value.backend_v6_data ? &*lease.value.backend_v6_data : nullptr}) {
        if (!data) continue;
        if (const auto* vxlan = std::get_if<VxlanLeaseData>(data)) {
            const auto mac = vxlan->vtep_mac.bytes();
            identities.push_back(
                {"m" + std::string(reinterpret_cast<const char*>(mac.data()), mac.size()),
                 IgnoreReason::duplicate, "BackendData.VtepMAC: " + vxlan->vtep_mac.to_string(),
                 "announced"});
        } else if (const auto* wireguard = std::get_if<WireguardLeaseData>(data)) {
            const auto& key = wireguard->public_key;
            identities.push_back(
                {"k" + std::string(reinterpret_cast<const char*>(key.data()), key.size()),
                 IgnoreReason::duplicate,
                 "BackendData.PublicKey: " + wireguard->public_key_base64(), "announced"});
        }
    }
    // Both devices of one lease may share a key (WireGuard): not a duplicate of itself.
    std::sort(identities.begin(), identities.end(),
              [](const Claim& a, const Claim& b) { return a.what < b.what; });
    identities.erase(std::unique(identities.begin(), identities.end(),
                                 [](const Claim& a, const Claim& b) { return a.id == b.id; }),
                     identities.end());
    for (auto& claim : identities) claims.push_back(std::move(claim));
    return claims;
}

std::string earlier(const Lease& first, std::int64_t create_revision) {
    return " created earlier (create revision " + std::to_string(first.create_revision) +
           " <= " + std::to_string(create_revision) + ")";
}

}  // namespace

bool LeaseTable::apply_erase(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    if (const auto& lease = it->second.lease) {
        const Rank rank{lease->create_revision, &it->first};
        for (const auto& claim : claims_of(*lease)) {
            auto claimants = claimants_.find(claim.id);
            auto& ranks = claimants->second;
            ranks.erase(std::lower_bound(ranks.begin(), ranks.end(), rank));
            dirty_.insert(ranks.begin(), ranks.end());
            if (ranks.empty()) claimants_.erase(claimants);
        }
        dirty_.erase(rank);
        if (it->second.won) set_winner(it->second, false);
    }
    count_ignored(it->second, -1);
    entries_.erase(it);
    return true;
}

bool LeaseTable::apply_put(const RawEntry& raw) {
    auto existing = entries_.find(raw.key);
    // A relist or a replayed event brings the same version again: nothing to do, and the
    // rejection of that version has been logged and counted already.
    const auto value_hash = std::hash<std::string>{}(raw.value);
    if (existing != entries_.end() && existing->second.mod_revision == raw.mod_revision &&
        existing->second.value_hash == value_hash) {
        return false;
    }
    apply_erase(raw.key);
    Entry entry;
    entry.mod_revision = raw.mod_revision;
    entry.value_hash = value_hash;
    auto result = validate_lease(config_, prefix_, raw, underlay_family_);
    if (auto* lease = std::get_if<Lease>(&result)) {
        entry.parked = std::make_unique<Lease>(std::move(*lease));
    } else {
        auto& rejection = std::get<Rejection>(result);
        spdlog::warn("ignoring subnet lease {} (mod revision {}): {}", raw.key, raw.mod_revision,
                     rejection.message);
        ++total_[rejection.reason];
        entry.rejection = std::make_unique<Rejection>(std::move(rejection));
    }
    const auto inserted = entries_.insert_or_assign(raw.key, std::move(entry)).first;
    auto& stored = inserted->second;
    count_ignored(stored, +1);
    stored.lease = stored.parked.get();
    if (stored.lease) {
        // Every lease claiming what it claims is looked at again (it may take a claim from a
        // later one), itself included.
        const Rank rank{stored.lease->create_revision, &inserted->first};
        for (const auto& claim : claims_of(*stored.lease)) {
            auto& ranks = claimants_[claim.id];
            ranks.insert(std::upper_bound(ranks.begin(), ranks.end(), rank), rank);
            dirty_.insert(ranks.begin(), ranks.end());
        }
    }
    return true;
}

// Moves the entry's lease into winners_ or back out of it. A lease taking a subnet from a
// later one parks that one's lease with it first; the later one, decided after it, then loses
// without touching the new winner.
void LeaseTable::set_winner(Entry& entry, bool wins) {
    const auto subnet = entry.lease->subnet;
    const auto key = entry.lease->key;
    auto it = winners_.find(subnet);
    if (!before_.contains(subnet)) {
        before_.emplace(subnet,
                        it == winners_.end() ? std::nullopt : std::optional<Lease>(it->second));
    }
    if (wins) {
        if (it == winners_.end()) {
            it = winners_.emplace(subnet, std::move(*entry.parked)).first;
        } else {
            auto& previous = entries_.at(it->second.key);
            previous.parked = std::make_unique<Lease>(std::move(it->second));
            previous.lease = previous.parked.get();
            it->second = std::move(*entry.parked);
        }
        entry.parked.reset();
        entry.lease = &it->second;
    } else if (it != winners_.end() && it->second.key == key) {
        entry.parked = std::make_unique<Lease>(std::move(it->second));
        entry.lease = entry.parked.get();
        winners_.erase(it);
    }
}

// A lease wins unless a winner before it in precedence claims one of its claims. Deciding the
// dirty leases in that order means every lease before the one at hand is decided already;
// one that changes sides makes those after it on its claims dirty in turn.
void LeaseTable::evaluate(const Rank& rank) {
    auto& entry = entries_.at(*rank.key);
    const auto& lease = *entry.lease;
    const auto claims = claims_of(lease);
    std::optional<Rejection> lost;
    for (const auto& claim : claims) {
        for (const auto& other : claimants_.at(claim.id)) {
            if (!(other < rank)) break;
            const auto& holder = entries_.at(*other.key);
            if (!holder.won) continue;
            lost = Rejection{claim.reason, claim.what + " is " + claim.verb + " by " + *other.key +
                                               earlier(*holder.lease, rank.revision)};
            break;
        }
        if (lost) break;
    }
    const auto bit =
        lost ? static_cast<std::uint8_t>(1u << static_cast<unsigned>(lost->reason)) : 0;
    if (lost && !(entry.reported & bit)) {
        spdlog::warn("ignoring subnet lease {} (mod revision {}): {}", *rank.key,
                     entry.mod_revision, lost->message);
        ++total_[lost->reason];
        entry.reported |= bit;
    }
    const bool wins = !lost;
    count_ignored(entry, -1);
    entry.lost = lost ? std::make_unique<Rejection>(std::move(*lost)) : nullptr;
    count_ignored(entry, +1);
    if (wins == entry.won) return;
    entry.won = wins;
    set_winner(entry, wins);  // moves the lease: `lease` is not used after this
    for (const auto& claim : claims) {
        const auto& ranks = claimants_.at(claim.id);
        dirty_.insert(std::upper_bound(ranks.begin(), ranks.end(), rank), ranks.end());
    }
}

std::vector<LeaseChange> LeaseTable::settle() {
    while (!dirty_.empty()) {
        const auto rank = *dirty_.begin();
        dirty_.erase(dirty_.begin());
        evaluate(rank);
    }
    // The difference to the winners before, ordered by subnet.
    std::vector<LeaseChange> changes;
    for (auto& [subnet, before] : before_) {
        const auto now = winners_.find(subnet);
        std::optional<Lease> after;
        if (now != winners_.end()) after = now->second;
        if (before != after)
            changes.push_back(LeaseChange{subnet, std::move(before), std::move(after)});
    }
    before_.clear();
    return changes;
}

namespace {

std::size_t index_of(IgnoreReason reason) {
    return static_cast<std::size_t>(
        std::find(kIgnoreReasons.begin(), kIgnoreReasons.end(), reason) - kIgnoreReasons.begin());
}

}  // namespace

void LeaseTable::count_ignored(const Entry& entry, int delta) {
    const auto* why = entry.rejection ? entry.rejection.get() : entry.lost.get();
    if (why) ignored_[index_of(why->reason)] += static_cast<std::size_t>(delta);
}

std::map<IgnoreReason, std::size_t> LeaseTable::ignored_now() const {
    std::map<IgnoreReason, std::size_t> counts;
    for (auto reason : kIgnoreReasons) counts[reason] = ignored_[index_of(reason)];
    return counts;
}

}  // namespace twill::subnet
