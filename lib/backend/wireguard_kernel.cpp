// The kernel's WireGuard: link kind "wireguard" over rtnetlink, configuration over the
// generic netlink family "wireguard" (lib/netlink speaks both).
#include <cerrno>

#include "twill/backend/wireguard_device.hpp"
#include "twill/error.hpp"

namespace twill::backend {

bool kernel_wireguard_available() {
    try {
        return netlink::WireguardNetlink::open().has_value();
    } catch (const Error&) {
        return false;
    }
}

namespace {

class KernelWireguardDevice final : public WireguardDevice {
  public:
    explicit KernelWireguardDevice(std::string name) : name_(std::move(name)) {}

    std::string implementation() const override { return "kernel"; }

    std::optional<netlink::Link> ensure(netlink::Handle& handle, bool dry_run,
                                        bool& recreated) override {
        recreated = false;
        auto link = handle.find_link(name_);
        if (link && link->kind == "wireguard") return link;
        if (dry_run) return std::nullopt;
        if (link) handle.delete_link(link->index);  // a device of another kind under twill's name
        recreated = true;
        return handle.create_wireguard({name_, std::nullopt});
    }

    netlink::WireguardDeviceConfig read() override { return genl().get_device(name_); }
    void apply(const netlink::WireguardChange& change) override {
        genl().set_device(name_, change);
    }

    void remove(netlink::Handle& handle) override {
        if (auto link = handle.find_link(name_)) handle.delete_link(link->index);
    }

  private:
    netlink::WireguardNetlink& genl() {
        if (!genl_) {
            genl_ = netlink::WireguardNetlink::open();
            if (!genl_) throw SystemError("resolve generic netlink family wireguard", ENOENT);
        }
        return *genl_;
    }

    std::string name_;
    std::optional<netlink::WireguardNetlink> genl_;
};

}  // namespace

std::unique_ptr<WireguardDevice> make_kernel_wireguard_device(std::string name) {
    return std::make_unique<KernelWireguardDevice>(std::move(name));
}

}  // namespace twill::backend
