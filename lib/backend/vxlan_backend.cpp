#include "twill/backend/vxlan_backend.hpp"

#include <openssl/evp.h>

#include <array>
#include <variant>

#include "twill/error.hpp"

namespace twill::backend {

std::string VxlanBackend::detail() const {
    return "VNI " + std::to_string(config_.vni) + ", port " + std::to_string(config_.port) +
           ", device " + device_name();
}

std::uint32_t VxlanBackend::overhead(net::Family family) const {
    // outer IP (20 / 40) + UDP 8 + VXLAN 8 + inner Ethernet 14
    return family == net::Family::v4 ? 50 : 70;
}

std::string VxlanBackend::device_name() const {
    return "twill." + std::to_string(config_.vni);
}

net::MacAddress VxlanBackend::vtep_mac(const std::string& node, std::uint32_t vni) {
    return derived_mac("twill-vtep:" + node + ":" + std::to_string(vni));
}

subnet::LeaseBackendData VxlanBackend::lease_data(const NodeContext& node) const {
    return subnet::VxlanLeaseData{vtep_mac(node.node, config_.vni)};
}

std::vector<reconcile::DeviceSpec> VxlanBackend::devices(const NodeContext& node) const {
    reconcile::DeviceSpec spec;
    spec.kind = reconcile::DeviceSpec::Kind::vxlan;
    spec.name = device_name();
    netlink::VxlanInfo info;
    info.vni = config_.vni;
    info.port = config_.port;
    info.local = node.underlay.address;
    info.underlay_index = node.underlay.index;
    info.learning = false;
    spec.vxlan = info;
    spec.mtu = node.overlay_mtu;
    spec.mac = vtep_mac(node.node, config_.vni);
    for (const auto& subnet : node.subnets())
        spec.addresses.push_back(net::Prefix::host(subnet.first()));
    return {spec};
}

std::optional<PeerObjects> VxlanBackend::peer(const NodeContext& node,
                                              const subnet::Lease& lease) const {
    const auto* data = std::get_if<subnet::VxlanLeaseData>(&lease.value.backend_data);
    if (!data) return std::nullopt;
    PeerObjects peer;
    // Per subnet (IPv6 too, over this same device): a route via the peer device's address in
    // that subnet, whose neighbour entry is the peer's VTEP MAC.
    for (const auto& subnet : peer_subnets(node, lease)) {
        const auto next_hop = subnet.first();
        netlink::Route route;
        route.destination = subnet;
        route.gateway = next_hop;
        route.protocol = reconcile::twill_route_protocol;
        route.onlink = true;
        peer.objects.routes.push_back(route);
        netlink::Neighbour neighbour;
        neighbour.address = next_hop;
        neighbour.lladdr = data->vtep_mac;
        neighbour.state = netlink::nud_permanent;
        peer.objects.neighbours.push_back(neighbour);
    }
    netlink::FdbEntry fdb;
    fdb.mac = data->vtep_mac;
    fdb.dst = lease.value.public_ip;
    fdb.state = netlink::nud_permanent;
    fdb.flags = netlink::ntf_self;
    peer.objects.fdb.push_back(fdb);
    return peer;
}

}  // namespace twill::backend
