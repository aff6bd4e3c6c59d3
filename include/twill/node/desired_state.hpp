#pragma once
// The node's whole desired state as data: a pure function (no kernel, no etcd) of the
// network config, this node's lease, the valid peer leases, the underlay and the options.
// Everything twill programs is here: devices and their addresses, per-peer routes,
// neighbours, FDB entries and WireGuard peers (keyed by peer subnet), the unreachable route
// for the Network, the nftables table, sysctls, and subnet.json for the plugin.
#include <array>
#include <boost/container/flat_map.hpp>
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

// Every peer's objects (what backend::Backend::peer gives for it), one peer after another in
// the order of DesiredState::peers. Flat: at 10,000 peers, a tree's node and three vectors per
// peer, made and freed on every resync, were a fifth of an idle one.
struct PeerSets {
    reconcile::ObjectSet objects;              // on the overlay device
    reconcile::ObjectSet ipv6_device_objects;  // on the IPv6 overlay device
    reconcile::ObjectSet underlay_objects;     // on the underlay interface
    std::vector<netlink::WireguardPeer> device_peers;
};

// The number of vectors in PeerSets.
inline constexpr std::size_t kPeerSetVectors = 10;

struct PeerState {
    const subnet::Lease* lease = nullptr;  // into NodeInputs::leases
    bool off_link = false;                 // as PeerObjects::off_link
    // Where the peer's objects begin in each vector of PeerSets (in the order they are
    // declared); they end where the next peer's begin.
    std::array<std::uint32_t, kPeerSetVectors> first{};
};

struct Sysctl {
    std::string name;  // "net.ipv4.ip_forward"
    std::string value;
};

struct DesiredState {
    backend::NodeContext context;
    reconcile::DeviceSpec bridge;
    std::optional<std::vector<std::string>> bridge_ports;
    boost::container::flat_map<net::Prefix, PeerState> peers;  // by subnet (its first one)
    PeerSets peer_sets;
    std::vector<netlink::Route> unreachable;           // one per Network (IPv4, IPv6)
    std::optional<firewall::MasqueradeSpec> firewall;  // nullopt: no table (--ip-masq=false)
    std::vector<Sysctl> sysctls;
    cni::NodeSubnet subnet_file;

    // One peer's objects, as the backend gave them. Throws std::out_of_range when `subnet` is
    // no peer's.
    backend::PeerObjects objects_of(const net::Prefix& subnet) const;
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
