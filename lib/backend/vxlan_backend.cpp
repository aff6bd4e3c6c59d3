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

std::string VxlanBackend::ipv6_device_name() const {
    return "twill-v6." + std::to_string(config_.vni);
}

net::MacAddress VxlanBackend::vtep_mac(const std::string& node, std::uint32_t vni) {
    return derived_mac("twill-vtep:" + node + ":" + std::to_string(vni));
}

net::MacAddress VxlanBackend::vtep_mac_v6(const std::string& node, std::uint32_t vni) {
    return derived_mac("twill-vtep-v6:" + node + ":" + std::to_string(vni));
}

subnet::LeaseBackendData VxlanBackend::lease_data(const NodeContext& node) const {
    return subnet::VxlanLeaseData{vtep_mac(node.node, config_.vni)};
}

bool VxlanBackend::has_ipv6_device(const NodeContext& node) {
    return node.ipv6_subnet && node.underlay.address.is_v4() && node.underlay.ipv6_address;
}

std::optional<subnet::LeaseBackendData> VxlanBackend::lease_data_v6(const NodeContext& node) const {
    if (!node.underlay.address.is_v4() || !node.underlay.ipv6_address) return std::nullopt;
    return subnet::VxlanLeaseData{vtep_mac_v6(node.node, config_.vni)};
}

reconcile::DeviceSpec VxlanBackend::device(std::string name, const NodeContext& node,
                                           const net::Address& local, std::uint32_t mtu,
                                           const net::MacAddress& mac) const {
    reconcile::DeviceSpec spec;
    spec.kind = reconcile::DeviceSpec::Kind::vxlan;
    spec.name = std::move(name);
    netlink::VxlanInfo info;
    info.vni = config_.vni;
    info.port = config_.port;
    info.local = local;
    info.underlay_index = node.underlay.index;
    info.learning = false;
    spec.vxlan = info;
    spec.mtu = mtu;
    spec.mac = mac;
    return spec;
}

std::vector<reconcile::DeviceSpec> VxlanBackend::devices(const NodeContext& node) const {
    auto spec = device(device_name(), node, node.underlay.address, node.overlay_mtu,
                       vtep_mac(node.node, config_.vni));
    spec.addresses = {net::Prefix::host(node.subnet.first())};
    if (node.ipv6_subnet && !has_ipv6_device(node))
        spec.addresses.push_back(net::Prefix::host(node.ipv6_subnet->first()));
    return {spec};
}

reconcile::DeviceSpec VxlanBackend::ipv6_device(const NodeContext& node) const {
    auto spec =
        device(ipv6_device_name(), node, *node.underlay.ipv6_address,
               node.underlay.mtu - overhead(net::Family::v6), vtep_mac_v6(node.node, config_.vni));
    spec.addresses = {net::Prefix::host(node.ipv6_subnet->first())};
    return spec;
}

int VxlanBackend::reconcile_ipv6_device(netlink::Handle& handle, const NodeContext& node,
                                        bool dry_run, reconcile::DriftRecord& record,
                                        reconcile::Report& report, bool& recreated) {
    recreated = false;
    if (!has_ipv6_device(node)) {
        // No longer wanted (the IPv6 underlay address went away): its entries go with it.
        if (handle.find_link(ipv6_device_name())) {
            if (dry_run) {
                report.changes.push_back(
                    {"link", reconcile::Action::deleted, ipv6_device_name(), "", false});
            } else {
                reconcile::remove_device(handle, ipv6_device_name(), report);
            }
        }
        return 0;
    }
    auto link = reconcile::reconcile_device(handle, ipv6_device(node), dry_run, report, &recreated,
                                            &record);
    return link ? link->index : 0;
}

void VxlanBackend::remove(netlink::Handle& handle, const NodeContext& node,
                          reconcile::Report& report) {
    Backend::remove(handle, node, report);
    reconcile::remove_device(handle, ipv6_device_name(), report);
}

namespace {

// A route to `subnet` via its first address on the overlay device, whose neighbour entry is
// `mac`.
void add_route_and_neighbour(reconcile::ObjectSet& objects, const net::Prefix& subnet,
                             const net::MacAddress& mac) {
    const auto next_hop = subnet.first();
    netlink::Route route;
    route.destination = subnet;
    route.gateway = next_hop;
    route.protocol = reconcile::twill_route_protocol;
    route.onlink = true;
    objects.routes.push_back(route);
    netlink::Neighbour neighbour;
    neighbour.address = next_hop;
    neighbour.lladdr = mac;
    neighbour.state = netlink::nud_permanent;
    objects.neighbours.push_back(neighbour);
}

netlink::FdbEntry fdb_entry(const net::MacAddress& mac, const net::Address& dst) {
    netlink::FdbEntry fdb;
    fdb.mac = mac;
    fdb.dst = dst;
    fdb.state = netlink::nud_permanent;
    fdb.flags = netlink::ntf_self;
    return fdb;
}

}  // namespace

std::optional<PeerObjects> VxlanBackend::peer(const NodeContext& node,
                                              const subnet::Lease& lease) const {
    const auto* data = std::get_if<subnet::VxlanLeaseData>(&lease.value.backend_data);
    if (!data) return std::nullopt;
    PeerObjects peer;
    if (config_.direct_routing) {
        if (auto routes = direct_routes(node, lease)) {
            peer.underlay_objects.routes = std::move(*routes);
            return peer;
        }
    }
    add_route_and_neighbour(peer.objects, lease.subnet, data->vtep_mac);
    peer.objects.fdb.push_back(fdb_entry(data->vtep_mac, lease.value.public_ip));
    const auto subnets = peer_subnets(node, lease);
    if (subnets.size() < 2) return peer;
    const auto& ipv6_subnet = subnets[1];
    // Both ends with an IPv6 underlay: IPv6 pods ride the IPv6 devices; otherwise the same
    // device (and VTEP) as IPv4.
    const auto* v6_data = lease.value.backend_v6_data
                              ? std::get_if<subnet::VxlanLeaseData>(&*lease.value.backend_v6_data)
                              : nullptr;
    if (has_ipv6_device(node) && lease.value.public_ipv6 && v6_data) {
        add_route_and_neighbour(peer.ipv6_device_objects, ipv6_subnet, v6_data->vtep_mac);
        peer.ipv6_device_objects.fdb.push_back(
            fdb_entry(v6_data->vtep_mac, *lease.value.public_ipv6));
    } else {
        add_route_and_neighbour(peer.objects, ipv6_subnet, data->vtep_mac);
    }
    return peer;
}

}  // namespace twill::backend
