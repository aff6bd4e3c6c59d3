#include <algorithm>

#include "invocation.hpp"
#include "twill/netlink/netlink.hpp"

namespace twill::plugin {

std::variant<AttachmentLinks, std::string> inspect_attachment(
    netlink::Handle& host, netlink::Handle& pod, const cni::NodeSubnet& node,
    const std::string& ifname, const std::string& netns_path,
    const std::vector<net::Prefix>& addresses, const std::string& host_name) {
    const auto pod_end = pod.find_link(ifname);
    if (!pod_end) return "interface " + ifname + " does not exist in " + netns_path;
    if (!pod_end->is_up()) return "interface " + ifname + " is down";
    if (pod_end->mtu != static_cast<std::uint32_t>(node.mtu)) {
        return "interface " + ifname + " has MTU " + std::to_string(pod_end->mtu) +
               ", subnet.json says " + std::to_string(node.mtu);
    }
    const auto present = pod.list_addresses(pod_end->index);
    for (const auto& address : addresses) {
        const bool found =
            std::any_of(present.begin(), present.end(),
                        [&](const netlink::InterfaceAddress& a) { return a.prefix == address; });
        if (!found) return "interface " + ifname + " lacks address " + address.to_string();
    }
    const auto host_end = host.find_link(host_name);
    if (!host_end) return "host interface " + host_name + " does not exist";
    const auto bridge = host.find_link(node.bridge);
    if (!bridge || host_end->master != bridge->index)
        return "host interface " + host_name + " is not on " + node.bridge;
    if (!host_end->is_up()) return "host interface " + host_name + " is down";
    return AttachmentLinks{*host_end, *pod_end};
}

std::vector<cni::IpConfig> pod_addresses(const cni::NodeSubnet& node,
                                         const std::vector<ipam::Reservation>& reservations) {
    std::vector<cni::IpConfig> ips;
    for (const auto& family : node.families()) {
        for (const auto& r : reservations) {
            if (r.address.family() == family.subnet.family())
                ips.push_back({net::Prefix(r.address, family.subnet.length()), family.gateway, 1});
        }
    }
    return ips;
}

std::vector<netlink::Route> default_routes(netlink::Handle& pod, net::Family family) {
    netlink::RouteFilter filter;
    filter.family = family;
    filter.table = netlink::route_table_main;
    auto routes = pod.dump_routes(filter);
    std::erase_if(routes, [](const netlink::Route& r) { return r.destination.length() != 0; });
    return routes;
}

}  // namespace twill::plugin
