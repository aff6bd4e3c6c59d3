#pragma once
// The network config at `<prefix>/config`, with flannel's field names and defaults, so a
// flannel user's net-conf.json for the vxlan, wireguard or host-gw backend works unchanged.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "twill/net/prefix.hpp"

namespace twill::subnet {

enum class BackendType { vxlan, wireguard, host_gw };

std::string_view to_string(BackendType type);  // flannel's names: "vxlan", "wireguard", "host-gw"
// The twill backend named `text`; nullopt for anything else.
std::optional<BackendType> backend_type_from_string(std::string_view text);

struct VxlanBackend {
    std::uint32_t vni = 1;
    // flannel's Port 0 means "kernel default", which is 8472 on Linux: twill's contract.
    std::uint16_t port = 8472;
    // flannel's DirectRouting: a peer whose public address is on a subnet of this node's
    // underlay interface is reached by a plain route via that address, without VXLAN.
    bool direct_routing = false;
    friend bool operator==(const VxlanBackend&, const VxlanBackend&) = default;
};

struct WireguardBackend {
    std::uint16_t listen_port = 51820;
    std::uint32_t persistent_keepalive_interval = 0;  // seconds; 0 = off
    friend bool operator==(const WireguardBackend&, const WireguardBackend&) = default;
};

// Direct routes only: every peer must be on a subnet of this node's underlay interface.
struct HostGwBackend {
    friend bool operator==(const HostGwBackend&, const HostGwBackend&) = default;
};

using BackendConfig = std::variant<VxlanBackend, WireguardBackend, HostGwBackend>;
BackendType backend_type(const BackendConfig& backend);

// The IPv6 half of a dual-stack network (EnableIPv6 beside IPv4).
struct IPv6Config {
    net::SubnetRange range;  // IPv6Network, IPv6SubnetLen, IPv6SubnetMin/Max
};

struct NetworkConfig {
    // Network, SubnetLen, SubnetMin, SubnetMax (defaults filled); in an IPv6-only network
    // (EnableIPv4 false, EnableIPv6 true) IPv6Network, IPv6SubnetLen, IPv6SubnetMin/Max.
    net::SubnetRange range;
    BackendConfig backend;
    std::optional<IPv6Config> ipv6;  // present when EnableIPv6 is true
    // Fields accepted for flannel compatibility but without effect in twill
    // ("Backend.GBP"), for the daemon to log.
    std::vector<std::string> ignored_fields;

    const net::Prefix& network() const noexcept { return range.network(); }
    bool ipv6_only() const noexcept { return network().address().is_v6(); }
    // Whether `address` lies in the pod network of either family.
    bool in_pod_network(const net::Address& address) const {
        return network().contains(address) || (ipv6 && ipv6->range.network().contains(address));
    }
    BackendType backend_type() const { return subnet::backend_type(backend); }
};

// Parses and validates the JSON of `<prefix>/config`. Throws ParseError naming the field
// ("SubnetLen", "Backend.Type", ...). Defaults follow flannel: SubnetLen 24 (or Network's
// length + 2 for networks smaller than /22; a Network smaller than /28 is refused), SubnetMin
// the second subnet, SubnetMax the last; no Backend (or no Backend.Type) means vxlan with VNI 1
// and Port 8472; wireguard listens on 51820. An IPv4 SubnetLen of 31 or 32 is refused: it
// leaves no pod address beside the gateway.
NetworkConfig parse_network_config(std::string_view json);

}  // namespace twill::subnet
