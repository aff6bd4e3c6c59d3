#include "twill/subnet/allocator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <set>

#include "twill/subnet/state_file.hpp"

namespace twill::subnet {

std::string_view to_string(AcquireOutcome outcome) {
    switch (outcome) {
        case AcquireOutcome::kept:
            return "kept";
        case AcquireOutcome::taken_over:
            return "taken over";
        case AcquireOutcome::reclaimed:
            return "reclaimed";
        case AcquireOutcome::allocated:
            return "allocated";
    }
    return "unknown";
}

std::optional<NetworkConfig> read_network_config(kv::Client& client, std::string_view prefix) {
    auto kv = client.get(config_key(prefix));
    if (!kv) return std::nullopt;
    return parse_network_config(kv->value);
}

namespace {

// Tries before giving up when every claim loses a race (50 nodes starting at once lose a few).
constexpr int kMaxAttempts = 64;

struct Listing {
    std::vector<kv::KeyValue> kvs;
    // Every subnet a key names, valid or not, of either half: a claim must not overlap any of
    // them, or the older key would win the overlap rule against it.
    std::set<net::Prefix> taken;
};

Listing list_subnets(kv::Client& client, std::string_view prefix) {
    kv::RangeOptions options;
    options.prefix = true;
    Listing listing;
    listing.kvs = client.range(subnets_key_prefix(prefix), options).kvs;
    for (const auto& kv : listing.kvs) {
        if (auto key = parse_subnet_key(prefix, kv.key)) {
            listing.taken.insert(key->subnet);
            if (key->ipv6_subnet) listing.taken.insert(*key->ipv6_subnet);
        }
    }
    return listing;
}

bool overlaps_any(const std::set<net::Prefix>& taken, const net::Prefix& candidate) {
    for (int length = 0; length <= candidate.length(); ++length) {
        if (taken.contains(net::Prefix(candidate.address().masked(length), length))) return true;
    }
    // Keys inside the candidate sort from (its first address, length 0) on.
    auto inside = taken.lower_bound(net::Prefix(candidate.first(), 0));
    return inside != taken.end() && candidate.contains(inside->address());
}

std::optional<net::Prefix> pick_free(const net::SubnetRange& range,
                                     const std::set<net::Prefix>& taken, std::mt19937_64& rng) {
    std::uniform_int_distribution<std::uint64_t> index(0, range.size() - 1);
    // Random probes spread concurrent allocators; a scan settles a nearly full network.
    for (int probe = 0; probe < 16; ++probe) {
        auto candidate = range.at(index(rng));
        if (!overlaps_any(taken, candidate)) return candidate;
    }
    const auto start = index(rng);
    for (std::uint64_t n = 0; n < range.size(); ++n) {
        auto candidate = range.at((start + n) % range.size());
        if (!overlaps_any(taken, candidate)) return candidate;
    }
    return std::nullopt;
}

std::optional<LeaseValue> try_decode(const std::string& value) {
    try {
        return decode_lease_value(value);
    } catch (const ParseError&) {
        return std::nullopt;
    }
}

// This node's own key: in the range, its value naming this node; the remembered subnet's
// first, else the oldest.
const kv::KeyValue* find_own_key(const Listing& listing, const NetworkConfig& config,
                                 std::string_view prefix, std::string_view node,
                                 const std::optional<RememberedLease>& remembered) {
    const kv::KeyValue* found = nullptr;
    for (const auto& kv : listing.kvs) {
        auto key = parse_subnet_key(prefix, kv.key);
        if (!key || !config.range.contains(key->subnet)) continue;
        auto value = try_decode(kv.value);
        if (!value || value->node != node) continue;
        if (remembered && remembered->subnet == key->subnet) return &kv;
        if (!found || kv.create_revision < found->create_revision) found = &kv;
    }
    return found;
}

bool lease_alive(kv::Client& client, kv::LeaseId id) {
    if (id == 0) return false;
    auto status = client.lease_time_to_live(id);
    return status && status->ttl.count() > 0;
}

// Revokes an etcd lease this node granted or remembers and no longer uses, if nothing is
// attached to it; failures only cost the lease its TTL, so they are logged, not thrown.
void release_unused_lease(kv::Client& client, kv::LeaseId id) {
    if (id == 0) return;
    try {
        auto status = client.lease_time_to_live(id, /*keys=*/true);
        if (!status || status->ttl.count() <= 0 || !status->keys.empty()) return;
        client.lease_revoke(id);
    } catch (const kv::LeaseNotFoundError&) {
    } catch (const kv::KvError& e) {
        spdlog::debug("releasing unused etcd lease {:x}: {}", id, e.what());
    }
}

kv::TxnResult conditional_put(kv::Client& client, kv::Compare condition, const std::string& key,
                              const LeaseValue& value, kv::LeaseId lease) {
    kv::Txn txn;
    txn.compare.push_back(std::move(condition));
    kv::PutOptions put;
    put.lease = lease;
    txn.success.push_back(kv::TxnOp::put_kv(key, encode_lease_value(value), put));
    return client.txn(txn);
}

// Whether a key created before `own` (or at the same revision with a smaller key) names
// either of `claimed`'s subnets: then `own` loses the overlap rule.
bool beaten(const Listing& listing, std::string_view prefix, const kv::KeyValue& own,
            const SubnetKey& claimed) {
    for (const auto& kv : listing.kvs) {
        if (kv.key == own.key) continue;
        if (std::pair(kv.create_revision, kv.key) > std::pair(own.create_revision, own.key))
            continue;
        const auto other = parse_subnet_key(prefix, kv.key);
        if (!other) continue;
        if (other->subnet == claimed.subnet) return true;
        if (claimed.ipv6_subnet &&
            (other->ipv6_subnet == claimed.ipv6_subnet || other->subnet == *claimed.ipv6_subnet))
            return true;
    }
    return false;
}

std::string describe_full(const net::SubnetRange& range) {
    return "network " + range.network().to_string() + " is full: all " +
           std::to_string(range.size()) + " /" + std::to_string(range.subnet_len()) +
           " subnets leased";
}

}  // namespace

OwnLease acquire_subnet(kv::Client& client, const NetworkConfig& config, const LeaseValue& self,
                        const LeaseOptions& options) {
    if (options.ttl < kMinLeaseTtl) {
        throw ParseError("subnet-lease-ttl",
                         std::to_string(options.ttl.count()) + "s is below the minimum of 5s");
    }
    if (self.node.empty()) throw ParseError("node-name", "empty");
    auto remembered =
        options.state_dir.empty() ? std::nullopt : load_remembered_lease(options.state_dir);
    if (remembered && remembered->node != self.node) {
        spdlog::warn("{} belongs to node {}, not {}: not using it",
                     lease_state_path(options.state_dir).string(), remembered->node, self.node);
        remembered.reset();
    }

    std::optional<kv::LeaseId> granted;
    auto fresh_lease = [&] {
        if (!granted) granted = client.lease_grant(options.ttl).id;
        return *granted;
    };
    auto finish = [&](OwnLease lease) {
        if (granted && *granted != lease.etcd_lease) release_unused_lease(client, *granted);
        if (remembered && remembered->etcd_lease != lease.etcd_lease) {
            release_unused_lease(client, remembered->etcd_lease);
        }
        if (!options.state_dir.empty()) {
            save_remembered_lease(
                options.state_dir,
                RememberedLease{self.node, lease.subnet, lease.etcd_lease, lease.ipv6_subnet});
        }
        spdlog::info("subnet {}{} for node {} ({}, etcd lease {:x})", lease.subnet.to_string(),
                     lease.ipv6_subnet ? " and " + lease.ipv6_subnet->to_string() : "", self.node,
                     to_string(lease.outcome), lease.etcd_lease);
        return lease;
    };

    try {
        std::mt19937_64 rng(std::random_device{}());
        for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
            const auto listing = list_subnets(client, options.prefix);
            // The IPv6 half a claim gets: `current` when it is one of the range, else the
            // remembered one when free, else a random free one.
            auto choose_v6 = [&](const std::optional<net::Prefix>& current) {
                std::optional<net::Prefix> v6;
                if (!config.ipv6) return v6;
                const auto& range = config.ipv6->range;
                if (current && range.contains(*current)) return current;
                if (remembered && remembered->ipv6_subnet &&
                    range.contains(*remembered->ipv6_subnet) &&
                    !overlaps_any(listing.taken, *remembered->ipv6_subnet)) {
                    return remembered->ipv6_subnet;
                }
                v6 = pick_free(range, listing.taken, rng);
                if (!v6) throw NetworkFullError(describe_full(range));
                return v6;
            };

            if (const auto* own =
                    find_own_key(listing, config, options.prefix, self.node, remembered)) {
                const auto own_key = *parse_subnet_key(options.prefix, own->key);
                const auto v6 = choose_v6(own_key.ipv6_subnet);
                if (v6 != own_key.ipv6_subnet) {
                    // The network became dual-stack (or stopped being): the same IPv4 subnet
                    // under a key with (or without) an IPv6 half, swapped in one Txn.
                    const auto key = subnet_key(options.prefix, own_key.subnet, v6);
                    kv::Txn txn;
                    txn.compare.push_back(kv::Compare::mod_revision(
                        own->key, kv::Compare::Op::Equal, own->mod_revision));
                    txn.compare.push_back(kv::Compare::absent(key));
                    kv::PutOptions put;
                    put.lease = fresh_lease();
                    txn.success.push_back(kv::TxnOp::delete_key(own->key));
                    txn.success.push_back(kv::TxnOp::put_kv(key, encode_lease_value(self), put));
                    const auto result = client.txn(txn);
                    if (!result.succeeded) continue;
                    spdlog::info("node {}: {} replaced by {}", self.node, own->key, key);
                    return finish(OwnLease{own_key.subnet, key, put.lease, result.revision, self,
                                           AcquireOutcome::taken_over, v6});
                }
                OwnLease lease{own_key.subnet,       own->key, own->lease, own->mod_revision, self,
                               AcquireOutcome::kept, v6};
                if (remembered && remembered->subnet == own_key.subnet &&
                    remembered->etcd_lease == own->lease && lease_alive(client, own->lease)) {
                    if (try_decode(own->value) == self) return finish(lease);
                    auto result =
                        conditional_put(client,
                                        kv::Compare::mod_revision(own->key, kv::Compare::Op::Equal,
                                                                  own->mod_revision),
                                        own->key, self, own->lease);
                    if (!result.succeeded) continue;
                    lease.mod_revision = result.revision;
                    return finish(lease);
                }
                if (own->lease != 0 && lease_alive(client, own->lease)) {
                    spdlog::warn(
                        "node {}: taking over {} from live etcd lease {:x} that this "
                        "daemon does not remember (state dir lost, or another twilld "
                        "runs with this node name: a configuration error it will report)",
                        self.node, own->key, own->lease);
                }
                const auto id = fresh_lease();
                auto result = conditional_put(
                    client,
                    kv::Compare::mod_revision(own->key, kv::Compare::Op::Equal, own->mod_revision),
                    own->key, self, id);
                if (!result.succeeded) continue;
                lease.etcd_lease = id;
                lease.mod_revision = result.revision;
                lease.outcome = AcquireOutcome::taken_over;
                return finish(lease);
            }

            std::optional<net::Prefix> candidate;
            auto outcome = AcquireOutcome::allocated;
            if (remembered && config.range.contains(remembered->subnet) &&
                !overlaps_any(listing.taken, remembered->subnet)) {
                candidate = remembered->subnet;
                outcome = AcquireOutcome::reclaimed;
            } else {
                candidate = pick_free(config.range, listing.taken, rng);
            }
            if (!candidate) throw NetworkFullError(describe_full(config.range));
            const auto v6 = choose_v6(std::nullopt);
            const auto key = subnet_key(options.prefix, *candidate, v6);
            const auto id = fresh_lease();
            auto result = conditional_put(client, kv::Compare::absent(key), key, self, id);
            if (!result.succeeded) {
                spdlog::debug("node {}: {} was claimed meanwhile, trying again", self.node, key);
                continue;
            }
            if (v6) {
                // Another node may have claimed one of the halves under another key at the
                // same time: the key created first keeps both.
                const auto after = list_subnets(client, options.prefix);
                const auto mine = std::find_if(after.kvs.begin(), after.kvs.end(),
                                               [&](const auto& kv) { return kv.key == key; });
                if (mine != after.kvs.end() &&
                    beaten(after, options.prefix, *mine, SubnetKey{*candidate, v6})) {
                    kv::Txn withdraw;
                    withdraw.compare.push_back(
                        kv::Compare::mod_revision(key, kv::Compare::Op::Equal, result.revision));
                    withdraw.success.push_back(kv::TxnOp::delete_key(key));
                    client.txn(withdraw);
                    spdlog::debug("node {}: a half of {} was claimed first, trying again",
                                  self.node, key);
                    continue;
                }
            }
            return finish(OwnLease{*candidate, key, id, result.revision, self, outcome, v6});
        }
    } catch (...) {
        if (granted) release_unused_lease(client, *granted);
        throw;
    }
    if (granted) release_unused_lease(client, *granted);
    throw Error("acquire a subnet for node " + self.node + ": every claim lost a race in " +
                std::to_string(kMaxAttempts) + " attempts");
}

std::vector<net::Prefix> evict_node(kv::Client& client, std::string_view prefix,
                                    std::string_view node) {
    std::vector<net::Prefix> evicted;
    for (const auto& kv : list_subnets(client, prefix).kvs) {
        auto value = try_decode(kv.value);
        if (!value || value->node != node) continue;
        kv::Txn txn;
        txn.compare.push_back(
            kv::Compare::mod_revision(kv.key, kv::Compare::Op::Equal, kv.mod_revision));
        txn.success.push_back(kv::TxnOp::delete_key(kv.key));
        if (!client.txn(txn).succeeded) continue;
        spdlog::info("evicted node {}: deleted {}", node, kv.key);
        if (auto subnet = parse_subnet_key(prefix, kv.key)) evicted.push_back(subnet->subnet);
    }
    return evicted;
}

}  // namespace twill::subnet
