#pragma once
// Which leases under `<prefix>/subnets/` may be used (DESIGN.md principle 4), and the table of
// valid leases every node computes alike from the same etcd contents.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "twill/subnet/config.hpp"
#include "twill/subnet/lease.hpp"

namespace twill::subnet {

// Why an entry under `<prefix>/subnets/` is not used. The names are metric label values.
enum class IgnoreReason {
    bad_key,           // the key is not `<prefix>/subnets/<address>-<length>`
    outside_range,     // not one of the Network's subnets between SubnetMin and SubnetMax
    bad_value,         // the value is not a lease (not JSON, a field missing or mistyped)
    bad_public_ip,     // PublicIP unparsable, not usable unicast, inside the pod network, or
                       // of the other family than this node's underlay (v4-mapped IPv6 too)
    bad_backend_data,  // VtepMAC not a unicast MAC, PublicKey not a WireGuard key
    wrong_backend,     // BackendType unknown or not the network's backend
    overlap,           // valid, but a lease created earlier holds an overlapping subnet
    duplicate,         // valid, but a lease created earlier announces the same VtepMAC/PublicKey
};
inline constexpr std::array kIgnoreReasons = {
    IgnoreReason::bad_key,       IgnoreReason::outside_range,    IgnoreReason::bad_value,
    IgnoreReason::bad_public_ip, IgnoreReason::bad_backend_data, IgnoreReason::wrong_backend,
    IgnoreReason::overlap,       IgnoreReason::duplicate};
std::string_view to_string(IgnoreReason reason);

// One key-value of etcd as the table needs it (kv-independent, so it is easy to test).
struct RawEntry {
    std::string key;
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t etcd_lease = 0;
};

struct Rejection {
    IgnoreReason reason;
    std::string message;  // names the field and the value, for the log
};

// The lease `entry` holds if it is usable by itself (overlaps and duplicates with other leases
// aside), or why it is not. `underlay_family` is the family of this node's own underlay
// address: a PublicIP of the other family (or a v4-mapped IPv6 one) cannot be reached; nullopt
// (not known) accepts either family.
std::variant<Lease, Rejection> validate_lease(const NetworkConfig& config, std::string_view prefix,
                                              const RawEntry& entry,
                                              std::optional<net::Family> underlay_family);

// A change of the valid lease of one subnet: added (no before), removed (no after) or changed.
struct LeaseChange {
    net::Prefix subnet;
    std::optional<Lease> before;
    std::optional<Lease> after;
};

// The valid leases from a set of raw entries, kept up to date one entry at a time. The leases
// valid by themselves are taken in the order of their create revision (then key); each is used
// unless one taken before it holds an overlapping subnet (overlap) or announces the same
// VtepMAC or WireGuard PublicKey (duplicate). The result depends only on the set of entries,
// never on the order they arrived in, so every node computes the same table; dropping a winner
// promotes the next. A change costs what it touches, not the size of the table: only the
// leases that claim a subnet or an identity the change touched are looked at again (and, when
// one of them wins or loses, those after it on its claims). Each rejected (key, mod revision)
// is logged once (spdlog warn) and counted once per reason. Not thread-safe.
class LeaseTable {
  public:
    // `underlay_family`: as for validate_lease.
    LeaseTable(NetworkConfig config, std::string prefix,
               std::optional<net::Family> underlay_family);

    // A put of `entry`, or the deletion of `key` when `entry` is empty.
    struct Mutation {
        std::string key;
        std::optional<RawEntry> entry;
    };

    // Each returns the changes of the valid leases it caused, ordered by subnet; a batch
    // yields at most one change per subnet (its state before and after the whole batch).
    std::vector<LeaseChange> apply(const std::vector<Mutation>& batch);
    // A (re)list: the table holds exactly `entries` afterwards (the keys missing from them are
    // deleted); versions already held cost nothing.
    std::vector<LeaseChange> replace_all(const std::vector<RawEntry>& entries);
    std::vector<LeaseChange> put(const RawEntry& entry);
    std::vector<LeaseChange> erase(std::string_view key);

    // The valid leases by subnet: the winners of overlaps, rejected entries left out.
    const std::map<net::Prefix, Lease>& leases() const noexcept { return winners_; }
    // Entries ignored right now, by reason (a gauge).
    std::map<IgnoreReason, std::size_t> ignored_now() const;
    // Distinct (key, mod revision) rejections since construction, by reason (a counter).
    const std::map<IgnoreReason, std::uint64_t>& ignored_total() const noexcept { return total_; }
    std::size_t entry_count() const noexcept { return entries_.size(); }

  private:
    // The order of precedence among valid-by-themselves leases: (create revision, key). The
    // key is the entry's own (entries_ never moves its keys); a rank is dropped from every
    // index before its entry goes.
    struct Rank {
        std::int64_t revision = 0;
        const std::string* key = nullptr;
        friend bool operator<(const Rank& a, const Rank& b) {
            return a.revision != b.revision ? a.revision < b.revision : *a.key < *b.key;
        }
        friend bool operator==(const Rank& a, const Rank& b) {
            return a.revision == b.revision && *a.key == *b.key;
        }
    };
    // The valid leases claiming one thing, in order of precedence (mostly one).
    using Claimants = std::vector<Rank>;

    // The value itself is not kept: the lease parsed from it is, and a hash tells a replay.
    // Kept small: thousands of them. What most entries lack (a lease that does not win, a
    // rejection) lives on the heap.
    struct Entry {
        std::int64_t mod_revision = 0;
        std::size_t value_hash = 0;
        // A valid lease is held once: in winners_ while it wins, in `parked` otherwise;
        // `lease` points at it wherever it is (nullptr: not valid by itself).
        std::unique_ptr<Lease> parked;
        const Lease* lease = nullptr;
        std::unique_ptr<Rejection> rejection;
        std::unique_ptr<Rejection> lost;  // valid by itself, but an earlier lease won
        std::uint8_t reported = 0;        // loss reasons logged and counted for this version (bits)
        bool won = false;                 // in winners_
    };

    // Adds `delta` to the gauge of the reason `entry` is ignored for, if it is.
    void count_ignored(const Entry& entry, int delta);

    // True when the entries changed.
    bool apply_put(const RawEntry& entry);
    bool apply_erase(const std::string& key);
    // Decides the dirty leases in order of precedence and returns what that changed.
    std::vector<LeaseChange> settle();
    void evaluate(const Rank& rank);
    void set_winner(Entry& entry, bool wins);

    NetworkConfig config_;
    std::string prefix_;
    std::optional<net::Family> underlay_family_;
    std::unordered_map<std::string, Entry> entries_;
    // Who claims what: each subnet (by family) and each VtepMAC/PublicKey, with the valid
    // leases claiming it in order of precedence. Range membership fixes the prefix length, so
    // two leases overlap only when their subnets are equal (two spellings of one key, such as
    // "-24" and "-024").
    std::unordered_map<std::string, Claimants> claimants_;
    std::set<Rank> dirty_;  // to decide again, in order of precedence
    // The winners before the batch being settled, for each subnet it changed so far.
    std::map<net::Prefix, std::optional<Lease>> before_;
    std::map<net::Prefix, Lease> winners_;
    std::map<IgnoreReason, std::uint64_t> total_;
    // Entries ignored right now, by reason (in the order of kIgnoreReasons), kept as entries
    // change: the gauge is read after every run, and counting thousands of entries each time
    // cost more than the run's own look at the leases.
    std::array<std::size_t, kIgnoreReasons.size()> ignored_{};
};

}  // namespace twill::subnet
