#include <spdlog/spdlog.h>

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
    Undo undo;  // declared after what its steps use, so it runs while they still exist
    // The reservation comes first: a plugin killed later leaves a reservation DEL or GC
    // removes by its owner, never a veth whose address nobody recorded.
    const auto ip = store.reserve(node.subnet, node.gateway, owner);
    undo.push("release " + ip.to_string(), [&store, owner] { store.release(owner); });
    spdlog::debug("ADD {} {}: reserved {}", env.container_id, env.ifname, ip.to_string());

    const auto host_name = host_veth_name(owner);
    // Left by an ADD of this same attachment that was killed before it finished.
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
    const net::Prefix default_route(net::Address::zero(ip.family()), 0);
    // Up before the address so that the kernel adds the subnet's connected route at once and
    // the gateway is reachable on-link for the default route.
    pod.set_link_up(pod_end.index);
    pod.add_address(pod_end.index, address);
    netlink::Route route;
    route.destination = default_route;
    route.gateway = node.gateway;
    route.oif = pod_end.index;
    pod.add_route(route);

    cni::Result result;
    result.interfaces.push_back({host_name, host_end.mac, node.mtu, ""});
    result.interfaces.push_back({env.ifname, pod_end.mac, node.mtu, env.netns});
    result.ips.push_back({address, node.gateway, 1});
    result.routes.push_back({default_route, node.gateway});
    result.dns = invocation.config.dns;
    undo.dismiss();
    spdlog::debug("ADD {} {}: {} on {} via {}", env.container_id, env.ifname, address.to_string(),
                  host_name, node.bridge);
    return cni::to_json_text(result, invocation.config.version);
}

}  // namespace twill::plugin
