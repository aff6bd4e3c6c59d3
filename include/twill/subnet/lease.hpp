#pragma once
// A subnet lease as stored in etcd, in flannel's format: key `<prefix>/subnets/10.244.3.0-24`
// (dual-stack `10.244.3.0-24&fd00:10:244:3::-64`, IPv6-only `fd00:10:244:3::-64`), value
// {"PublicIP":"…","Node":"…","BackendType":"vxlan","BackendData":{"VtepMAC":"…"}}
// (WireGuard: "BackendData":{"PublicKey":"<base64 of 32 bytes>"}; host-gw: no BackendData), with
// "PublicIPv6" and "BackendV6Data" (the IPv6 VXLAN device's VtepMAC) where the node has an IPv6
// underlay.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"
#include "twill/subnet/config.hpp"

namespace twill::subnet {

struct VxlanLeaseData {
    net::MacAddress vtep_mac;
    friend bool operator==(const VxlanLeaseData&, const VxlanLeaseData&) = default;
};

struct WireguardLeaseData {
    std::array<std::uint8_t, 32> public_key{};
    std::string public_key_base64() const;
    // Throws ParseError naming `field` unless `text` is the base64 of exactly 32 bytes.
    static WireguardLeaseData from_base64(std::string_view text,
                                          std::string_view field = "BackendData.PublicKey");
    friend bool operator==(const WireguardLeaseData&, const WireguardLeaseData&) = default;
};

// host-gw: nothing beyond the public address (flannel writes no BackendData).
struct HostGwLeaseData {
    friend bool operator==(const HostGwLeaseData&, const HostGwLeaseData&) = default;
};

using LeaseBackendData = std::variant<VxlanLeaseData, WireguardLeaseData, HostGwLeaseData>;
BackendType backend_type(const LeaseBackendData& data);

// What a node publishes about itself.
struct LeaseValue {
    // The underlay address of the node's overlay device. flannel's IPv6-only leases carry
    // "0.0.0.0" here and the address in PublicIPv6: they decode to that address.
    net::Address public_ip;
    std::string node;
    LeaseBackendData backend_data;
    // The IPv6 underlay address and data of the node's IPv6 overlay device, if it has one.
    std::optional<net::Address> public_ipv6{};
    std::optional<LeaseBackendData> backend_v6_data{};

    BackendType backend_type() const { return subnet::backend_type(backend_data); }
    friend bool operator==(const LeaseValue&, const LeaseValue&) = default;
};

// A lease read from etcd, with the revisions the overlap rule and the keeper need.
struct Lease {
    // The key's first subnet: IPv4, or IPv6 in an IPv6-only network. It names the lease.
    net::Prefix subnet;
    LeaseValue value;
    std::string key;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t etcd_lease = 0;  // the etcd lease ID the key is attached to; 0 = none
    // The key's IPv6 subnet in a dual-stack network; none for a v4-only lease.
    std::optional<net::Prefix> ipv6_subnet{};
    friend bool operator==(const Lease&, const Lease&) = default;
};

// The subnets a key under `<prefix>/subnets/` names.
struct SubnetKey {
    net::Prefix subnet;                        // the first (or only) half
    std::optional<net::Prefix> ipv6_subnet{};  // the IPv6 half after "&"
    friend bool operator==(const SubnetKey&, const SubnetKey&) = default;
};

// "<prefix>/subnets/"; `prefix` is the etcd prefix (default "/twill/network").
std::string subnets_key_prefix(std::string_view prefix);
// "<prefix>/config".
std::string config_key(std::string_view prefix);
// "<prefix>/subnets/10.244.3.0-24", or "<prefix>/subnets/10.244.3.0-24&fd00:10:244:3::-64".
std::string subnet_key(std::string_view prefix, const net::Prefix& subnet,
                       const std::optional<net::Prefix>& ipv6_subnet = std::nullopt);
// The subnets a key names, or nullopt when it is not `<prefix>/subnets/<address>-<length>`,
// optionally followed by `&<IPv6 address>-<length>`, with host bits clear. flannel's IPv6-only
// form `0.0.0.0-0&<IPv6 subnet>` names the IPv6 subnet alone.
std::optional<SubnetKey> parse_subnet_key(std::string_view prefix, std::string_view key);

std::string encode_lease_value(const LeaseValue& value);
// Throws ParseError naming the field ("PublicIP", "PublicIPv6", "BackendData.VtepMAC",
// "BackendV6Data.VtepMAC", ...). Checks syntax only; whether a lease may be used (range, public IP,
// MAC, backend) is validate_lease's job.
LeaseValue decode_lease_value(std::string_view json);

}  // namespace twill::subnet
