#include "underlay.hpp"

#include <algorithm>

#include "twill/error.hpp"
#include "uninstall.hpp"

namespace twill::daemon {

namespace {

// The first usable address of `family` on the interface, else the first of the other family.
std::optional<net::Address> first_usable_address(netlink::Handle& handle, int index,
                                                 net::Family family) {
    std::optional<net::Address> other;
    for (const auto& a : handle.list_addresses(index)) {
        const auto& address = a.prefix.address();
        if (!address.is_usable_unicast() || address.is_link_local()) continue;
        if (address.family() == family) return address;
        if (!other) other = address;
    }
    return other;
}

// "--iface eth0,ens3, --iface-regex ^en, --iface-can-reach 192.0.2.1" for messages.
std::string describe(const UnderlaySelection& selection) {
    std::string text;
    auto add = [&text](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
    if (!selection.ifaces.empty()) {
        std::string names;
        for (const auto& name : selection.ifaces) names += (names.empty() ? "" : ",") + name;
        add("--iface " + names);
    }
    if (selection.iface_pattern) add("--iface-regex " + selection.iface_regex);
    if (selection.can_reach) add("--iface-can-reach " + selection.can_reach->to_string());
    return text;
}

// The interface and, when the way it was found says which, its address.
struct Choice {
    netlink::Link link;
    std::optional<net::Address> address;
    std::string how;  // "--iface eth1", for messages
};

std::optional<Choice> choose_by_flags(netlink::Handle& handle, const UnderlaySelection& selection,
                                      bool address_pinned, net::Family family) {
    for (const auto& name : selection.ifaces) {
        if (auto link = handle.find_link(name))
            return Choice{*link, std::nullopt, "--iface " + name};
    }
    if (selection.iface_pattern) {
        auto links = handle.list_links();
        std::sort(links.begin(), links.end(),
                  [](const auto& a, const auto& b) { return a.index < b.index; });
        for (const auto& link : links) {
            if (is_own_device(link.name) || !std::regex_search(link.name, *selection.iface_pattern))
                continue;
            if (!address_pinned && !first_usable_address(handle, link.index, family)) continue;
            return Choice{link, std::nullopt,
                          "--iface-regex " + selection.iface_regex + " (" + link.name + ")"};
        }
    }
    if (selection.can_reach) {
        if (auto route = handle.route_get(*selection.can_reach); route && route->oif > 0) {
            std::optional<net::Address> source;
            if (route->source && route->source->is_usable_unicast()) source = route->source;
            auto link = handle.get_link(route->oif);
            return Choice{
                link, source,
                "--iface-can-reach " + selection.can_reach->to_string() + " (" + link.name + ")"};
        }
    }
    return std::nullopt;
}

std::optional<Choice> choose_by_default_route(netlink::Handle& handle, net::Family preferred) {
    const auto other = preferred == net::Family::v4 ? net::Family::v6 : net::Family::v4;
    for (auto family : {preferred, other}) {
        netlink::RouteFilter filter;
        filter.family = family;
        filter.table = netlink::route_table_main;
        for (const auto& route : handle.dump_routes(filter)) {
            if (route.destination.length() != 0 || route.oif == 0) continue;
            auto link = handle.get_link(route.oif);
            return Choice{link, route.source, "the default route (" + link.name + ")"};
        }
    }
    return std::nullopt;
}

backend::Underlay underlay_of(netlink::Handle& handle, const netlink::Link& link,
                              const net::Address& address) {
    backend::Underlay underlay{link.index, link.name, address, link.mtu};
    // An IPv6 address beside an IPv4 one carries a dual-stack network's IPv6 pods.
    if (address.is_v4()) {
        if (auto v6 = first_usable_address(handle, link.index, net::Family::v6); v6 && v6->is_v6())
            underlay.ipv6_address = v6;
    }
    for (const auto& a : handle.list_addresses(link.index)) {
        const auto& ip = a.prefix.address();
        if (!ip.is_usable_unicast() || ip.is_link_local()) continue;
        underlay.prefixes.push_back(a.prefix);
    }
    std::sort(underlay.prefixes.begin(), underlay.prefixes.end());
    return underlay;
}

}  // namespace

backend::Underlay find_underlay(netlink::Handle& handle, const UnderlaySelection& selection,
                                const std::optional<net::Address>& public_ip, net::Family family) {
    std::optional<Choice> choice;
    if (selection.any()) {
        choice = choose_by_flags(handle, selection, public_ip.has_value(), family);
        if (!choice) throw Error("no underlay interface found by " + describe(selection));
    }
    if (public_ip) {
        for (const auto& a : handle.list_addresses()) {
            if (a.prefix.address() != *public_ip) continue;
            auto link = handle.get_link(a.link_index);
            if (choice && choice->link.index != link.index) {
                throw Error("--public-ip " + public_ip->to_string() + " is on " + link.name +
                            ", not on the interface chosen by " + choice->how);
            }
            return underlay_of(handle, link, *public_ip);
        }
        // The address may be a NAT'ed public one: then the flags say where traffic leaves,
        // and peers are told the given address.
        if (!choice) {
            throw Error("--public-ip " + public_ip->to_string() +
                        " is on no interface of this node; name the underlay with --iface, "
                        "--iface-regex or --iface-can-reach");
        }
        return underlay_of(handle, choice->link, *public_ip);
    }
    if (!choice) {
        choice = choose_by_default_route(handle, family);
        if (!choice) {
            throw Error(
                "no default route to pick the underlay interface from; set --iface, "
                "--iface-regex, --iface-can-reach or --public-ip");
        }
    }
    auto address = choice->address ? choice->address
                                   : first_usable_address(handle, choice->link.index, family);
    if (!address) {
        throw Error(choice->how + ": " + choice->link.name +
                    " has no usable unicast address; set --public-ip or choose another interface");
    }
    return underlay_of(handle, choice->link, *address);
}

}  // namespace twill::daemon
