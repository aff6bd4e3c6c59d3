#pragma once
// <run-dir>/subnet.json, the node's subnet as twilld publishes it for the plugin:
// {"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.3.1",
//  "bridge":"twill0","mtu":1450}
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"

namespace twill::cni {

struct NodeSubnet {
    net::Prefix network;
    net::Prefix subnet;
    net::Address gateway;
    std::string bridge;
    int mtu = 1500;
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
