#pragma once
// <run-dir>/subnet.json, the node's subnet as twilld publishes it for the plugin:
// {"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.3.1",
//  "bridge":"twill0","mtu":1450}
// and in a dual-stack network also
//  "ipv6Network":"fd00:10:244::/48","ipv6Subnet":"fd00:10:244:3::/64",
//  "ipv6Gateway":"fd00:10:244:3::1".
// (In an IPv6-only network network/subnet/gateway are IPv6 and the ipv6* fields absent.)
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"

namespace twill::cni {

// One address family's share: the pod network, this node's subnet of it, and the bridge's
// address in it (the pods' gateway).
struct FamilySubnet {
    net::Prefix network;
    net::Prefix subnet;
    net::Address gateway;
    friend bool operator==(const FamilySubnet&, const FamilySubnet&) = default;
};

struct NodeSubnet {
    net::Prefix network;
    net::Prefix subnet;
    net::Address gateway;
    std::string bridge;
    int mtu = 1500;
    std::optional<FamilySubnet> ipv6{};  // the IPv6 half of a dual-stack network

    // Every family the pods get an address of: the first one, then IPv6 in dual-stack.
    std::vector<FamilySubnet> families() const;
    // The family share holding `address`, if any.
    std::optional<FamilySubnet> family_of(const net::Address& address) const;
    friend bool operator==(const NodeSubnet&, const NodeSubnet&) = default;
};

inline constexpr std::string_view node_subnet_file_name = "subnet.json";

// Throws ParseError naming the field (subnet outside network, gateway outside subnet, ...).
NodeSubnet parse_node_subnet(std::string_view json_text);
std::string to_json_text(const NodeSubnet& subnet);
// nullopt when <run_dir>/subnet.json does not exist (the daemon is not ready).
std::optional<NodeSubnet> read_node_subnet(const std::filesystem::path& run_dir);
// Writes <run_dir>/subnet.json atomically (twilld, tests).
void write_node_subnet(const std::filesystem::path& run_dir, const NodeSubnet& subnet);

}  // namespace twill::cni
