#pragma once
#include <optional>
#include <string>

#include "options.hpp"
#include "twill/backend/backend.hpp"
#include "twill/netlink/handle.hpp"

namespace twill::daemon {

// Picks the underlay and reads its address and MTU. A pure function of the selection and the
// links, addresses and routes as they are now, so the daemon calls it again on every link or
// address event. In order, the first that yields an interface wins:
//   --iface (the first named interface that exists), --iface-regex (the first interface, by
//   index, whose name matches and that has a usable address; twill's own devices never),
//   --iface-can-reach (the interface of the route to that address); with none of the three
//   set, the interface of the default route (`family` first).
// The interface's address is its first usable one of `family` (the network's first family:
// IPv6 in an IPv6-only network), else of the other family; beside an IPv4 address, its first
// usable global IPv6 address is the underlay's ipv6_address.
// --public-ip pins the address peers are told: it must then be on the chosen interface, or,
// when it is on no interface (a NAT'ed address), one of the three flags must name the
// interface traffic leaves by. Throws Error saying what is missing.
backend::Underlay find_underlay(netlink::Handle& handle, const UnderlaySelection& selection,
                                const std::optional<net::Address>& public_ip,
                                net::Family family = net::Family::v4);

}  // namespace twill::daemon
