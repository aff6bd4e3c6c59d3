#pragma once
// Plain value types for the kernel objects lib/netlink creates and dumps. They carry no
// libnl types, compare with ==, and print the way `ip` shows them (for logs and errors).
// Numeric fields use the kernel's own values (<linux/rtnetlink.h>, <linux/neighbour.h>,
// <net/if.h>), named below where twill needs them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"

namespace twill::netlink {

class Netns;

// ---- links -------------------------------------------------------------------------------

struct VxlanInfo {
    std::uint32_t vni = 0;
    std::uint16_t port = 4789;          // UDP destination port, host order
    std::optional<net::Address> local;  // v4 or v6 source address
    int underlay_index = 0;             // IFLA_VXLAN_LINK; 0 = none
    bool learning = false;

    friend bool operator==(const VxlanInfo&, const VxlanInfo&) = default;
};

// A link as the kernel reports it.
struct Link {
    int index = 0;
    std::string name;
    std::string kind;  // IFLA_INFO_KIND: "bridge", "veth", "vxlan", ... ("" if none)
    std::uint32_t mtu = 0;
    std::optional<net::MacAddress> mac;
    std::uint32_t flags = 0;         // IFF_* (IFF_UP, IFF_LOWER_UP, ...)
    int master = 0;                  // index of the bridge it is enslaved to; 0 = none
    std::optional<VxlanInfo> vxlan;  // set for kind "vxlan"

    bool is_up() const noexcept;        // administratively up (IFF_UP)
    bool has_carrier() const noexcept;  // IFF_LOWER_UP

    friend bool operator==(const Link&, const Link&) = default;
};

struct BridgeSpec {
    std::string name;
    std::optional<std::uint32_t> mtu;
    std::optional<net::MacAddress> mac;
};

// A veth pair; the peer is created directly inside `peer_netns` (IFLA_NET_NS_FD) when given,
// else next to the first end. Both ends start down.
struct VethSpec {
    std::string name;
    std::string peer_name;
    const Netns* peer_netns = nullptr;  // not owned; only used during the call
    std::optional<std::uint32_t> mtu;   // both ends
    std::optional<net::MacAddress> mac;
    std::optional<net::MacAddress> peer_mac;
};

struct VxlanSpec {
    std::string name;
    VxlanInfo info;
    std::optional<std::uint32_t> mtu;
    std::optional<net::MacAddress> mac;
};

// A WireGuard device (kind "wireguard"); configured over generic netlink (wireguard.hpp).
struct WireguardLinkSpec {
    std::string name;
    std::optional<std::uint32_t> mtu;
};

// ---- addresses ---------------------------------------------------------------------------

struct InterfaceAddress {
    int link_index = 0;
    net::Prefix prefix;      // address with its prefix length, host bits kept ("10.244.3.1/24")
    std::uint8_t scope = 0;  // RT_SCOPE_*; ignored on add (the kernel derives it)

    friend bool operator==(const InterfaceAddress&, const InterfaceAddress&) = default;
};

struct AddressOptions {
    // IPv6: usable at once instead of "tentative" for a second or two (IFA_F_NODAD); for
    // addresses twill allocates uniquely itself (pods, its own devices).
    bool no_dad = false;
};

// ---- routes ------------------------------------------------------------------------------

inline constexpr std::uint32_t route_table_main = 254;    // RT_TABLE_MAIN
inline constexpr std::uint8_t route_scope_universe = 0;   // RT_SCOPE_UNIVERSE
inline constexpr std::uint8_t route_scope_link = 253;     // RT_SCOPE_LINK
inline constexpr std::uint8_t route_protocol_boot = 3;    // RTPROT_BOOT, what `ip route add` uses
inline constexpr std::uint8_t route_protocol_kernel = 2;  // RTPROT_KERNEL

enum class RouteType : std::uint8_t {
    unicast = 1,      // RTN_UNICAST
    local = 2,        // RTN_LOCAL (dumps only)
    broadcast = 3,    // RTN_BROADCAST (dumps only)
    blackhole = 6,    // RTN_BLACKHOLE
    unreachable = 7,  // RTN_UNREACHABLE
    prohibit = 8,     // RTN_PROHIBIT
};
std::string_view to_string(RouteType type);

struct Route {
    net::Prefix destination;
    std::optional<net::Address> gateway;
    int oif = 0;  // output device index; 0 = none (unreachable routes)
    std::uint8_t protocol = route_protocol_boot;
    // On add/replace, nullopt picks what `ip` picks: link for a device route without a
    // gateway, universe otherwise. Dumps always fill it.
    std::optional<std::uint8_t> scope;
    RouteType type = RouteType::unicast;
    bool onlink = false;         // RTNH_F_ONLINK
    std::uint32_t priority = 0;  // metric; note the kernel stores 0 as 1024 for IPv6
    std::uint32_t table = route_table_main;
    std::optional<net::Address> source;  // RTA_PREFSRC

    friend bool operator==(const Route&, const Route&) = default;
};

// Every set field must match; unset fields match anything.
struct RouteFilter {
    std::optional<net::Family> family;
    std::optional<std::uint8_t> protocol;
    std::optional<int> oif;
    std::optional<std::uint32_t> table;
    std::optional<RouteType> type;

    bool matches(const Route& route) const;
};

// ---- neighbours (ARP / NDP) --------------------------------------------------------------

inline constexpr std::uint16_t nud_permanent = 0x80;    // NUD_PERMANENT
inline constexpr std::uint16_t nud_noarp = 0x40;        // NUD_NOARP
inline constexpr std::uint16_t nud_reachable = 0x02;    // NUD_REACHABLE
inline constexpr std::uint8_t ntf_self = 0x02;          // NTF_SELF
inline constexpr std::uint8_t ntf_master = 0x04;        // NTF_MASTER
inline constexpr std::uint8_t ntf_extern_learn = 0x10;  // NTF_EXT_LEARNED

struct Neighbour {
    int link_index = 0;
    net::Address address;
    std::optional<net::MacAddress> lladdr;
    std::uint16_t state = nud_permanent;  // NUD_*
    std::uint8_t flags = 0;               // NTF_*

    friend bool operator==(const Neighbour&, const Neighbour&) = default;
};

struct NeighbourFilter {
    std::optional<net::Family> family;
    std::optional<int> link_index;

    bool matches(const Neighbour& neighbour) const;
};

// ---- bridge FDB entries (AF_BRIDGE neighbours) -------------------------------------------

// An FDB entry of a bridge port or of a VXLAN device. twill's VXLAN peers are
// `<mac> dst <ip> self permanent` on twill.<VNI>. A VXLAN device's dump also holds entries
// without NTF_SELF (the bridge's view of the port) or without dst: filter on flags and dst.
struct FdbEntry {
    int link_index = 0;
    net::MacAddress mac;
    std::optional<net::Address> dst;  // remote VTEP (NDA_DST)
    std::uint16_t state = nud_permanent;
    std::uint8_t flags = ntf_self;
    int master = 0;          // dumps: the bridge of a bridge port entry (NDA_MASTER); 0 = none
    std::uint16_t vlan = 0;  // dumps: NDA_VLAN; 0 = none

    bool is_self() const noexcept { return flags & ntf_self; }

    friend bool operator==(const FdbEntry&, const FdbEntry&) = default;
};

// ---- printing (the way `ip`/`bridge` show objects; dev is the device name when known) ----

std::string to_string(const Link& link);
std::string to_string(const InterfaceAddress& address, std::string_view dev = {});
std::string to_string(const Route& route, std::string_view dev = {});
std::string to_string(const Neighbour& neighbour, std::string_view dev = {});
std::string to_string(const FdbEntry& entry, std::string_view dev = {});

}  // namespace twill::netlink
