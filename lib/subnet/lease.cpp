#include "twill/subnet/lease.hpp"

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "json_fields.hpp"
#include "twill/error.hpp"

namespace twill::subnet {

std::string WireguardLeaseData::public_key_base64() const {
    std::string text(sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(text.data(), text.size(), public_key.data(), public_key.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    text.resize(text.find('\0'));
    return text;
}

WireguardLeaseData WireguardLeaseData::from_base64(std::string_view text, std::string_view field) {
    WireguardLeaseData data;
    std::size_t length = 0;
    const char* end = nullptr;
    if (sodium_base642bin(data.public_key.data(), data.public_key.size(), text.data(), text.size(),
                          nullptr, &length, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        length != data.public_key.size() || end != text.data() + text.size()) {
        throw ParseError(
            field, "\"" + std::string(text) + "\" is not the base64 of a 32-byte WireGuard key");
    }
    return data;
}

BackendType backend_type(const LeaseBackendData& data) {
    if (std::holds_alternative<VxlanLeaseData>(data)) return BackendType::vxlan;
    if (std::holds_alternative<WireguardLeaseData>(data)) return BackendType::wireguard;
    return BackendType::host_gw;
}

namespace {
std::string_view without_trailing_slash(std::string_view prefix) {
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    return prefix;
}
}  // namespace

std::string subnets_key_prefix(std::string_view prefix) {
    return std::string(without_trailing_slash(prefix)) + "/subnets/";
}

std::string config_key(std::string_view prefix) {
    return std::string(without_trailing_slash(prefix)) + "/config";
}

namespace {

std::string key_part(const net::Prefix& subnet) {
    return subnet.address().to_string() + "-" + std::to_string(subnet.length());
}

std::optional<net::Prefix> parse_key_part(std::string_view name) {
    const auto dash = name.rfind('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto address = net::Address::try_parse(name.substr(0, dash));
    if (!address) return std::nullopt;
    const auto digits = name.substr(dash + 1);
    int length = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || length < 0 ||
        length > address->bits()) {
        return std::nullopt;
    }
    net::Prefix subnet(*address, length);
    if (!subnet.is_network()) return std::nullopt;
    return subnet;
}

}  // namespace

std::string subnet_key(std::string_view prefix, const net::Prefix& subnet,
                       const std::optional<net::Prefix>& ipv6_subnet) {
    auto key = subnets_key_prefix(prefix) + key_part(subnet);
    if (ipv6_subnet) key += "&" + key_part(*ipv6_subnet);
    return key;
}

std::optional<SubnetKey> parse_subnet_key(std::string_view prefix, std::string_view key) {
    const auto base = subnets_key_prefix(prefix);
    if (!key.starts_with(base)) return std::nullopt;
    const auto name = key.substr(base.size());
    const auto amp = name.find('&');
    auto first = parse_key_part(name.substr(0, amp));
    if (!first) return std::nullopt;
    if (amp == std::string_view::npos) return SubnetKey{*first};
    auto second = parse_key_part(name.substr(amp + 1));
    if (!second || !second->address().is_v6()) return std::nullopt;
    if (*first == net::Prefix(net::Address::parse("0.0.0.0"), 0)) return SubnetKey{*second};
    if (!first->address().is_v4()) return std::nullopt;
    return SubnetKey{*first, *second};
}

namespace {

nlohmann::json encode_backend_data(const LeaseBackendData& data) {
    nlohmann::json json;
    if (const auto* vxlan = std::get_if<VxlanLeaseData>(&data)) {
        json["VtepMAC"] = vxlan->vtep_mac.to_string();
    } else {
        json["PublicKey"] = std::get<WireguardLeaseData>(data).public_key_base64();
    }
    return json;
}

// `field` is "BackendData" or "BackendV6Data".
LeaseBackendData decode_backend_data(const nlohmann::json& data, BackendType type,
                                     const std::string& field) {
    // flannel's host-gw leases carry no BackendData at all.
    if (type == BackendType::host_gw) return HostGwLeaseData{};
    if (!data.is_object()) throw ParseError(field, "missing or not a JSON object");
    if (type == BackendType::vxlan) {
        const auto mac_field = field + ".VtepMAC";
        auto mac = detail::optional_string(data, "VtepMAC", mac_field);
        if (!mac) throw ParseError(mac_field, "missing");
        return VxlanLeaseData{net::MacAddress::parse(*mac, mac_field)};
    }
    const auto key_field = field + ".PublicKey";
    auto key = detail::optional_string(data, "PublicKey", key_field);
    if (!key) throw ParseError(key_field, "missing");
    return WireguardLeaseData::from_base64(*key, key_field);
}

}  // namespace

std::string encode_lease_value(const LeaseValue& value) {
    nlohmann::json json{{"PublicIP", value.public_ip.to_string()},
                        {"Node", value.node},
                        {"BackendType", std::string(to_string(value.backend_type()))}};
    if (value.backend_type() != BackendType::host_gw)
        json["BackendData"] = encode_backend_data(value.backend_data);
    if (value.public_ipv6) json["PublicIPv6"] = value.public_ipv6->to_string();
    if (value.backend_v6_data) json["BackendV6Data"] = encode_backend_data(*value.backend_v6_data);
    return json.dump();
}

LeaseValue decode_lease_value(std::string_view json) {
    const auto object = detail::parse_object(json, "lease value");
    auto required = [&](const char* name) {
        auto text = detail::optional_string(object, name, name);
        if (!text) throw ParseError(name, "missing");
        return *text;
    };
    LeaseValue value;
    value.public_ip = net::Address::parse(required("PublicIP"), "PublicIP");
    if (auto v6 = detail::optional_string(object, "PublicIPv6", "PublicIPv6")) {
        value.public_ipv6 = net::Address::parse(*v6, "PublicIPv6");
        if (!value.public_ipv6->is_v6()) {
            throw ParseError("PublicIPv6", *v6 + " is not an IPv6 address");
        }
        if (value.public_ip == net::Address::parse("0.0.0.0")) value.public_ip = *value.public_ipv6;
    }
    value.node = required("Node");
    if (value.node.empty()) throw ParseError("Node", "empty");
    const auto type_name = required("BackendType");
    const auto type = backend_type_from_string(type_name);
    if (!type) throw ParseError("BackendType", "unknown backend \"" + type_name + "\"");
    const auto data = object.find("BackendData");
    value.backend_data =
        decode_backend_data(data == object.end() ? nlohmann::json() : *data, *type, "BackendData");
    if (const auto v6 = object.find("BackendV6Data");
        v6 != object.end() && !v6->is_null() && *type != BackendType::host_gw) {
        value.backend_v6_data = decode_backend_data(*v6, *type, "BackendV6Data");
    }
    return value;
}

}  // namespace twill::subnet
