#pragma once
// netlink::Handle: one rtnetlink socket bound to one network namespace, and every operation
// twill performs on links, addresses, routes, neighbours and FDB entries there.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"
#include "twill/netlink/netns.hpp"
#include "twill/netlink/objects.hpp"

namespace twill::netlink {

// Not thread-safe: one Handle per thread (or guard it). Each call is one netlink request
// (dumps: one dump request) on the Handle's socket; no caches, no per-call sockets.
// Failures throw SystemError with the kernel's errno and a message naming the operation and
// the object: "add route 10.244.3.0/24 via 10.244.3.0 dev twill.1 proto 137: File exists
// (errno 17)". Lookups of things that may be absent return std::optional.
class Handle {
  public:
    // A socket in the calling thread's current namespace.
    Handle();
    // A socket in `netns` (created on a helper thread; the socket stays in that namespace).
    explicit Handle(const Netns& netns);
    Handle(Handle&&) noexcept;
    Handle& operator=(Handle&&) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle();

    // ---- links ----
    // Create and return the new link (as read back). Throw SystemError(EEXIST) when the name
    // is taken, ParseError for a name the kernel cannot hold (empty, 16+ characters, '/').
    Link create_bridge(const BridgeSpec& spec);
    Link create_vxlan(const VxlanSpec& spec);
    // Kind "wireguard"; EOPNOTSUPP when the kernel has no WireGuard.
    Link create_wireguard(const WireguardLinkSpec& spec);
    // Returns the end in this namespace (`spec.name`); the peer is in spec.peer_netns.
    Link create_veth(const VethSpec& spec);

    std::optional<Link> find_link(std::string_view name);
    std::optional<Link> find_link(int index);
    // find_link or throw SystemError(ENODEV) "find link <name>".
    Link get_link(std::string_view name);
    Link get_link(int index);
    std::vector<Link> list_links();

    void set_link_up(int index);
    void set_link_down(int index);
    void set_mtu(int index, std::uint32_t mtu);
    void set_mac(int index, const net::MacAddress& mac);
    void set_master(int index, int master_index);
    void set_nomaster(int index);
    // Changes a VXLAN device's parameters in place (the underlay address moved). The kernel
    // refuses some changes (VNI, port: EOPNOTSUPP); then delete and create the device.
    void change_vxlan(int index, const VxlanInfo& info);
    // Bridge port flag `hairpin` (IFLA_BRPORT_MODE) of a port enslaved to a bridge.
    void set_hairpin(int port_index, bool on);
    void delete_link(int index);

    // ---- addresses ----
    void add_address(int link_index, const net::Prefix& address,
                     AddressOptions options = {});  // EEXIST if present
    void replace_address(int link_index, const net::Prefix& address, AddressOptions options = {});
    void delete_address(int link_index, const net::Prefix& address);
    // All addresses, or those of one link; optionally one family.
    std::vector<InterfaceAddress> list_addresses(std::optional<int> link_index = {},
                                                 std::optional<net::Family> family = {});

    // ---- routes ----
    void add_route(const Route& route);      // EEXIST if present
    void replace_route(const Route& route);  // create or replace (NLM_F_REPLACE)
    // The kernel deletes the first route matching destination, table and type, and also
    // protocol, priority, gateway and oif unless they are 0 / unset (0 matches any). So a
    // route of protocol 137 never deletes another protocol's route to the same prefix.
    void delete_route(const Route& route);
    // One dump of both families (or `filter.family`), filtered to `filter`.
    std::vector<Route> dump_routes(const RouteFilter& filter = {});
    // The kernel's answer to `ip route get <destination>`: the route a packet to it takes
    // (its oif, gateway and the source address the kernel would pick, RTA_PREFSRC). nullopt
    // when no route leads there (ENETUNREACH, EHOSTUNREACH, an unreachable route).
    std::optional<Route> route_get(const net::Address& destination);

    // ---- neighbours ----
    void add_neighbour(const Neighbour& neighbour);
    void replace_neighbour(const Neighbour& neighbour);
    void delete_neighbour(const Neighbour& neighbour);
    std::vector<Neighbour> dump_neighbours(const NeighbourFilter& filter = {});

    // ---- bridge FDB ----
    void add_fdb(const FdbEntry& entry);      // NLM_F_CREATE|NLM_F_EXCL
    void append_fdb(const FdbEntry& entry);   // NLM_F_CREATE|NLM_F_APPEND (another dst, same mac)
    void replace_fdb(const FdbEntry& entry);  // NLM_F_CREATE|NLM_F_REPLACE
    void delete_fdb(const FdbEntry& entry);
    // Every AF_BRIDGE entry, or those on one device.
    std::vector<FdbEntry> dump_fdb(std::optional<int> link_index = {});

  private:
    struct Socket;
    std::unique_ptr<Socket> socket_;
};

}  // namespace twill::netlink
