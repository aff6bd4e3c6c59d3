#pragma once
#include "twill/backend/backend.hpp"

namespace twill::backend {

// VXLAN (DESIGN.md "Kernel objects"): device twill.<VNI> (nolearning, address
// <subnet network>/32, a MAC derived from the node's name so recreating the device keeps it);
// per peer: route <peer subnet> via <peer subnet network> dev twill.<VNI> onlink proto 137,
// neighbour <peer subnet network> lladdr <VtepMAC> permanent, FDB <VtepMAC> dst <PublicIP>
// self permanent.
class VxlanBackend final : public Backend {
  public:
    explicit VxlanBackend(subnet::VxlanBackend config) : config_(config) {}

    subnet::BackendType type() const override { return subnet::BackendType::vxlan; }
    std::string detail() const override;
    std::uint32_t overhead(net::Family family) const override;
    subnet::LeaseBackendData lease_data(const NodeContext& node) const override;
    std::vector<reconcile::DeviceSpec> devices(const NodeContext& node) const override;
    std::optional<PeerObjects> peer(const NodeContext& node,
                                    const subnet::Lease& lease) const override;

    std::string device_name() const;
    // Stable, locally administered unicast MAC from the node name and VNI.
    static net::MacAddress vtep_mac(const std::string& node, std::uint32_t vni);

  private:
    subnet::VxlanBackend config_;
};

}  // namespace twill::backend
