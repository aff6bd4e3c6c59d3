#pragma once
// Internal: owning pointers for libnl objects, and conversions between twill's value types
// (objects.hpp) and libnl-route objects and messages.
#include <linux/netlink.h>
#include <netlink/addr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <memory>
#include <optional>
#include <string_view>

#include "twill/netlink/objects.hpp"

namespace twill::netlink::detail {

struct LibnlDeleter {
    void operator()(nl_sock* p) const noexcept { nl_socket_free(p); }
    void operator()(nl_msg* p) const noexcept { nlmsg_free(p); }
    void operator()(nl_addr* p) const noexcept { nl_addr_put(p); }
    void operator()(rtnl_link* p) const noexcept { rtnl_link_put(p); }
    void operator()(rtnl_addr* p) const noexcept { rtnl_addr_put(p); }
    void operator()(rtnl_route* p) const noexcept { rtnl_route_put(p); }
    void operator()(rtnl_neigh* p) const noexcept { rtnl_neigh_put(p); }
};
template <typename T>
using LibnlPtr = std::unique_ptr<T, LibnlDeleter>;

// Throws SystemError(ENOMEM / EINVAL) naming `what` when a libnl call returned an error code
// (libnl's own codes: only used for local failures such as building a message).
int check_libnl(int result, std::string_view what);

LibnlPtr<nl_addr> to_nl_addr(const net::Address& address);
LibnlPtr<nl_addr> to_nl_addr(const net::Prefix& prefix);
LibnlPtr<nl_addr> to_nl_addr(const net::MacAddress& mac);
std::optional<net::Address> address_from(nl_addr* addr, int family);
std::optional<net::MacAddress> mac_from(nl_addr* addr);

// Requests (nlmsg type and flags set; sequence and port are the transport's job).
LibnlPtr<nl_msg> build_link_add(const BridgeSpec& spec);
LibnlPtr<nl_msg> build_link_add(const VxlanSpec& spec);
LibnlPtr<nl_msg> build_link_add(const WireguardLinkSpec& spec);
LibnlPtr<nl_msg> build_link_add(const VethSpec& spec, int peer_netns_fd);
// RTM_SETLINK/NEWLINK change of one link; `changes` holds only what changes.
LibnlPtr<nl_msg> build_link_change(int index, rtnl_link* changes);
LibnlPtr<nl_msg> build_link_get(int index, std::string_view name);
LibnlPtr<nl_msg> build_link_delete(int index);
LibnlPtr<nl_msg> build_address(int type, int flags, int link_index, const net::Prefix& address,
                               std::uint32_t address_flags = 0);
// A change of only the attributes that differ between `current` and `wanted`.
LibnlPtr<nl_msg> build_vxlan_change(int index, const VxlanInfo& current, const VxlanInfo& wanted);
LibnlPtr<nl_msg> build_route(int type, int flags, const Route& route);
// RTM_GETROUTE for one destination (a lookup, not a dump).
LibnlPtr<nl_msg> build_route_get(const net::Address& destination);
LibnlPtr<nl_msg> build_neighbour(int type, int flags, const Neighbour& neighbour);
LibnlPtr<nl_msg> build_fdb(int type, int flags, const FdbEntry& entry);

// Parsers for messages of the matching RTM_* type; nullopt for objects twill does not model
// (another family, a multipath route without a first hop, ...).
std::optional<Link> parse_link(const nlmsghdr* message);
std::optional<InterfaceAddress> parse_address(const nlmsghdr* message);
std::optional<Route> parse_route(const nlmsghdr* message);
std::optional<Neighbour> parse_neighbour(const nlmsghdr* message);
std::optional<FdbEntry> parse_fdb(const nlmsghdr* message);

}  // namespace twill::netlink::detail
