#include "twill/netlink/handle.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>

#include "libnl.hpp"
#include "transport.hpp"
#include "twill/error.hpp"

namespace twill::netlink {

struct Handle::Socket {
    explicit Socket(const Netns* netns) : rtnl(netns) {}
    detail::RtnlSocket rtnl;
};

namespace {

using detail::LibnlPtr;

std::uint8_t address_family(std::optional<net::Family> family) {
    if (!family) return AF_UNSPEC;
    return *family == net::Family::v4 ? AF_INET : AF_INET6;
}

bool is_ip_family(const nlmsghdr* message) {
    const auto family = *static_cast<const std::uint8_t*>(NLMSG_DATA(message));
    return family == AF_INET || family == AF_INET6;
}

}  // namespace

Handle::Handle() : socket_(std::make_unique<Socket>(nullptr)) {}
Handle::Handle(const Netns& netns) : socket_(std::make_unique<Socket>(&netns)) {}
Handle::Handle(Handle&&) noexcept = default;
Handle& Handle::operator=(Handle&&) noexcept = default;
Handle::~Handle() = default;

namespace {

// The device name for an error message (looked up only once a request failed); "if<index>"
// when the device cannot be read.
std::string device_name(Handle& handle, int index) {
    if (index <= 0) return {};
    try {
        if (auto link = handle.find_link(index)) return link->name;
    } catch (const Error&) {
    }
    return "if" + std::to_string(index);
}

// libnl cuts longer names silently; the kernel would then make a device of another name.
void check_link_name(const std::string& name, std::string_view field) {
    const bool bad_char = name.find_first_of("/: \t\n") != std::string::npos;
    if (name.empty() || name.size() >= IFNAMSIZ || bad_char || name == "." || name == "..")
        throw ParseError(field, "\"" + name + "\" is not a valid interface name (1.." +
                                    std::to_string(IFNAMSIZ - 1) +
                                    " characters, no '/', ':' or spaces)");
}

}  // namespace

// ---- links ----

Link Handle::create_bridge(const BridgeSpec& spec) {
    check_link_name(spec.name, "bridge name");
    auto message = detail::build_link_add(spec);
    socket_->rtnl.request(message.get(), [&] { return "add bridge " + spec.name; });
    return get_link(spec.name);
}

Link Handle::create_vxlan(const VxlanSpec& spec) {
    check_link_name(spec.name, "vxlan name");
    auto message = detail::build_link_add(spec);
    socket_->rtnl.request(message.get(), [&] {
        Link described;
        described.name = spec.name;
        described.kind = "vxlan";
        described.vxlan = spec.info;
        return "add " + to_string(described);
    });
    return get_link(spec.name);
}

Link Handle::create_wireguard(const WireguardLinkSpec& spec) {
    check_link_name(spec.name, "wireguard name");
    auto message = detail::build_link_add(spec);
    socket_->rtnl.request(message.get(), [&] { return "add wireguard " + spec.name; });
    return get_link(spec.name);
}

Link Handle::create_veth(const VethSpec& spec) {
    check_link_name(spec.name, "veth name");
    check_link_name(spec.peer_name, "veth peer name");
    auto message = detail::build_link_add(spec, spec.peer_netns ? spec.peer_netns->fd() : -1);
    socket_->rtnl.request(message.get(), [&] {
        std::string what = "add veth " + spec.name + " peer " + spec.peer_name;
        if (spec.peer_netns) what += " netns " + spec.peer_netns->description();
        return what;
    });
    return get_link(spec.name);
}

std::optional<Link> Handle::find_link(std::string_view name) {
    if (name.empty() || name.size() >= IFNAMSIZ) return std::nullopt;
    auto message = detail::build_link_get(0, name);
    std::optional<Link> result;
    try {
        socket_->rtnl.request(
            message.get(), [&] { return "find link " + std::string(name); },
            [&](const nlmsghdr* reply) { result = detail::parse_link(reply); });
    } catch (const SystemError& e) {
        if (e.code() == ENODEV) return std::nullopt;
        throw;
    }
    return result;
}

std::optional<Link> Handle::find_link(int index) {
    if (index <= 0) return std::nullopt;
    auto message = detail::build_link_get(index, {});
    std::optional<Link> result;
    try {
        socket_->rtnl.request(
            message.get(), [&] { return "find link if" + std::to_string(index); },
            [&](const nlmsghdr* reply) { result = detail::parse_link(reply); });
    } catch (const SystemError& e) {
        if (e.code() == ENODEV) return std::nullopt;
        throw;
    }
    return result;
}

Link Handle::get_link(std::string_view name) {
    if (auto link = find_link(name)) return *link;
    throw SystemError("find link " + std::string(name), ENODEV);
}

Link Handle::get_link(int index) {
    if (auto link = find_link(index)) return *link;
    throw SystemError("find link if" + std::to_string(index), ENODEV);
}

std::vector<Link> Handle::list_links() {
    std::vector<Link> links;
    socket_->rtnl.dump(
        RTM_GETLINK, AF_UNSPEC,
        [&](const nlmsghdr* message) {
            if (auto link = detail::parse_link(message)) links.push_back(std::move(*link));
        },
        [&] { links.clear(); }, [] { return std::string("list links"); });
    return links;
}

namespace {

// One change to one link: fills a libnl "changes" object, sends it.
template <typename Fill>
void change_link(detail::RtnlSocket& rtnl, Handle& handle, int index,
                 const detail::Describe& operation, Fill fill) {
    LibnlPtr<rtnl_link> changes(rtnl_link_alloc());
    if (!changes) throw SystemError("allocate link", ENOMEM);
    fill(changes.get());
    auto message = detail::build_link_change(index, changes.get());
    rtnl.request(message.get(),
                 [&] { return "set link " + device_name(handle, index) + " " + operation(); });
}

}  // namespace

void Handle::set_link_up(int index) {
    change_link(
        socket_->rtnl, *this, index, [] { return std::string("up"); },
        [](rtnl_link* l) { rtnl_link_set_flags(l, IFF_UP); });
}

void Handle::set_link_down(int index) {
    change_link(
        socket_->rtnl, *this, index, [] { return std::string("down"); },
        [](rtnl_link* l) { rtnl_link_unset_flags(l, IFF_UP); });
}

void Handle::set_mtu(int index, std::uint32_t mtu) {
    change_link(
        socket_->rtnl, *this, index, [&] { return "mtu " + std::to_string(mtu); },
        [&](rtnl_link* l) { rtnl_link_set_mtu(l, mtu); });
}

void Handle::set_mac(int index, const net::MacAddress& mac) {
    change_link(
        socket_->rtnl, *this, index, [&] { return "address " + mac.to_string(); },
        [&](rtnl_link* l) { rtnl_link_set_addr(l, detail::to_nl_addr(mac).get()); });
}

void Handle::set_master(int index, int master_index) {
    change_link(
        socket_->rtnl, *this, index, [&] { return "master " + device_name(*this, master_index); },
        [&](rtnl_link* l) { rtnl_link_set_master(l, master_index); });
}

void Handle::set_nomaster(int index) {
    change_link(
        socket_->rtnl, *this, index, [] { return std::string("nomaster"); },
        [](rtnl_link* l) { rtnl_link_set_master(l, 0); });
}

void Handle::change_vxlan(int index, const VxlanInfo& info) {
    const auto current = get_link(index);
    auto describe = [&] {
        Link described;
        described.name = current.name;
        described.kind = "vxlan";
        described.vxlan = info;
        return "change " + to_string(described);
    };
    if (!current.vxlan)
        throw SystemError(describe() + " (" + current.name + " is no vxlan device)", EINVAL);
    if (*current.vxlan == info) return;
    auto message = detail::build_vxlan_change(index, *current.vxlan, info);
    socket_->rtnl.request(message.get(), describe);
}

void Handle::set_hairpin(int port_index, bool on) {
    // libnl-route has no plain way to set one bridge port flag: an AF_BRIDGE RTM_SETLINK with
    // IFLA_PROTINFO { IFLA_BRPORT_MODE } (what `bridge link set hairpin on` sends).
    alignas(nlmsghdr) char buffer[MNL_NLMSG_HDRLEN + 64]{};
    nlmsghdr* header = mnl_nlmsg_put_header(buffer);
    header->nlmsg_type = RTM_SETLINK;
    auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
    info->ifi_family = AF_BRIDGE;
    info->ifi_index = port_index;
    nlattr* protinfo = mnl_attr_nest_start(header, IFLA_PROTINFO);
    mnl_attr_put_u8(header, IFLA_BRPORT_MODE, on ? 1 : 0);
    mnl_attr_nest_end(header, protinfo);
    LibnlPtr<nl_msg> message(nlmsg_convert(header));
    if (!message) throw SystemError("allocate hairpin request", ENOMEM);
    socket_->rtnl.request(message.get(), [&] {
        return "set bridge port " + device_name(*this, port_index) + " hairpin " +
               (on ? "on" : "off");
    });
}

void Handle::delete_link(int index) {
    auto message = detail::build_link_delete(index);
    socket_->rtnl.request(message.get(),
                          [&] { return "delete link " + device_name(*this, index); });
}

// ---- addresses ----

void Handle::add_address(int link_index, const net::Prefix& address, AddressOptions options) {
    auto message = detail::build_address(RTM_NEWADDR, NLM_F_EXCL, link_index, address,
                                         options.no_dad ? IFA_F_NODAD : 0);
    socket_->rtnl.request(message.get(), [&] {
        return "add " +
               to_string(InterfaceAddress{link_index, address, 0}, device_name(*this, link_index));
    });
}

void Handle::replace_address(int link_index, const net::Prefix& address, AddressOptions options) {
    auto message = detail::build_address(RTM_NEWADDR, NLM_F_REPLACE, link_index, address,
                                         options.no_dad ? IFA_F_NODAD : 0);
    socket_->rtnl.request(message.get(), [&] {
        return "replace " +
               to_string(InterfaceAddress{link_index, address, 0}, device_name(*this, link_index));
    });
}

void Handle::delete_address(int link_index, const net::Prefix& address) {
    auto message = detail::build_address(RTM_DELADDR, 0, link_index, address);
    socket_->rtnl.request(message.get(), [&] {
        return "delete " +
               to_string(InterfaceAddress{link_index, address, 0}, device_name(*this, link_index));
    });
}

std::vector<InterfaceAddress> Handle::list_addresses(std::optional<int> link_index,
                                                     std::optional<net::Family> family) {
    std::vector<InterfaceAddress> addresses;
    socket_->rtnl.dump(
        RTM_GETADDR, address_family(family),
        [&](const nlmsghdr* message) {
            const auto* header = static_cast<const ifaddrmsg*>(NLMSG_DATA(message));
            if (link_index && static_cast<int>(header->ifa_index) != *link_index) return;
            if (auto address = detail::parse_address(message)) addresses.push_back(*address);
        },
        [&] { addresses.clear(); }, [] { return std::string("list addresses"); });
    return addresses;
}

// ---- routes ----

namespace {
void route_request(detail::RtnlSocket& rtnl, Handle& handle, int type, int flags,
                   const Route& route, std::string_view operation) {
    auto message = detail::build_route(type, flags, route);
    rtnl.request(message.get(), [&] {
        return std::string(operation) + " " + to_string(route, device_name(handle, route.oif));
    });
}
}  // namespace

void Handle::add_route(const Route& route) {
    route_request(socket_->rtnl, *this, RTM_NEWROUTE, NLM_F_EXCL, route, "add");
}

void Handle::replace_route(const Route& route) {
    route_request(socket_->rtnl, *this, RTM_NEWROUTE, NLM_F_REPLACE, route, "replace");
}

void Handle::delete_route(const Route& route) {
    route_request(socket_->rtnl, *this, RTM_DELROUTE, 0, route, "delete");
}

std::vector<Route> Handle::dump_routes(const RouteFilter& filter) {
    std::vector<Route> routes;
    socket_->rtnl.dump(
        RTM_GETROUTE, address_family(filter.family),
        [&](const nlmsghdr* message) {
            if (!is_ip_family(message)) return;  // multicast routing tables and the like
            const auto* header = static_cast<const rtmsg*>(NLMSG_DATA(message));
            if (header->rtm_flags & RTM_F_CLONED) return;
            if (filter.protocol && header->rtm_protocol != *filter.protocol) return;
            if (auto route = detail::parse_route(message); route && filter.matches(*route))
                routes.push_back(std::move(*route));
        },
        [&] { routes.clear(); }, [] { return std::string("dump routes"); });
    return routes;
}

std::optional<Route> Handle::route_get(const net::Address& destination) {
    auto message = detail::build_route_get(destination);
    std::optional<Route> result;
    try {
        socket_->rtnl.request(
            message.get(), [&] { return "route get " + destination.to_string(); },
            [&](const nlmsghdr* reply) { result = detail::parse_route(reply); });
    } catch (const SystemError& e) {
        if (e.code() == ENETUNREACH || e.code() == EHOSTUNREACH) {
            return std::nullopt;
        }
        throw;
    }
    if (result && (result->type == RouteType::unreachable || result->type == RouteType::blackhole ||
                   result->type == RouteType::prohibit)) {
        return std::nullopt;
    }
    return result;
}

// ---- neighbours ----

namespace {
void neighbour_request(detail::RtnlSocket& rtnl, Handle& handle, int type, int flags,
                       const Neighbour& neighbour, std::string_view operation) {
    auto message = detail::build_neighbour(type, flags, neighbour);
    rtnl.request(message.get(), [&] {
        return std::string(operation) + " " +
               to_string(neighbour, device_name(handle, neighbour.link_index));
    });
}

void fdb_request(detail::RtnlSocket& rtnl, Handle& handle, int type, int flags,
                 const FdbEntry& entry, std::string_view operation) {
    auto message = detail::build_fdb(type, flags, entry);
    rtnl.request(message.get(), [&] {
        return std::string(operation) + " " +
               to_string(entry, device_name(handle, entry.link_index));
    });
}
}  // namespace

void Handle::add_neighbour(const Neighbour& neighbour) {
    neighbour_request(socket_->rtnl, *this, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, neighbour,
                      "add");
}

void Handle::replace_neighbour(const Neighbour& neighbour) {
    neighbour_request(socket_->rtnl, *this, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, neighbour,
                      "replace");
}

void Handle::delete_neighbour(const Neighbour& neighbour) {
    neighbour_request(socket_->rtnl, *this, RTM_DELNEIGH, 0, neighbour, "delete");
}

std::vector<Neighbour> Handle::dump_neighbours(const NeighbourFilter& filter) {
    std::vector<Neighbour> neighbours;
    socket_->rtnl.dump(
        RTM_GETNEIGH, address_family(filter.family),
        [&](const nlmsghdr* message) {
            if (!is_ip_family(message)) return;  // AF_BRIDGE: the FDB
            const auto* header = static_cast<const ndmsg*>(NLMSG_DATA(message));
            if (filter.link_index && header->ndm_ifindex != *filter.link_index) return;
            if (auto neighbour = detail::parse_neighbour(message);
                neighbour && filter.matches(*neighbour))
                neighbours.push_back(std::move(*neighbour));
        },
        [&] { neighbours.clear(); }, [] { return std::string("dump neighbours"); });
    return neighbours;
}

// ---- bridge FDB ----

void Handle::add_fdb(const FdbEntry& entry) {
    fdb_request(socket_->rtnl, *this, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, entry, "add");
}

void Handle::append_fdb(const FdbEntry& entry) {
    fdb_request(socket_->rtnl, *this, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, entry, "append");
}

void Handle::replace_fdb(const FdbEntry& entry) {
    fdb_request(socket_->rtnl, *this, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, entry, "replace");
}

void Handle::delete_fdb(const FdbEntry& entry) {
    fdb_request(socket_->rtnl, *this, RTM_DELNEIGH, 0, entry, "delete");
}

std::vector<FdbEntry> Handle::dump_fdb(std::optional<int> link_index) {
    std::vector<FdbEntry> entries;
    socket_->rtnl.dump(
        RTM_GETNEIGH, AF_BRIDGE,
        [&](const nlmsghdr* message) {
            const auto* header = static_cast<const ndmsg*>(NLMSG_DATA(message));
            if (header->ndm_family != AF_BRIDGE) return;
            if (link_index && header->ndm_ifindex != *link_index) return;
            if (auto entry = detail::parse_fdb(message)) entries.push_back(*entry);
        },
        [&] { entries.clear(); }, [] { return std::string("dump fdb"); });
    return entries;
}

}  // namespace twill::netlink
