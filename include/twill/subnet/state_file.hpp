#pragma once
// What a node remembers about its lease across restarts, in `<state-dir>/lease.json`:
// {"node":"n1","subnet":"10.244.3.0/24","etcdLease":7587869125612345}, with "ipv6Subnet" in a
// dual-stack network.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "twill/net/prefix.hpp"

namespace twill::subnet {

struct RememberedLease {
    std::string node;
    net::Prefix subnet;
    std::int64_t etcd_lease = 0;
    std::optional<net::Prefix> ipv6_subnet{};
    friend bool operator==(const RememberedLease&, const RememberedLease&) = default;
};

std::filesystem::path lease_state_path(const std::filesystem::path& state_dir);

// nullopt when there is no file. A file that does not parse is logged and treated as absent
// (the node then leases afresh, which is safe); read failures throw SystemError.
std::optional<RememberedLease> load_remembered_lease(const std::filesystem::path& state_dir);
// Creates `state_dir` if needed and replaces the file atomically.
void save_remembered_lease(const std::filesystem::path& state_dir, const RememberedLease& lease);
void forget_remembered_lease(const std::filesystem::path& state_dir);

}  // namespace twill::subnet
