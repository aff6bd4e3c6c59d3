#pragma once
// A backend turns (network config, this node, valid peer leases) into the kernel objects that
// carry traffic between nodes. Backends differ only here; the bridge, subnet.json, the
// reconciler loop, netctl and metrics are common (flannel's pkg/backend shape).
#include <boost/container/static_vector.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"
#include "twill/netlink/wireguard.hpp"
#include "twill/reconcile/device_reconciler.hpp"
#include "twill/reconcile/drift_record.hpp"
#include "twill/reconcile/object_sets.hpp"
#include "twill/subnet/config.hpp"
#include "twill/subnet/lease.hpp"

namespace twill::backend {

// The interface traffic between nodes leaves by.
struct Underlay {
    int index = 0;
    std::string name;
    net::Address address;
    std::uint32_t mtu = 1500;
    // An IPv6 address of the same interface beside an IPv4 `address` (dual-stack: the IPv6
    // overlay device's local address).
    std::optional<net::Address> ipv6_address{};
    // The interface's addresses with their prefix lengths (both families): a peer whose
    // public address lies on one of their subnets is on-link, reachable by a direct route
    // (DirectRouting, host-gw).
    std::vector<net::Prefix> prefixes{};
};

struct NodeContext {
    std::string node;
    net::Prefix network;  // the pod Network
    net::Prefix subnet;   // this node's lease
    Underlay underlay;
    std::uint32_t overlay_mtu = 1450;
    // Dual-stack: the IPv6 Network and this node's IPv6 subnet.
    std::optional<net::Prefix> ipv6_network{};
    std::optional<net::Prefix> ipv6_subnet{};

    // This node's subnets: the first family's, then the IPv6 one in dual-stack.
    std::vector<net::Prefix> subnets() const {
        std::vector<net::Prefix> result{subnet};
        if (ipv6_subnet) result.push_back(*ipv6_subnet);
        return result;
    }
};

// The subnets of a peer's lease this node routes: its IPv6 one only when this node is
// dual-stack too. At most two, kept in place: every resync asks this of every peer.
using PeerSubnets = boost::container::static_vector<net::Prefix, 2>;
PeerSubnets peer_subnets(const NodeContext& node, const subnet::Lease& lease);

// One peer's share of the node's desired state.
struct PeerObjects {
    // Routes, neighbours and FDB entries on the overlay device. Their device index is 0: the
    // node reconciler binds them to the device once it exists.
    reconcile::ObjectSet objects;
    // State outside rtnetlink kept per peer (WireGuard: the device's peer).
    std::optional<netlink::WireguardPeer> device_peer;
    // Routes, neighbours and FDB entries on the IPv6 overlay device (VXLAN over an IPv6
    // underlay in a dual-stack network), bound to it likewise.
    reconcile::ObjectSet ipv6_device_objects{};
    // Direct routes to the peer's subnets via its public addresses on the underlay interface
    // (DirectRouting, host-gw), bound to the underlay likewise. No neighbour or FDB entry.
    reconcile::ObjectSet underlay_objects{};
    // host-gw: the peer's public address is on no subnet of the underlay interface, so no
    // route can reach it (reported, never guessed).
    bool off_link = false;
};

// The direct routes to all of a peer's routed subnets, each via the public address of its
// family; nullopt when one of them is not on-link (then the peer is not reached directly).
std::optional<std::vector<netlink::Route>> direct_routes(const NodeContext& node,
                                                         const subnet::Lease& lease);

// Where a backend may keep files and which implementation it should pick (WireGuard).
struct BackendEnvironment {
    std::filesystem::path state_dir;      // --state-dir: keys kept across restarts
    std::filesystem::path run_dir;        // --run-dir: sockets, helper processes' files
    std::string wireguard_impl = "auto";  // auto | kernel | userspace
};

class Backend {
  public:
    virtual ~Backend() = default;

    virtual subnet::BackendType type() const = 0;
    // For `netctl status`: "VNI 1, port 8472".
    virtual std::string detail() const = 0;
    // Bytes of encapsulation per packet over an underlay of `family`.
    virtual std::uint32_t overhead(net::Family family) const = 0;
    // What this node publishes in its lease's BackendData.
    virtual subnet::LeaseBackendData lease_data(const NodeContext& node) const = 0;
    // What it publishes in BackendV6Data: the IPv6 overlay device's data, when the node has
    // one (a dual-stack network, an IPv6 underlay address beside the IPv4 one). Default: none.
    virtual std::optional<subnet::LeaseBackendData> lease_data_v6(const NodeContext& node) const;
    // The overlay device(s) this backend owns, as plain device specs (VXLAN). A backend whose
    // device needs more than a spec (WireGuard) overrides reconcile_device instead.
    virtual std::vector<reconcile::DeviceSpec> devices(const NodeContext& node) const = 0;
    // Whether the backend has an overlay device at all (host-gw has none: the node is ready
    // without one).
    virtual bool has_device() const { return true; }
    // Makes the overlay device match and returns its index (0 when it does not exist, in
    // dry-run mode). `recreated` is set when it was made anew. Drift follows `record` (scope
    // "link"). Default: reconcile devices().
    virtual int reconcile_device(netlink::Handle& handle, const NodeContext& node, bool dry_run,
                                 reconcile::DriftRecord& record, reconcile::Report& report,
                                 bool& recreated);
    // The per-peer kernel objects for `lease` (a valid lease of another node); nullopt when the
    // lease announces another backend. Pure: no kernel, no etcd.
    virtual std::optional<PeerObjects> peer(const NodeContext& node,
                                            const subnet::Lease& lease) const = 0;
    // Makes the IPv6 overlay device match (made, or removed when no longer wanted) and returns
    // its index (0: none). Default: none.
    virtual int reconcile_ipv6_device(netlink::Handle& handle, const NodeContext& node,
                                      bool dry_run, reconcile::DriftRecord& record,
                                      reconcile::Report& report, bool& recreated);
    // Makes the device-level peer state (PeerObjects::device_peer) match `desired`: diffed and
    // applied like everything else, drift per `record` (scope "wireguard-peer"). Default:
    // nothing (VXLAN keeps none).
    virtual void reconcile_peers(const NodeContext& node,
                                 const std::vector<netlink::WireguardPeer>& desired, bool dry_run,
                                 reconcile::DriftRecord& record, reconcile::Report& report);
    // A change of some peers' leases: sets `set` and removes `removed` from the device-level
    // peer state without reading it, recording both in `record`. Default: nothing.
    virtual void update_peers(const std::vector<netlink::WireguardPeer>& set,
                              const std::vector<netlink::WireguardPeer>& removed,
                              reconcile::DriftRecord& record, reconcile::Report& report);
    // Leave: removes the overlay device(s) and anything the backend started.
    virtual void remove(netlink::Handle& handle, const NodeContext& node,
                        reconcile::Report& report);
};

std::unique_ptr<Backend> make_backend(const subnet::NetworkConfig& config,
                                      const BackendEnvironment& environment);

// A stable, locally administered unicast MAC from `seed` (SHA-256): a device made anew keeps
// its address, so neighbours' caches of it stay right.
net::MacAddress derived_mac(const std::string& seed);

// The overlay MTU for an underlay MTU: underlay minus the backend's encapsulation overhead.
std::uint32_t overlay_mtu(const Backend& backend, const Underlay& underlay);

}  // namespace twill::backend
