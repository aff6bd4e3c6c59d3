#include "twill/node/desired_state.hpp"

#include "twill/reconcile/object_sets.hpp"

namespace twill::node {

bool is_peer(const subnet::Lease& lease, const net::Prefix& own_subnet,
             std::string_view node_name) {
    return lease.subnet != own_subnet && lease.value.node != node_name;
}

std::optional<backend::PeerObjects> peer_objects(const backend::Backend& backend,
                                                 const backend::NodeContext& context,
                                                 const subnet::Lease& lease) {
    if (!is_peer(lease, context.subnet, context.node)) return std::nullopt;
    return backend.peer(context, lease);
}

backend::NodeContext node_context(const backend::Backend& backend, const NodeInputs& inputs) {
    backend::NodeContext context;
    context.node = inputs.node_name;
    context.network = inputs.network;
    context.subnet = inputs.own.subnet;
    // Dual-stack needs both: the Network and this node's IPv6 subnet (a lease taken before the
    // network became dual-stack has none until it is replaced).
    if (inputs.ipv6_network && inputs.own.ipv6_subnet) {
        context.ipv6_network = inputs.ipv6_network;
        context.ipv6_subnet = inputs.own.ipv6_subnet;
    }
    context.underlay = inputs.underlay;
    context.overlay_mtu = inputs.mtu ? *inputs.mtu : backend::overlay_mtu(backend, inputs.underlay);
    return context;
}

DesiredState desired_state(const backend::Backend& backend, const NodeInputs& inputs) {
    DesiredState state;
    state.context = node_context(backend, inputs);
    const auto& context = state.context;

    std::vector<std::pair<net::Prefix, net::Prefix>> families{{context.network, context.subnet}};
    if (context.ipv6_subnet) families.emplace_back(*context.ipv6_network, *context.ipv6_subnet);

    state.bridge.kind = reconcile::DeviceSpec::Kind::bridge;
    state.bridge.name = kBridge;
    state.bridge.mtu = context.overlay_mtu;
    // Fixed: a bridge made anew (deleted by someone) or with other ports keeps the gateway's
    // MAC, so the pods' neighbour entries for their gateway stay right.
    state.bridge.mac = backend::derived_mac("twill-bridge:" + inputs.node_name);
    for (const auto& [network, subnet] : families) {
        state.bridge.addresses.emplace_back(subnet.first().plus(1), subnet.length());
    }
    state.bridge_ports = inputs.bridge_ports;

    if (inputs.leases) {
        // Both maps are ordered by subnet: each peer goes at the end, with no search.
        for (const auto& [subnet, lease] : *inputs.leases) {
            if (auto objects = peer_objects(backend, context, lease)) {
                state.peers.emplace_hint(state.peers.end(), subnet,
                                         PeerState{&lease, std::move(*objects)});
            }
        }
    }

    for (const auto& [network, subnet] : families) {
        netlink::Route unreachable;
        unreachable.destination = network;
        unreachable.type = netlink::RouteType::unreachable;
        unreachable.protocol = reconcile::twill_route_protocol;
        unreachable.priority = kUnreachableMetric;
        state.unreachable.push_back(unreachable);
        state.sysctls.push_back({network.family() == net::Family::v4
                                     ? "net.ipv4.ip_forward"
                                     : "net.ipv6.conf.all.forwarding",
                                 "1"});
    }

    if (inputs.ip_masq) {
        state.firewall = firewall::MasqueradeSpec{context.network, context.subnet};
        if (context.ipv6_subnet) {
            state.firewall->ipv6 =
                firewall::MasqueradeSpec::Family{*context.ipv6_network, *context.ipv6_subnet};
        }
    }
    state.subnet_file =
        cni::NodeSubnet{context.network, context.subnet, context.subnet.first().plus(1), kBridge,
                        static_cast<int>(context.overlay_mtu)};
    if (context.ipv6_subnet) {
        state.subnet_file.ipv6 = cni::FamilySubnet{*context.ipv6_network, *context.ipv6_subnet,
                                                   context.ipv6_subnet->first().plus(1)};
    }
    return state;
}

}  // namespace twill::node
