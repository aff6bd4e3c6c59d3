#include "twill/netlink/objects.hpp"

#include <linux/if.h>

#include <string>

namespace twill::netlink {

namespace {

std::string device(std::string_view dev, int index) {
    if (!dev.empty()) return std::string(dev);
    return "if" + std::to_string(index);
}

std::string nud_name(std::uint16_t state) {
    switch (state) {
        case 0x01:
            return "incomplete";
        case 0x02:
            return "reachable";
        case 0x04:
            return "stale";
        case 0x08:
            return "delay";
        case 0x10:
            return "probe";
        case 0x20:
            return "failed";
        case 0x40:
            return "noarp";
        case 0x80:
            return "permanent";
        default:
            return "nud " + std::to_string(state);
    }
}

}  // namespace

bool Link::is_up() const noexcept {
    return flags & IFF_UP;
}
bool Link::has_carrier() const noexcept {
    return flags & IFF_LOWER_UP;
}

std::string_view to_string(RouteType type) {
    switch (type) {
        case RouteType::unicast:
            return "unicast";
        case RouteType::local:
            return "local";
        case RouteType::broadcast:
            return "broadcast";
        case RouteType::blackhole:
            return "blackhole";
        case RouteType::unreachable:
            return "unreachable";
        case RouteType::prohibit:
            return "prohibit";
    }
    return "type?";
}

bool RouteFilter::matches(const Route& route) const {
    return (!family || route.destination.family() == *family) &&
           (!protocol || route.protocol == *protocol) && (!oif || route.oif == *oif) &&
           (!table || route.table == *table) && (!type || route.type == *type);
}

bool NeighbourFilter::matches(const Neighbour& neighbour) const {
    return (!family || neighbour.address.family() == *family) &&
           (!link_index || neighbour.link_index == *link_index);
}

std::string to_string(const Link& link) {
    std::string s =
        link.name.empty() ? "link if" + std::to_string(link.index) : "link " + link.name;
    if (!link.kind.empty()) s += " type " + link.kind;
    if (link.vxlan) {
        s += " id " + std::to_string(link.vxlan->vni);
        if (link.vxlan->local) s += " local " + link.vxlan->local->to_string();
        if (link.vxlan->underlay_index) s += " dev if" + std::to_string(link.vxlan->underlay_index);
        s += " dstport " + std::to_string(link.vxlan->port);
        if (!link.vxlan->learning) s += " nolearning";
    }
    return s;
}

std::string to_string(const InterfaceAddress& address, std::string_view dev) {
    return "address " + address.prefix.to_string() + " dev " + device(dev, address.link_index);
}

std::string to_string(const Route& route, std::string_view dev) {
    std::string s = "route ";
    if (route.type != RouteType::unicast) s += std::string(to_string(route.type)) + " ";
    s += route.destination.to_string();
    if (route.gateway) s += " via " + route.gateway->to_string();
    if (route.oif) s += " dev " + device(dev, route.oif);
    if (route.table != route_table_main) s += " table " + std::to_string(route.table);
    s += " proto " + std::to_string(route.protocol);
    if (route.scope && *route.scope != route_scope_universe)
        s += " scope " + std::to_string(*route.scope);
    if (route.source) s += " src " + route.source->to_string();
    if (route.priority) s += " metric " + std::to_string(route.priority);
    if (route.onlink) s += " onlink";
    return s;
}

std::string to_string(const Neighbour& neighbour, std::string_view dev) {
    std::string s =
        "neighbour " + neighbour.address.to_string() + " dev " + device(dev, neighbour.link_index);
    if (neighbour.lladdr) s += " lladdr " + neighbour.lladdr->to_string();
    return s + " " + nud_name(neighbour.state);
}

std::string to_string(const FdbEntry& entry, std::string_view dev) {
    std::string s = "fdb " + entry.mac.to_string() + " dev " + device(dev, entry.link_index);
    if (entry.dst) s += " dst " + entry.dst->to_string();
    if (entry.vlan) s += " vlan " + std::to_string(entry.vlan);
    if (entry.flags & ntf_self) s += " self";
    if (entry.flags & ntf_master) s += " master";
    return s + " " + nud_name(entry.state);
}

}  // namespace twill::netlink
