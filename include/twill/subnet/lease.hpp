#pragma once
// A subnet lease as stored in etcd: key `<prefix>/subnets/10.244.3.0-24`, value
// {"PublicIP":"…","Node":"…","BackendType":"vxlan","BackendData":{"VtepMAC":"…"}}
// (WireGuard: "BackendData":{"PublicKey":"<base64 of 32 bytes>"}).
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

using LeaseBackendData = std::variant<VxlanLeaseData, WireguardLeaseData>;
BackendType backend_type(const LeaseBackendData& data);

// What a node publishes about itself.
struct LeaseValue {
    net::Address public_ip;
    std::string node;
    LeaseBackendData backend_data;

    BackendType backend_type() const { return subnet::backend_type(backend_data); }
    friend bool operator==(const LeaseValue&, const LeaseValue&) = default;
};

// A lease read from etcd, with the revisions the overlap rule and the keeper need.
struct Lease {
    net::Prefix subnet;
    LeaseValue value;
    std::string key;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t etcd_lease = 0;  // the etcd lease ID the key is attached to; 0 = none
    friend bool operator==(const Lease&, const Lease&) = default;
};

// "<prefix>/subnets/"; `prefix` is the etcd prefix (default "/twill/network").
std::string subnets_key_prefix(std::string_view prefix);
// "<prefix>/config".
std::string config_key(std::string_view prefix);
// "<prefix>/subnets/10.244.3.0-24".
std::string subnet_key(std::string_view prefix, const net::Prefix& subnet);
// The subnet a key names, or nullopt when it is not `<prefix>/subnets/<address>-<length>`
// with host bits clear.
std::optional<net::Prefix> parse_subnet_key(std::string_view prefix, std::string_view key);

std::string encode_lease_value(const LeaseValue& value);
// Throws ParseError naming the field ("PublicIP", "BackendData.VtepMAC", ...). Checks syntax
// only; whether a lease may be used (range, public IP, MAC, backend) is validate_lease's job.
LeaseValue decode_lease_value(std::string_view json);

}  // namespace twill::subnet
