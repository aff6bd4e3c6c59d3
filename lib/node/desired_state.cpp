#include "twill/node/desired_state.hpp"

#include "twill/reconcile/object_sets.hpp"

namespace twill::node {

bool is_peer(const subnet::Lease& lease, const net::Prefix& own_subnet,
             std::string_view node_name) {
    return lease.subnet != own_subnet && lease.value.node != node_name;
}

DesiredState desired_state(const backend::Backend& backend, const NodeInputs& inputs) {
    DesiredState state;
    auto& context = state.context;
    context.node = inputs.node_name;
    context.network = inputs.network;
    context.subnet = inputs.own.subnet;
    context.underlay = inputs.underlay;
    context.overlay_mtu = inputs.mtu ? *inputs.mtu : backend::overlay_mtu(backend, inputs.underlay);

    const auto gateway = context.subnet.first().plus(1);
    state.bridge.kind = reconcile::DeviceSpec::Kind::bridge;
    state.bridge.name = kBridge;
    state.bridge.mtu = context.overlay_mtu;
    // Fixed: a bridge made anew (deleted by someone) or with other ports keeps the gateway's
    // MAC, so the pods' neighbour entries for their gateway stay right.
    state.bridge.mac = backend::derived_mac("twill-bridge:" + inputs.node_name);
    state.bridge.addresses = {net::Prefix(gateway, context.subnet.length())};
    state.bridge_ports = inputs.bridge_ports;

    if (inputs.leases) {
        for (const auto& [subnet, lease] : *inputs.leases) {
            if (!is_peer(lease, context.subnet, context.node)) continue;
            if (auto objects = backend.peer(context, lease)) {
                state.peers.emplace(subnet, PeerState{&lease, std::move(*objects)});
            }
        }
    }

    state.unreachable.destination = context.network;
    state.unreachable.type = netlink::RouteType::unreachable;
    state.unreachable.protocol = reconcile::twill_route_protocol;
    state.unreachable.priority = kUnreachableMetric;

    if (inputs.ip_masq) state.firewall = firewall::MasqueradeSpec{context.network, context.subnet};
    state.sysctls.push_back({context.network.family() == net::Family::v4
                                 ? "net.ipv4.ip_forward"
                                 : "net.ipv6.conf.all.forwarding",
                             "1"});
    state.subnet_file = cni::NodeSubnet{context.network, context.subnet, gateway, kBridge,
                                        static_cast<int>(context.overlay_mtu)};
    return state;
}

}  // namespace twill::node
