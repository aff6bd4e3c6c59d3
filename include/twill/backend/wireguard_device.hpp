#pragma once
// One WireGuard device, configured either by the kernel (generic netlink family "wireguard")
// or by Debian's userspace wireguard-go (a TUN device and a UAPI socket), behind one
// interface so the backend's reconciliation is the same for both.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "twill/netlink/handle.hpp"
#include "twill/netlink/wireguard.hpp"

namespace twill::backend {

class WireguardDevice {
  public:
    virtual ~WireguardDevice() = default;

    // For `netctl status`: "kernel", "userspace (wireguard-go)".
    virtual std::string implementation() const = 0;
    // Makes the device exist (creates the link, or starts wireguard-go when it is not running)
    // and returns it; nullopt in dry-run mode when it does not exist. `recreated` is set when
    // it was made anew (its addresses, routes and configuration are gone).
    virtual std::optional<netlink::Link> ensure(netlink::Handle& handle, bool dry_run,
                                                bool& recreated) = 0;
    // The device's configuration as it is now.
    virtual netlink::WireguardDeviceConfig read() = 0;
    virtual void apply(const netlink::WireguardChange& change) = 0;
    // Deletes the device and stops anything started for it.
    virtual void remove(netlink::Handle& handle) = 0;
};

// Whether the kernel's "wireguard" generic netlink family resolves in this namespace.
bool kernel_wireguard_available();

std::unique_ptr<WireguardDevice> make_kernel_wireguard_device(std::string name);
// wireguard-go for device `name`, its UAPI socket dir bound to <run_dir>/wireguard.
std::unique_ptr<WireguardDevice> make_userspace_wireguard_device(std::string name,
                                                                 std::filesystem::path run_dir);

}  // namespace twill::backend
