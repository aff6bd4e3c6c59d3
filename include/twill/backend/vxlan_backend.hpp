#pragma once
#include "twill/backend/backend.hpp"

namespace twill::backend {

// VXLAN (DESIGN.md "Kernel objects"): device twill.<VNI> (nolearning, address
// <subnet network>/32, a MAC derived from the node's name so recreating the device keeps it);
// per peer: route <peer subnet> via <peer subnet network> dev twill.<VNI> onlink proto 137,
// neighbour <peer subnet network> lladdr <VtepMAC> permanent, FDB <VtepMAC> dst <PublicIP>
// self permanent. Dual-stack: the IPv6 subnet's entries ride the same device, or, when this
// node and the peer both have an IPv6 underlay (PublicIPv6), a second device
// twill-v6.<VNI> over it (MTU underlay - 70, the peer's BackendV6Data VtepMAC, FDB to its
// PublicIPv6), as flannel does. With DirectRouting, a peer whose public address of each
// routed family is on a subnet of the underlay interface gets direct routes instead (via that
// address on the underlay, proto 137) and no VXLAN entry at all.
class VxlanBackend final : public Backend {
  public:
    explicit VxlanBackend(subnet::VxlanBackend config) : config_(config) {}

    subnet::BackendType type() const override { return subnet::BackendType::vxlan; }
    std::string detail() const override;
    std::uint32_t overhead(net::Family family) const override;
    subnet::LeaseBackendData lease_data(const NodeContext& node) const override;
    std::optional<subnet::LeaseBackendData> lease_data_v6(const NodeContext& node) const override;
    std::vector<reconcile::DeviceSpec> devices(const NodeContext& node) const override;
    int reconcile_ipv6_device(netlink::Handle& handle, const NodeContext& node, bool dry_run,
                              reconcile::DriftRecord& record, reconcile::Report& report,
                              bool& recreated) override;
    void remove(netlink::Handle& handle, const NodeContext& node,
                reconcile::Report& report) override;
    std::optional<PeerObjects> peer(const NodeContext& node,
                                    const subnet::Lease& lease) const override;

    std::string device_name() const;
    std::string ipv6_device_name() const;  // "twill-v6.<VNI>"
    // Stable, locally administered unicast MACs from the node name and VNI.
    static net::MacAddress vtep_mac(const std::string& node, std::uint32_t vni);
    static net::MacAddress vtep_mac_v6(const std::string& node, std::uint32_t vni);

  private:
    // Whether this node carries IPv6 pods over a device of their own.
    static bool has_ipv6_device(const NodeContext& node);
    reconcile::DeviceSpec ipv6_device(const NodeContext& node) const;
    // A VXLAN device of this VNI and port on the node's underlay interface (no addresses).
    reconcile::DeviceSpec device(std::string name, const NodeContext& node,
                                 const net::Address& local, std::uint32_t mtu,
                                 const net::MacAddress& mac) const;

    subnet::VxlanBackend config_;
};

}  // namespace twill::backend
