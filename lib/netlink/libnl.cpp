#include "libnl.hpp"

#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "twill/error.hpp"

namespace twill::netlink::detail {

namespace {

int address_family(net::Family family) {
    return family == net::Family::v4 ? AF_INET : AF_INET6;
}

template <typename T>
LibnlPtr<T> checked(T* object, std::string_view what) {
    if (!object) throw SystemError(std::string("allocate ") + std::string(what), ENOMEM);
    return LibnlPtr<T>(object);
}

// `message` by reference: it is read after the builder call that fills it.
LibnlPtr<nl_msg> take(int result, nl_msg*& message, std::string_view what) {
    check_libnl(result, what);
    return LibnlPtr<nl_msg>(message);
}

LibnlPtr<rtnl_link> new_link(const char* type, std::string_view what) {
    auto link = checked(rtnl_link_alloc(), what);
    if (type) check_libnl(rtnl_link_set_type(link.get(), type), what);
    return link;
}

void set_common(rtnl_link* link, const std::string& name, const std::optional<std::uint32_t>& mtu,
                const std::optional<net::MacAddress>& mac) {
    rtnl_link_set_name(link, name.c_str());
    if (mtu) rtnl_link_set_mtu(link, *mtu);
    if (mac) rtnl_link_set_addr(link, to_nl_addr(*mac).get());
}

// Copies a message libnl owns into an nl_msg of our own, for libnl's generic parser.
template <typename Object>
LibnlPtr<Object> parse_generic(const nlmsghdr* message) {
    LibnlPtr<nl_msg> copy(nlmsg_convert(const_cast<nlmsghdr*>(message)));
    if (!copy) throw SystemError("copy netlink message", ENOMEM);
    nlmsg_set_proto(copy.get(), NETLINK_ROUTE);
    nl_object* parsed = nullptr;
    const int result = nl_msg_parse(
        copy.get(),
        [](nl_object* object, void* arg) {
            nl_object_get(object);
            *static_cast<nl_object**>(arg) = object;
        },
        &parsed);
    if (result < 0 || !parsed) {
        if (parsed) nl_object_put(parsed);
        return nullptr;
    }
    return LibnlPtr<Object>(reinterpret_cast<Object*>(parsed));
}

}  // namespace

int check_libnl(int result, std::string_view what) {
    if (result >= 0) return result;
    // Local libnl failures only (the kernel's answers are read by the transport): out of
    // memory, message too large, or an attribute the request needs.
    const int error = result == -NLE_NOMEM ? ENOMEM : result == -NLE_MSGSIZE ? EMSGSIZE : EINVAL;
    throw SystemError(std::string(what) + " (libnl: " + nl_geterror(result) + ")", error);
}

LibnlPtr<nl_addr> to_nl_addr(const net::Address& address) {
    const auto bytes = address.bytes();
    auto result = checked(
        nl_addr_build(address_family(address.family()), bytes.data(), bytes.size()), "address");
    nl_addr_set_prefixlen(result.get(), address.bits());
    return result;
}

LibnlPtr<nl_addr> to_nl_addr(const net::Prefix& prefix) {
    auto result = to_nl_addr(prefix.address());
    nl_addr_set_prefixlen(result.get(), prefix.length());
    return result;
}

LibnlPtr<nl_addr> to_nl_addr(const net::MacAddress& mac) {
    const auto bytes = mac.bytes();
    return checked(nl_addr_build(AF_LLC, bytes.data(), bytes.size()), "MAC address");
}

std::optional<net::Address> address_from(nl_addr* addr, int family) {
    if (!addr) return std::nullopt;
    const unsigned length = nl_addr_get_len(addr);
    const auto* data = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(addr));
    if (length == 4) return net::Address::from_bytes(net::Family::v4, {data, 4});
    if (length == 16) return net::Address::from_bytes(net::Family::v6, {data, 16});
    if (length == 0 && family == AF_INET) return net::Address::zero(net::Family::v4);
    if (length == 0 && family == AF_INET6) return net::Address::zero(net::Family::v6);
    return std::nullopt;
}

std::optional<net::MacAddress> mac_from(nl_addr* addr) {
    if (!addr || nl_addr_get_len(addr) != 6) return std::nullopt;
    const auto* data = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(addr));
    return net::MacAddress::from_bytes({data, 6});
}

// ---- links ----

namespace {
void set_vxlan_info(rtnl_link* link, const VxlanInfo& info, const std::string& what,
                    const VxlanInfo* current);
}  // namespace

LibnlPtr<nl_msg> build_link_add(const BridgeSpec& spec) {
    auto link = new_link("bridge", "bridge " + spec.name);
    set_common(link.get(), spec.name, spec.mtu, spec.mac);
    nl_msg* message = nullptr;
    return take(rtnl_link_build_add_request(link.get(), NLM_F_CREATE | NLM_F_EXCL, &message),
                message, "build request for bridge " + spec.name);
}

LibnlPtr<nl_msg> build_link_add(const VxlanSpec& spec) {
    const std::string what = "vxlan " + spec.name;
    LibnlPtr<rtnl_link> link(rtnl_link_vxlan_alloc());
    if (!link) throw SystemError("allocate " + what, ENOMEM);
    set_common(link.get(), spec.name, spec.mtu, spec.mac);
    set_vxlan_info(link.get(), spec.info, what, nullptr);
    nl_msg* message = nullptr;
    return take(rtnl_link_build_add_request(link.get(), NLM_F_CREATE | NLM_F_EXCL, &message),
                message, "build request for " + what);
}

namespace {
// Sets the attributes of `info` that differ from `current` (all of them without `current`):
// the kernel refuses some attributes on a change even when their value stays the same.
void set_vxlan_info(rtnl_link* link, const VxlanInfo& info, const std::string& what,
                    const VxlanInfo* current) {
    if (!current || current->vni != info.vni)
        check_libnl(rtnl_link_vxlan_set_id(link, info.vni), what);
    if (!current || current->port != info.port)
        check_libnl(rtnl_link_vxlan_set_port(link, info.port), what);
    if (!current || current->learning != info.learning)
        check_libnl(rtnl_link_vxlan_set_learning(link, info.learning ? 1 : 0), what);
    if (info.local && (!current || current->local != info.local))
        check_libnl(rtnl_link_vxlan_set_local(link, to_nl_addr(*info.local).get()), what);
    if (info.underlay_index && (!current || current->underlay_index != info.underlay_index))
        check_libnl(rtnl_link_vxlan_set_link(link, static_cast<std::uint32_t>(info.underlay_index)),
                    what);
}
}  // namespace

LibnlPtr<nl_msg> build_vxlan_change(int index, const VxlanInfo& current, const VxlanInfo& wanted) {
    LibnlPtr<rtnl_link> changes(rtnl_link_vxlan_alloc());
    if (!changes) throw SystemError("allocate vxlan", ENOMEM);
    set_vxlan_info(changes.get(), wanted, "vxlan", &current);
    return build_link_change(index, changes.get());
}

LibnlPtr<nl_msg> build_link_add(const WireguardLinkSpec& spec) {
    auto link = new_link("wireguard", "wireguard " + spec.name);
    set_common(link.get(), spec.name, spec.mtu, std::nullopt);
    nl_msg* message = nullptr;
    return take(rtnl_link_build_add_request(link.get(), NLM_F_CREATE | NLM_F_EXCL, &message),
                message, "build request for wireguard " + spec.name);
}

LibnlPtr<nl_msg> build_link_add(const VethSpec& spec, int peer_netns_fd) {
    const std::string what = "veth " + spec.name;
    LibnlPtr<rtnl_link> link(rtnl_link_veth_alloc());
    if (!link) throw SystemError("allocate " + what, ENOMEM);
    LibnlPtr<rtnl_link> peer(rtnl_link_veth_get_peer(link.get()));
    set_common(link.get(), spec.name, spec.mtu, spec.mac);
    set_common(peer.get(), spec.peer_name, spec.mtu, spec.peer_mac);
    if (peer_netns_fd >= 0) rtnl_link_set_ns_fd(peer.get(), peer_netns_fd);
    nl_msg* message = nullptr;
    return take(rtnl_link_build_add_request(link.get(), NLM_F_CREATE | NLM_F_EXCL, &message),
                message, "build request for " + what);
}

LibnlPtr<nl_msg> build_link_change(int index, rtnl_link* changes) {
    auto orig = new_link(nullptr, "link");
    rtnl_link_set_ifindex(orig.get(), index);
    nl_msg* message = nullptr;
    return take(rtnl_link_build_change_request(orig.get(), changes, 0, &message), message,
                "build link change request");
}

LibnlPtr<nl_msg> build_link_get(int index, std::string_view name) {
    const std::string name_string(name);
    nl_msg* message = nullptr;
    return take(
        rtnl_link_build_get_request(index, name.empty() ? nullptr : name_string.c_str(), &message),
        message, "build link request");
}

LibnlPtr<nl_msg> build_link_delete(int index) {
    auto link = new_link(nullptr, "link");
    rtnl_link_set_ifindex(link.get(), index);
    nl_msg* message = nullptr;
    return take(rtnl_link_build_delete_request(link.get(), &message), message,
                "build link delete request");
}

std::optional<Link> parse_link(const nlmsghdr* message) {
    auto link = parse_generic<rtnl_link>(message);
    if (!link) return std::nullopt;
    Link result;
    result.index = rtnl_link_get_ifindex(link.get());
    if (const char* name = rtnl_link_get_name(link.get())) result.name = name;
    if (const char* kind = rtnl_link_get_type(link.get())) result.kind = kind;
    result.mtu = rtnl_link_get_mtu(link.get());
    result.mac = mac_from(rtnl_link_get_addr(link.get()));
    result.flags = rtnl_link_get_flags(link.get());
    result.master = rtnl_link_get_master(link.get());
    if (rtnl_link_is_vxlan(link.get())) {
        VxlanInfo info;
        std::uint32_t value = 0;
        if (rtnl_link_vxlan_get_id(link.get(), &value) == 0) info.vni = value;
        if (rtnl_link_vxlan_get_port(link.get(), &value) == 0)
            info.port = static_cast<std::uint16_t>(value);
        if (rtnl_link_vxlan_get_link(link.get(), &value) == 0)
            info.underlay_index = static_cast<int>(value);
        nl_addr* local = nullptr;
        if (rtnl_link_vxlan_get_local(link.get(), &local) == 0) {
            LibnlPtr<nl_addr> owned(local);
            info.local = address_from(local, AF_UNSPEC);
        }
        info.learning = rtnl_link_vxlan_get_learning(link.get()) > 0;
        result.vxlan = info;
    }
    return result;
}

// ---- addresses ----

LibnlPtr<nl_msg> build_address(int type, int flags, int link_index, const net::Prefix& address,
                               std::uint32_t address_flags) {
    auto addr = checked(rtnl_addr_alloc(), "address");
    rtnl_addr_set_ifindex(addr.get(), link_index);
    rtnl_addr_set_family(addr.get(), address_family(address.family()));
    check_libnl(rtnl_addr_set_local(addr.get(), to_nl_addr(address).get()), "address");
    rtnl_addr_set_prefixlen(addr.get(), address.length());
    if (address_flags) rtnl_addr_set_flags(addr.get(), address_flags);
    nl_msg* message = nullptr;
    const int result = type == RTM_NEWADDR
                           ? rtnl_addr_build_add_request(addr.get(), flags, &message)
                           : rtnl_addr_build_delete_request(addr.get(), flags, &message);
    return take(result, message, "build address request");
}

std::optional<InterfaceAddress> parse_address(const nlmsghdr* message) {
    auto addr = parse_generic<rtnl_addr>(message);
    if (!addr) return std::nullopt;
    const int family = rtnl_addr_get_family(addr.get());
    if (family != AF_INET && family != AF_INET6) return std::nullopt;
    auto local = address_from(rtnl_addr_get_local(addr.get()), family);
    if (!local) return std::nullopt;
    InterfaceAddress result;
    result.link_index = rtnl_addr_get_ifindex(addr.get());
    result.prefix = net::Prefix(*local, rtnl_addr_get_prefixlen(addr.get()));
    result.scope = static_cast<std::uint8_t>(rtnl_addr_get_scope(addr.get()));
    return result;
}

// ---- routes ----

LibnlPtr<nl_msg> build_route(int type, int flags, const Route& route) {
    auto r = checked(rtnl_route_alloc(), "route");
    rtnl_route_set_family(r.get(),
                          static_cast<std::uint8_t>(address_family(route.destination.family())));
    check_libnl(rtnl_route_set_dst(r.get(), to_nl_addr(route.destination).get()),
                "route destination");
    rtnl_route_set_table(r.get(), route.table);
    rtnl_route_set_protocol(r.get(), route.protocol);
    rtnl_route_set_type(r.get(), static_cast<std::uint8_t>(route.type));
    rtnl_route_set_priority(r.get(), route.priority);
    std::uint8_t scope = RT_SCOPE_NOWHERE;  // a delete without scope matches any scope
    if (route.scope) {
        scope = *route.scope;
    } else if (type == RTM_NEWROUTE) {
        const bool device_route = route.type == RouteType::unicast && !route.gateway;
        scope = device_route ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    }
    rtnl_route_set_scope(r.get(), scope);
    if (route.source)
        check_libnl(rtnl_route_set_pref_src(r.get(), to_nl_addr(*route.source).get()),
                    "route source");
    if (route.gateway || route.oif) {
        rtnl_nexthop* hop = rtnl_route_nh_alloc();
        if (!hop) throw SystemError("allocate route next hop", ENOMEM);
        if (route.oif) rtnl_route_nh_set_ifindex(hop, route.oif);
        if (route.gateway) rtnl_route_nh_set_gateway(hop, to_nl_addr(*route.gateway).get());
        if (route.onlink) rtnl_route_nh_set_flags(hop, RTNH_F_ONLINK);
        rtnl_route_add_nexthop(r.get(), hop);  // the route owns it now
    }
    nl_msg* message = nullptr;
    const int result = type == RTM_NEWROUTE
                           ? rtnl_route_build_add_request(r.get(), flags, &message)
                           : rtnl_route_build_del_request(r.get(), flags, &message);
    return take(result, message, "build route request");
}

LibnlPtr<nl_msg> build_route_get(const net::Address& destination) {
    LibnlPtr<nl_msg> message(nlmsg_alloc_simple(RTM_GETROUTE, 0));
    if (!message) throw SystemError("allocate route get request", ENOMEM);
    rtmsg header{};
    header.rtm_family = static_cast<std::uint8_t>(address_family(destination.family()));
    header.rtm_dst_len = destination.is_v4() ? 32 : 128;
    check_libnl(nlmsg_append(message.get(), &header, sizeof header, NLMSG_ALIGNTO),
                "build route get request");
    check_libnl(nla_put_addr(message.get(), RTA_DST, to_nl_addr(destination).get()),
                "route get destination");
    return message;
}

std::optional<Route> parse_route(const nlmsghdr* message) {
    rtnl_route* raw = nullptr;
    if (rtnl_route_parse(const_cast<nlmsghdr*>(message), &raw) < 0) return std::nullopt;
    LibnlPtr<rtnl_route> r(raw);
    const int family = rtnl_route_get_family(r.get());
    if (family != AF_INET && family != AF_INET6) return std::nullopt;
    nl_addr* dst = rtnl_route_get_dst(r.get());
    auto destination = address_from(dst, family);
    if (!destination) return std::nullopt;
    Route result;
    result.destination =
        net::Prefix(*destination, dst ? static_cast<int>(nl_addr_get_prefixlen(dst)) : 0);
    result.table = rtnl_route_get_table(r.get());
    result.protocol = rtnl_route_get_protocol(r.get());
    result.scope = rtnl_route_get_scope(r.get());
    result.type = static_cast<RouteType>(rtnl_route_get_type(r.get()));
    result.priority = rtnl_route_get_priority(r.get());
    result.source = address_from(rtnl_route_get_pref_src(r.get()), family);
    if (rtnl_route_get_nnexthops(r.get()) >= 1) {
        rtnl_nexthop* hop = rtnl_route_nexthop_n(r.get(), 0);
        result.oif = rtnl_route_nh_get_ifindex(hop);
        result.gateway = address_from(rtnl_route_nh_get_gateway(hop), family);
        result.onlink = rtnl_route_nh_get_flags(hop) & RTNH_F_ONLINK;
    }
    return result;
}

// ---- neighbours and FDB ----

LibnlPtr<nl_msg> build_neighbour(int type, int flags, const Neighbour& neighbour) {
    auto n = checked(rtnl_neigh_alloc(), "neighbour");
    rtnl_neigh_set_ifindex(n.get(), neighbour.link_index);
    rtnl_neigh_set_family(n.get(), address_family(neighbour.address.family()));
    check_libnl(rtnl_neigh_set_dst(n.get(), to_nl_addr(neighbour.address).get()),
                "neighbour address");
    if (neighbour.lladdr) rtnl_neigh_set_lladdr(n.get(), to_nl_addr(*neighbour.lladdr).get());
    rtnl_neigh_set_state(n.get(), neighbour.state);
    if (neighbour.flags) rtnl_neigh_set_flags(n.get(), neighbour.flags);
    nl_msg* message = nullptr;
    const int result = type == RTM_NEWNEIGH
                           ? rtnl_neigh_build_add_request(n.get(), flags, &message)
                           : rtnl_neigh_build_delete_request(n.get(), flags, &message);
    return take(result, message, "build neighbour request");
}

LibnlPtr<nl_msg> build_fdb(int type, int flags, const FdbEntry& entry) {
    auto n = checked(rtnl_neigh_alloc(), "fdb entry");
    rtnl_neigh_set_ifindex(n.get(), entry.link_index);
    rtnl_neigh_set_lladdr(n.get(), to_nl_addr(entry.mac).get());
    // libnl ties dst's family to the object's family until the family is set: dst first.
    if (entry.dst)
        check_libnl(rtnl_neigh_set_dst(n.get(), to_nl_addr(*entry.dst).get()), "fdb dst");
    rtnl_neigh_set_family(n.get(), AF_BRIDGE);
    rtnl_neigh_set_state(n.get(), entry.state);
    if (entry.flags) rtnl_neigh_set_flags(n.get(), entry.flags);
    if (entry.vlan) rtnl_neigh_set_vlan(n.get(), entry.vlan);
    nl_msg* message = nullptr;
    const int result = type == RTM_NEWNEIGH
                           ? rtnl_neigh_build_add_request(n.get(), flags, &message)
                           : rtnl_neigh_build_delete_request(n.get(), flags, &message);
    return take(result, message, "build fdb request");
}

namespace {
LibnlPtr<rtnl_neigh> parse_neigh(const nlmsghdr* message) {
    rtnl_neigh* raw = nullptr;
    if (rtnl_neigh_parse(const_cast<nlmsghdr*>(message), &raw) < 0) return nullptr;
    return LibnlPtr<rtnl_neigh>(raw);
}
}  // namespace

std::optional<Neighbour> parse_neighbour(const nlmsghdr* message) {
    auto n = parse_neigh(message);
    if (!n) return std::nullopt;
    const int family = rtnl_neigh_get_family(n.get());
    if (family != AF_INET && family != AF_INET6) return std::nullopt;
    auto address = address_from(rtnl_neigh_get_dst(n.get()), family);
    if (!address) return std::nullopt;
    Neighbour result;
    result.link_index = rtnl_neigh_get_ifindex(n.get());
    result.address = *address;
    result.lladdr = mac_from(rtnl_neigh_get_lladdr(n.get()));
    result.state = static_cast<std::uint16_t>(rtnl_neigh_get_state(n.get()));
    result.flags = static_cast<std::uint8_t>(rtnl_neigh_get_flags(n.get()));
    return result;
}

std::optional<FdbEntry> parse_fdb(const nlmsghdr* message) {
    auto n = parse_neigh(message);
    if (!n || rtnl_neigh_get_family(n.get()) != AF_BRIDGE) return std::nullopt;
    auto mac = mac_from(rtnl_neigh_get_lladdr(n.get()));
    if (!mac) return std::nullopt;
    FdbEntry result;
    result.link_index = rtnl_neigh_get_ifindex(n.get());
    result.mac = *mac;
    result.dst = address_from(rtnl_neigh_get_dst(n.get()), AF_UNSPEC);
    result.state = static_cast<std::uint16_t>(rtnl_neigh_get_state(n.get()));
    result.flags = static_cast<std::uint8_t>(rtnl_neigh_get_flags(n.get()));
    result.master = rtnl_neigh_get_master(n.get());
    const int vlan = rtnl_neigh_get_vlan(n.get());
    result.vlan = vlan > 0 ? static_cast<std::uint16_t>(vlan) : 0;
    return result;
}

}  // namespace twill::netlink::detail
