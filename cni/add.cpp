#include <spdlog/spdlog.h>

#include <cerrno>

#include "invocation.hpp"
#include "twill/cni/result.hpp"
#include "twill/netlink/netlink.hpp"
#include "undo.hpp"

namespace twill::plugin {

namespace {

netlink::Netns open_pod_netns(const std::string& path) {
    try {
        return netlink::Netns::open_path(path);
    } catch (const SystemError& e) {
        throw cni::CniError(cni::ErrorCode::UnknownContainer,
                            std::string("CNI_NETNS: ") + e.what());
    }
}

// A repeated ADD of an attachment that has reservations already. The runtime recorded the
// result of the first ADD, so the answer is that same attachment, unchanged, when the kernel
// still holds it whole. Anything less is not repaired: a rebuild would hand the runtime a
// different veth than it may have recorded, and a half-made attachment is what the runtime's
// DEL (which it runs after a failed ADD) clears. So ADD fails, changes nothing, and says why.
std::string existing_attachment(const Invocation& invocation, const cni::NodeSubnet& node,
                                netlink::Handle& host, const netlink::Netns& pod_netns,
                                const std::vector<ipam::Reservation>& reservations) {
    const auto& env = invocation.env;
    std::vector<net::Prefix> addresses;
    std::string reserved;
    for (const auto& r : reservations) {
        addresses.emplace_back(r.address, node.subnet.length());
        reserved += (reserved.empty() ? "" : ", ") + r.address.to_string();
    }
    const auto host_name = host_veth_name(invocation.attachment());
    auto pod = open_handle_in(pod_netns);
    const auto links =
        inspect_attachment(host, pod, node, env.ifname, env.netns, addresses, host_name);
    if (const auto* problem = std::get_if<std::string>(&links)) {
        throw cni::CniError(cni::ErrorCode::Internal,
                            "container " + env.container_id + " interface " + env.ifname +
                                " is attached already (" + reserved + " reserved), but " +
                                *problem + "; DEL it before adding it again",
                            "a repeated ADD returns an intact attachment, it never repairs one");
    }
    const auto& [host_end, pod_end] = std::get<AttachmentLinks>(links);
    cni::Result result;
    result.interfaces.push_back({host_name, host_end.mac, node.mtu, ""});
    result.interfaces.push_back({env.ifname, pod_end.mac, node.mtu, env.netns});
    for (const auto& address : addresses) result.ips.push_back({address, node.gateway, 1});
    // The first ADD listed the default route when it added it, i.e. when it goes via this
    // interface.
    for (const auto& route : default_routes(pod, node.gateway.family())) {
        if (route.oif == pod_end.index && route.gateway == node.gateway)
            result.routes.push_back({route.destination, node.gateway});
    }
    result.dns = invocation.config.dns;
    spdlog::debug("ADD {} {}: attached already with {} on {}", env.container_id, env.ifname,
                  reserved, host_name);
    return cni::to_json_text(result, invocation.config.version);
}

}  // namespace

std::string add(const Invocation& invocation) {
    const auto& env = invocation.env;
    const auto node = require_node_subnet(invocation, cni::ErrorCode::TryAgainLater);
    auto pod_netns = open_pod_netns(env.netns);

    netlink::Handle host;
    const auto bridge = host.find_link(node.bridge);
    if (!bridge) {
        throw cni::CniError(cni::ErrorCode::TryAgainLater,
                            "twilld is not ready: bridge " + node.bridge + " does not exist");
    }

    auto store = invocation.store();
    const auto owner = invocation.attachment();
    if (const auto reserved = store.owned_by(owner); !reserved.empty())
        return existing_attachment(invocation, node, host, pod_netns, reserved);

    Undo undo;  // declared after what its steps use, so it runs while they still exist
    // The reservation comes first: a plugin killed later leaves a reservation DEL or GC
    // removes by its owner, never a veth whose address nobody recorded.
    const auto ip = store.reserve(node.subnet, node.gateway, owner);
    undo.push("release " + ip.to_string(), [&store, owner] { store.release(owner); });
    spdlog::debug("ADD {} {}: reserved {}", env.container_id, env.ifname, ip.to_string());

    const auto host_name = host_veth_name(owner);
    // Left without a reservation: by a GC killed between releasing this attachment and
    // deleting its veth, or after the node's subnet changed and its reservation was dropped.
    if (const auto stale = host.find_link(host_name)) host.delete_link(stale->index);

    netlink::VethSpec veth;
    veth.name = host_name;
    veth.peer_name = env.ifname;
    veth.peer_netns =
        &pod_netns;  // the pod end is born in the pod: no move, no name clash on the host
    veth.mtu = static_cast<std::uint32_t>(node.mtu);
    const auto host_end = host.create_veth(veth);
    undo.push("delete " + host_name, [&host, index = host_end.index] { host.delete_link(index); });
    host.set_master(host_end.index, bridge->index);
    host.set_hairpin(host_end.index, true);
    host.set_link_up(host_end.index);

    auto pod = open_handle_in(pod_netns);
    const auto pod_end = pod.get_link(env.ifname);
    const net::Prefix address(ip, node.subnet.length());
    // Up before the address so that the kernel adds the subnet's connected route at once and
    // the gateway is reachable on-link for the default route.
    pod.set_link_up(pod_end.index);
    pod.add_address(pod_end.index, address);

    cni::Result result;
    result.interfaces.push_back({host_name, host_end.mac, node.mtu, ""});
    result.interfaces.push_back({env.ifname, pod_end.mac, node.mtu, env.netns});
    result.ips.push_back({address, node.gateway, 1});
    // A pod's first interface gets the default route; a further one (another CNI_IFNAME in
    // the same pod) leaves the pod's default route alone and lists none.
    if (default_routes(pod, ip.family()).empty()) {
        netlink::Route route;
        route.destination = net::Prefix(net::Address::zero(ip.family()), 0);
        route.gateway = node.gateway;
        route.oif = pod_end.index;
        pod.add_route(route);
        result.routes.push_back({route.destination, node.gateway});
    }
    result.dns = invocation.config.dns;
    undo.dismiss();
    spdlog::debug("ADD {} {}: {} on {} via {}", env.container_id, env.ifname, address.to_string(),
                  host_name, node.bridge);
    return cni::to_json_text(result, invocation.config.version);
}

}  // namespace twill::plugin
