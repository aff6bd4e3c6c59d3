#pragma once
#include <optional>
#include <string>

#include "twill/backend/backend.hpp"
#include "twill/netlink/handle.hpp"

namespace twill::daemon {

// Picks the underlay (DESIGN.md: `--iface`, `--public-ip`, or the interface of the default
// route) and reads its address and MTU. Throws Error saying what is missing: no default
// route, no usable address on the interface, no interface holding --public-ip.
backend::Underlay find_underlay(netlink::Handle& handle, const std::string& iface,
                                const std::optional<net::Address>& public_ip);

}  // namespace twill::daemon
