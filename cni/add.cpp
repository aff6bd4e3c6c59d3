#include <cerrno>

#include "invocation.hpp"
#include "twill/cni/result.hpp"
#include "twill/netlink/netlink.hpp"
#include "twill/sys/log.hpp"
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
    const auto ips = pod_addresses(node, reservations);
    std::vector<net::Prefix> addresses;
    for (const auto& ip : ips) addresses.push_back(ip.address);
    std::string reserved;
    for (const auto& r : reservations)
        reserved += (reserved.empty() ? "" : ", ") + r.address.to_string();
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
    result.ips = ips;
    // The first ADD listed a family's default route when it added it, i.e. when it goes via
    // this interface and that family's gateway.
    for (const auto& family : node.families()) {
        for (const auto& route : default_routes(pod, family.gateway.family())) {
            if (route.oif == pod_end.index && route.gateway == family.gateway)
                result.routes.push_back({route.destination, family.gateway});
        }
    }
    result.dns = invocation.config.dns;
    sys::log(sys::LogLevel::debug, "ADD " + env.container_id + " " + env.ifname +
                                       ": attached already with " + reserved + " on " + host_name);
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
    // The reservations come first: a plugin killed later leaves reservations DEL or GC
    // removes by their owner, never a veth whose address nobody recorded. One address of each
    // family; releasing by owner takes back every one reserved so far.
    const auto families = node.families();
    std::vector<cni::IpConfig> ips;
    for (const auto& family : families) {
        const auto ip = store.reserve(family.subnet, family.gateway, owner);
        if (ips.empty())
            undo.push("release " + ip.to_string(), [&store, owner] { store.release(owner); });
        ips.push_back({net::Prefix(ip, family.subnet.length()), family.gateway, 1});
        sys::log(sys::LogLevel::debug,
                 "ADD " + env.container_id + " " + env.ifname + ": reserved " + ip.to_string());
    }

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
    // Up before the addresses so that the kernel adds each subnet's connected route at once and
    // the gateways are reachable on-link for the default routes. IPv6 addresses skip duplicate
    // address detection (the store hands each out once), so the pod can talk right away
    // instead of after a second or two of "tentative".
    pod.set_link_up(pod_end.index);
    for (const auto& ip : ips)
        pod.add_address(pod_end.index, ip.address, {.no_dad = ip.address.address().is_v6()});

    cni::Result result;
    result.interfaces.push_back({host_name, host_end.mac, node.mtu, ""});
    result.interfaces.push_back({env.ifname, pod_end.mac, node.mtu, env.netns});
    result.ips = ips;
    // A pod's first interface gets a default route of each family; a further one (another
    // CNI_IFNAME in the same pod) leaves the pod's default routes alone and lists none.
    for (const auto& family : families) {
        if (!default_routes(pod, family.gateway.family()).empty()) continue;
        netlink::Route route;
        route.destination = net::Prefix(net::Address::zero(family.gateway.family()), 0);
        route.gateway = family.gateway;
        route.oif = pod_end.index;
        pod.add_route(route);
        result.routes.push_back({route.destination, family.gateway});
    }
    result.dns = invocation.config.dns;
    undo.dismiss();
    std::string listed;
    for (const auto& ip : ips) listed += (listed.empty() ? "" : ", ") + ip.address.to_string();
    sys::log(sys::LogLevel::debug, "ADD " + env.container_id + " " + env.ifname + ": " + listed +
                                       " on " + host_name + " via " + node.bridge);
    return cni::to_json_text(result, invocation.config.version);
}

}  // namespace twill::plugin
