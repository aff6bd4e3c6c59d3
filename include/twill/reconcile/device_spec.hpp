#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"
#include "twill/netlink/objects.hpp"

namespace twill::reconcile {

// A device twill owns whole (twill0, twill.<VNI>): its kind and parameters, MTU, MAC, the
// exact set of its (non-link-local) addresses, and that it is up.
struct DeviceSpec {
    enum class Kind { bridge, vxlan };
    Kind kind = Kind::bridge;
    std::string name;
    std::optional<netlink::VxlanInfo> vxlan;
    std::uint32_t mtu = 1500;
    std::optional<net::MacAddress> mac;
    std::vector<net::Prefix> addresses;

    friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;
};

}  // namespace twill::reconcile
