#include "underlay.hpp"

#include <algorithm>

#include "twill/error.hpp"
#include "uninstall.hpp"

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
                                      bool address_pinned) {
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
            if (!address_pinned && !first_usable_address(handle, link.index)) continue;
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

std::optional<Choice> choose_by_default_route(netlink::Handle& handle) {
    for (auto family : {net::Family::v4, net::Family::v6}) {
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

backend::Underlay underlay_of(const netlink::Link& link, const net::Address& address) {
    return {link.index, link.name, address, link.mtu};
}

}  // namespace

backend::Underlay find_underlay(netlink::Handle& handle, const UnderlaySelection& selection,
                                const std::optional<net::Address>& public_ip) {
    std::optional<Choice> choice;
    if (selection.any()) {
        choice = choose_by_flags(handle, selection, public_ip.has_value());
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
            return underlay_of(link, *public_ip);
        }
        // The address may be a NAT'ed public one: then the flags say where traffic leaves,
        // and peers are told the given address.
        if (!choice) {
            throw Error("--public-ip " + public_ip->to_string() +
                        " is on no interface of this node; name the underlay with --iface, "
                        "--iface-regex or --iface-can-reach");
        }
        return underlay_of(choice->link, *public_ip);
    }
    if (!choice) {
        choice = choose_by_default_route(handle);
        if (!choice) {
            throw Error(
                "no default route to pick the underlay interface from; set --iface, "
                "--iface-regex, --iface-can-reach or --public-ip");
        }
    }
    auto address =
        choice->address ? choice->address : first_usable_address(handle, choice->link.index);
    if (!address) {
        throw Error(choice->how + ": " + choice->link.name +
                    " has no usable unicast address; set --public-ip or choose another interface");
    }
    return underlay_of(choice->link, *address);
}

}  // namespace twill::daemon
