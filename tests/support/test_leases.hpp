#pragma once
// Leases and a WireGuard device for tests of what the node and the backends compute: built in
// memory, no etcd, no kernel. Header-only: tests that use it link twill_backend themselves.
#include <array>
#include <cstdint>

#include "twill/backend/wireguard_device.hpp"
#include "twill/subnet/lease.hpp"

namespace twill::testing {

// A VXLAN lease whose VtepMAC is 02:00:00:00:00:<mac>.
inline subnet::Lease vxlan_lease(const char* subnet, const char* ip, const char* node,
                                 std::uint8_t mac) {
    subnet::Lease l;
    l.subnet = net::Prefix::parse(subnet);
    l.value.public_ip = net::Address::parse(ip);
    l.value.node = node;
    l.value.backend_data = subnet::VxlanLeaseData{
        net::MacAddress::from_bytes(std::array<std::uint8_t, 6>{0x02, 0, 0, 0, 0, mac})};
    return l;
}

// A WireGuard lease whose PublicKey is 32 bytes of `fill`.
inline subnet::Lease wireguard_lease(const char* subnet, const char* ip, const char* node,
                                     std::uint8_t fill) {
    subnet::Lease l;
    l.subnet = net::Prefix::parse(subnet);
    l.value.public_ip = net::Address::parse(ip);
    l.value.node = node;
    netlink::WireguardKey key;
    key.fill(fill);
    l.value.backend_data = subnet::WireguardLeaseData{key};
    return l;
}

// A WireGuard device that only names itself: for what a backend computes, not a device.
class NoWireguardDevice final : public backend::WireguardDevice {
  public:
    std::string implementation() const override { return "memory"; }
    std::optional<netlink::Link> ensure(netlink::Handle&, bool, bool& recreated) override {
        recreated = false;
        return std::nullopt;
    }
    netlink::WireguardDeviceConfig read() override { return {}; }
    void apply(const netlink::WireguardChange&) override {}
    void remove(netlink::Handle&) override {}
};

}  // namespace twill::testing
