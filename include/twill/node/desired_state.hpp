#pragma once
// The node's whole desired state as data: a pure function (no kernel, no etcd) of the
// network config, this node's lease, the valid peer leases, the underlay and the options.
// Everything twill programs is here: devices and their addresses, per-peer routes,
// neighbours, FDB entries and WireGuard peers (keyed by peer subnet), the unreachable route
// for the Network, the nftables table, sysctls, and subnet.json for the plugin.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twill/backend/backend.hpp"
#include "twill/cni/node_subnet.hpp"
#include "twill/firewall/ruleset.hpp"
#include "twill/netlink/objects.hpp"
#include "twill/reconcile/device_spec.hpp"
#include "twill/subnet/lease.hpp"

namespace twill::node {

inline constexpr const char* kBridge = "twill0";
// The unreachable route for the whole Network sits behind every real route.
inline constexpr std::uint32_t kUnreachableMetric = 65535;

struct NodeInputs {
    std::string node_name;
    net::Prefix network;
    std::optional<net::Prefix> ipv6_network;  // dual-stack
    subnet::Lease own;
    // The valid leases by subnet (this node's own included); must outlive the result.
    const std::map<net::Prefix, subnet::Lease>* leases = nullptr;
    backend::Underlay underlay;
    std::optional<std::uint32_t> mtu;  // --mtu pins the overlay MTU
    bool ip_masq = true;
    // Host ends of the pods' veths (from the plugin's store), to keep on the bridge; nullopt:
    // not looked at in this run.
    std::optional<std::vector<std::string>> bridge_ports;
};

struct PeerState {
    const subnet::Lease* lease = nullptr;  // into NodeInputs::leases
    backend::PeerObjects objects;
};

struct Sysctl {
    std::string name;  // "net.ipv4.ip_forward"
    std::string value;
};

struct DesiredState {
    backend::NodeContext context;
    reconcile::DeviceSpec bridge;
    std::optional<std::vector<std::string>> bridge_ports;
    std::map<net::Prefix, PeerState> peers;            // by peer subnet (its first one)
    std::vector<netlink::Route> unreachable;           // one per Network (IPv4, IPv6)
    std::optional<firewall::MasqueradeSpec> firewall;  // nullopt: no table (--ip-masq=false)
    std::vector<Sysctl> sysctls;
    cni::NodeSubnet subnet_file;
};

// The one definition of a peer: a valid lease of another node on another subnet.
bool is_peer(const subnet::Lease& lease, const net::Prefix& own_subnet, std::string_view node_name);

// Leases the backend cannot use (another backend's) are left out of `peers`.
DesiredState desired_state(const backend::Backend& backend, const NodeInputs& inputs);

// The parts of it a change of one lease needs: the node as the backend sees it, and the
// objects of one lease (nullopt: not a peer, or another backend's).
backend::NodeContext node_context(const backend::Backend& backend, const NodeInputs& inputs);
std::optional<backend::PeerObjects> peer_objects(const backend::Backend& backend,
                                                 const backend::NodeContext& context,
                                                 const subnet::Lease& lease);

}  // namespace twill::node
