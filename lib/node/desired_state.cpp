#include "twill/node/desired_state.hpp"

#include <iterator>
#include <stdexcept>

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

namespace {

// Calls fn(i, set, field) with the i-th vector of PeerSets and the same field of one peer's
// objects, in the order the vectors are declared.
template <class Sets, class Peer, class Fn>
void each_vector(Sets& sets, Peer& peer, Fn fn) {
    std::size_t i = 0;
    auto set = [&](auto& to, auto& from) {
        fn(i++, to.routes, from.routes);
        fn(i++, to.neighbours, from.neighbours);
        fn(i++, to.fdb, from.fdb);
    };
    set(sets.objects, peer.objects);
    set(sets.ipv6_device_objects, peer.ipv6_device_objects);
    set(sets.underlay_objects, peer.underlay_objects);
    fn(i++, sets.device_peers, peer.device_peer);
}

template <class T>
void append(std::vector<T>& to, std::vector<T>& from) {
    to.insert(to.end(), from.begin(), from.end());
}
template <class T>
void append(std::vector<T>& to, std::optional<T>& from) {
    if (from) to.push_back(std::move(*from));
}

template <class T>
void take(const std::vector<T>& from, std::size_t first, std::size_t end, std::vector<T>& to) {
    to.assign(from.begin() + static_cast<std::ptrdiff_t>(first),
              from.begin() + static_cast<std::ptrdiff_t>(end));
}
template <class T>
void take(const std::vector<T>& from, std::size_t first, std::size_t end, std::optional<T>& to) {
    if (first < end) to = from[first];
}

}  // namespace

backend::PeerObjects DesiredState::objects_of(const net::Prefix& subnet) const {
    const auto it = peers.find(subnet);
    if (it == peers.end()) throw std::out_of_range("no peer on " + subnet.to_string());
    const auto next = std::next(it);
    backend::PeerObjects objects;
    objects.off_link = it->second.off_link;
    each_vector(peer_sets, objects, [&](std::size_t i, const auto& from, auto& to) {
        const std::size_t end = next == peers.end() ? from.size() : next->second.first.at(i);
        take(from, it->second.first.at(i), end, to);
    });
    return objects;
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
        state.peers.reserve(inputs.leases->size());
        auto& sets = state.peer_sets.objects;
        sets.routes.reserve(inputs.leases->size());
        sets.neighbours.reserve(inputs.leases->size());
        sets.fdb.reserve(inputs.leases->size());
        for (const auto& [subnet, lease] : *inputs.leases) {
            auto objects = peer_objects(backend, context, lease);
            if (!objects) continue;
            PeerState peer{&lease, objects->off_link, {}};
            each_vector(state.peer_sets, *objects, [&](std::size_t i, auto& to, auto& from) {
                peer.first.at(i) = static_cast<std::uint32_t>(to.size());
                append(to, from);
            });
            state.peers.emplace_hint(state.peers.end(), subnet, peer);
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
