#include "underlay.hpp"

#include "twill/error.hpp"

namespace twill::daemon {

namespace {

std::optional<net::Address> first_usable_address(netlink::Handle& handle, int index) {
    std::optional<net::Address> v6;
    for (const auto& a : handle.list_addresses(index)) {
        const auto& address = a.prefix.address();
        if (!address.is_usable_unicast()) continue;
        if (address.is_v4()) return address;
        if (!v6) v6 = address;
    }
    return v6;
}

backend::Underlay describe(const netlink::Link& link, const net::Address& address) {
    return {link.index, link.name, address, link.mtu};
}

}  // namespace

backend::Underlay find_underlay(netlink::Handle& handle, const std::string& iface,
                                const std::optional<net::Address>& public_ip) {
    if (public_ip) {
        for (const auto& a : handle.list_addresses()) {
            if (a.prefix.address() != *public_ip) continue;
            auto link = handle.get_link(a.link_index);
            if (!iface.empty() && link.name != iface) {
                throw Error("--public-ip " + public_ip->to_string() + " is on " + link.name +
                            ", not on --iface " + iface);
            }
            return describe(link, *public_ip);
        }
        // The address may be a NAT'ed public one: then --iface (or the default route) says
        // where traffic leaves, and peers are told the given address.
        if (iface.empty()) {
            throw Error("--public-ip " + public_ip->to_string() +
                        " is on no interface of this node; name the underlay with --iface");
        }
    }
    if (!iface.empty()) {
        auto link = handle.find_link(iface);
        if (!link) throw Error("--iface " + iface + ": no such interface");
        if (public_ip) return describe(*link, *public_ip);
        auto address = first_usable_address(handle, link->index);
        if (!address) throw Error("--iface " + iface + ": no usable unicast address on it");
        return describe(*link, *address);
    }
    for (auto family : {net::Family::v4, net::Family::v6}) {
        netlink::RouteFilter filter;
        filter.family = family;
        filter.table = netlink::route_table_main;
        for (const auto& route : handle.dump_routes(filter)) {
            if (route.destination.length() != 0 || route.oif == 0) continue;
            auto link = handle.get_link(route.oif);
            std::optional<net::Address> address = route.source;
            if (!address) address = first_usable_address(handle, link.index);
            if (!address) {
                throw Error("default route leaves by " + link.name +
                            ", which has no usable address; set --iface or --public-ip");
            }
            return describe(link, *address);
        }
    }
    throw Error("no default route to pick the underlay interface from; set --iface or --public-ip");
}

}  // namespace twill::daemon
