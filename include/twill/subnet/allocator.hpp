#pragma once
// Acquiring this node's subnet lease (DESIGN.md "etcd layout"): adopt the node's own key,
// else claim the subnet it held before, else a random free one.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twill/error.hpp"
#include "twill/kv/client.hpp"
#include "twill/subnet/config.hpp"
#include "twill/subnet/lease.hpp"

namespace twill::subnet {

inline constexpr std::string_view kDefaultPrefix = "/twill/network";
inline constexpr std::chrono::seconds kDefaultLeaseTtl{24 * 3600};
inline constexpr std::chrono::seconds kMinLeaseTtl{5};

struct LeaseOptions {
    std::string prefix{kDefaultPrefix};           // --etcd-prefix
    std::chrono::seconds ttl = kDefaultLeaseTtl;  // --subnet-lease-ttl, at least 5 s
    std::filesystem::path state_dir;              // --state-dir (holds lease.json)
};

// How acquire_subnet came by the lease.
enum class AcquireOutcome {
    kept,        // own key under the remembered, live etcd lease: nothing written
    taken_over,  // own key (this node's name) moved to a fresh etcd lease
    reclaimed,   // the remembered subnet was free and is claimed again
    allocated,   // a random free subnet
};
std::string_view to_string(AcquireOutcome outcome);

// This node's lease as held in etcd.
struct OwnLease {
    net::Prefix subnet;  // IPv4, or IPv6 in an IPv6-only network
    std::string key;
    kv::LeaseId etcd_lease = 0;
    kv::Revision mod_revision = 0;  // of the key, as this node last wrote or saw it
    LeaseValue value;
    AcquireOutcome outcome = AcquireOutcome::allocated;
    std::optional<net::Prefix> ipv6_subnet{};  // dual-stack
};

// Every subnet of the range is leased ("network 10.244.0.0/16 is full: all 255 /24 subnets
// leased").
class NetworkFullError : public Error {
  public:
    using Error::Error;
};

// The config at `<prefix>/config`; nullopt when the key does not exist. Throws ParseError
// (field named) when it does not parse, kv errors when etcd cannot be read.
std::optional<NetworkConfig> read_network_config(kv::Client& client, std::string_view prefix);

// Acquires a subnet for `self` (its Node name, public IP and backend data), in this order:
//  1. this node's own key (Node == self.node, in the range; the remembered subnet's first):
//     kept without a write when it is attached to the remembered etcd lease and that lease is
//     alive (its value is rewritten only if `self` changed); otherwise taken over onto a fresh
//     etcd lease in a Txn conditioned on the key's mod revision (a live foreign etcd lease on
//     our own key is logged: if another daemon runs with this node name, its keeper reports
//     the conflict when it sees the takeover);
//  2. the remembered subnet, if no key overlaps it;
//  3. a random free subnet of the range.
// In a dual-stack network the key holds both subnets (`10.244.3.0-24&fd00:…-64`); an own key
// without its IPv6 half (the network just became dual-stack) is replaced by one with it, the
// IPv4 subnet kept, in one Txn.
// Claims are Txns that create the key only if absent, bound to a fresh etcd lease of
// options.ttl; a lost race retries with another subnet. A dual-stack claim is checked after
// it is written: when a key created earlier holds either of its halves (two nodes picked the
// same IPv4 subnet with different IPv6 ones), it is withdrawn and retried. Keys of other node names
// are never touched. Saves the result to `<state_dir>/lease.json`. Throws NetworkFullError,
// ParseError (options.ttl below 5 s, an empty node name), kv errors.
OwnLease acquire_subnet(kv::Client& client, const NetworkConfig& config, const LeaseValue& self,
                        const LeaseOptions& options);

// Deletes the leases of node `node` (netctl evict): every key under `<prefix>/subnets/` whose
// value names it, each in a Txn conditioned on the mod revision read (so a lease the node
// re-created meanwhile stays). Returns the subnets deleted.
std::vector<net::Prefix> evict_node(kv::Client& client, std::string_view prefix,
                                    std::string_view node);

}  // namespace twill::subnet
