#include <algorithm>

#include "invocation.hpp"
#include "twill/netlink/netlink.hpp"

namespace twill::plugin {

namespace {

[[noreturn]] void mismatch(const std::string& what) {
    throw cni::CniError(cni::ErrorCode::Internal, "CHECK: " + what);
}

}  // namespace

void check(const Invocation& invocation) {
    const auto& env = invocation.env;
    if (!invocation.config.prev_result) {
        throw cni::CniError(cni::ErrorCode::InvalidConfig, "prevResult: required for CHECK");
    }
    const auto& prev = *invocation.config.prev_result;
    const auto node = require_node_subnet(invocation, cni::ErrorCode::TryAgainLater);

    // The pod interface of prevResult, and the addresses it was given.
    const auto pod_iface = std::find_if(
        prev.interfaces.begin(), prev.interfaces.end(),
        [&](const cni::Interface& i) { return i.name == env.ifname && !i.sandbox.empty(); });
    if (pod_iface == prev.interfaces.end())
        mismatch("prevResult lists no interface " + env.ifname + " in a sandbox");
    const int pod_iface_index = static_cast<int>(pod_iface - prev.interfaces.begin());
    std::vector<net::Prefix> addresses;
    for (const auto& ip : prev.ips) {
        if (ip.interface == pod_iface_index) addresses.push_back(ip.address);
    }
    if (addresses.empty()) mismatch("prevResult assigns no address to " + env.ifname);
    // What the store holds for the attachment is on the interface too, each address with its
    // own family's prefix length, even where prevResult (another plugin's rewrite) lost one.
    const auto reserved = pod_addresses(node, invocation.store().owned_by(invocation.attachment()));
    for (const auto& ip : reserved) {
        if (std::find(addresses.begin(), addresses.end(), ip.address) == addresses.end())
            addresses.push_back(ip.address);
    }

    std::optional<netlink::Netns> netns;
    try {
        netns.emplace(netlink::Netns::open_path(env.netns));
    } catch (const SystemError& e) {
        throw cni::CniError(cni::ErrorCode::UnknownContainer,
                            std::string("CNI_NETNS: ") + e.what());
    }
    auto pod = open_handle_in(*netns);
    netlink::Handle host;
    const auto host_name = host_veth_name(invocation.attachment());
    const auto links =
        inspect_attachment(host, pod, node, env.ifname, env.netns, addresses, host_name);
    if (const auto* problem = std::get_if<std::string>(&links)) mismatch(*problem);
    const auto& link = std::get<AttachmentLinks>(links).pod_end;
    if (pod_iface->mac && link.mac != pod_iface->mac) {
        mismatch("interface " + env.ifname + " has MAC " +
                 (link.mac ? link.mac->to_string() : "none") + ", prevResult says " +
                 pod_iface->mac->to_string());
    }
    for (const auto& address : addresses) {
        const auto reservation = invocation.store().find(address.address());
        if (!reservation) mismatch("address " + address.address().to_string() + " is not reserved");
        if (reservation->owner != invocation.attachment()) {
            mismatch("address " + address.address().to_string() + " is reserved for " +
                     reservation->owner.container_id + " " + reservation->owner.ifname);
        }
    }
    netlink::RouteFilter filter;
    filter.table = netlink::route_table_main;
    const auto routes = pod.dump_routes(filter);
    for (const auto& route : prev.routes) {
        const bool found = std::any_of(routes.begin(), routes.end(), [&](const netlink::Route& r) {
            return r.destination == route.dst && r.gateway == route.gw;
        });
        if (!found) {
            mismatch("route " + route.dst.to_string() +
                     (route.gw ? " via " + route.gw->to_string() : "") + " is missing in " +
                     env.netns);
        }
    }
}

}  // namespace twill::plugin
