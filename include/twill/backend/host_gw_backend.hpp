#pragma once
#include "twill/backend/backend.hpp"

namespace twill::backend {

// host-gw (flannel's): no overlay device and no encapsulation. Per peer, a route to each of
// its subnets via its public address of that family on the underlay interface (proto 137),
// which works only when that address is on a subnet of the interface; a peer that is not is
// reported (PeerObjects::off_link) and gets no route. Pods get the underlay's MTU.
class HostGwBackend final : public Backend {
  public:
    subnet::BackendType type() const override { return subnet::BackendType::host_gw; }
    std::string detail() const override { return "direct routes on the underlay"; }
    std::uint32_t overhead(net::Family) const override { return 0; }
    subnet::LeaseBackendData lease_data(const NodeContext&) const override {
        return subnet::HostGwLeaseData{};
    }
    std::vector<reconcile::DeviceSpec> devices(const NodeContext&) const override { return {}; }
    bool has_device() const override { return false; }
    std::optional<PeerObjects> peer(const NodeContext& node,
                                    const subnet::Lease& lease) const override;
};

}  // namespace twill::backend
