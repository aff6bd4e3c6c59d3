#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "twill/net/prefix.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/reconcile/report.hpp"

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
};

// Makes the device match `spec`: creates it when missing, recreates it when a parameter that
// cannot change in place differs (kind, VXLAN VNI/port/local/underlay/learning), and otherwise
// fixes MTU, MAC, addresses and up in place. Returns the link, or nullopt in dry-run mode when
// it does not exist. `report.changes` says what was (or would be) done; `recreated` is set
// when the device was made anew (everything on it is gone).
std::optional<netlink::Link> reconcile_device(netlink::Handle& handle, const DeviceSpec& spec,
                                              bool dry_run, Report& report,
                                              bool* recreated = nullptr);

// Deletes the device if present (leave). Returns whether it existed.
bool remove_device(netlink::Handle& handle, const std::string& name, Report& report);

}  // namespace twill::reconcile
