#include "twill/backend/host_gw_backend.hpp"

namespace twill::backend {

std::optional<PeerObjects> HostGwBackend::peer(const NodeContext& node,
                                               const subnet::Lease& lease) const {
    if (!std::holds_alternative<subnet::HostGwLeaseData>(lease.value.backend_data))
        return std::nullopt;
    PeerObjects peer;
    if (auto routes = direct_routes(node, lease))
        peer.underlay_objects.routes = std::move(*routes);
    else
        peer.off_link = true;
    return peer;
}

}  // namespace twill::backend
