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
    return std::holds_alternative<VxlanLeaseData>(data) ? BackendType::vxlan
                                                        : BackendType::wireguard;
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

std::string subnet_key(std::string_view prefix, const net::Prefix& subnet) {
    return subnets_key_prefix(prefix) + subnet.address().to_string() + "-" +
           std::to_string(subnet.length());
}

std::optional<net::Prefix> parse_subnet_key(std::string_view prefix, std::string_view key) {
    const auto base = subnets_key_prefix(prefix);
    if (!key.starts_with(base)) return std::nullopt;
    const auto name = key.substr(base.size());
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

std::string encode_lease_value(const LeaseValue& value) {
    nlohmann::json data;
    if (const auto* vxlan = std::get_if<VxlanLeaseData>(&value.backend_data)) {
        data["VtepMAC"] = vxlan->vtep_mac.to_string();
    } else {
        data["PublicKey"] = std::get<WireguardLeaseData>(value.backend_data).public_key_base64();
    }
    return nlohmann::json{{"PublicIP", value.public_ip.to_string()},
                          {"Node", value.node},
                          {"BackendType", std::string(to_string(value.backend_type()))},
                          {"BackendData", std::move(data)}}
        .dump();
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
    value.node = required("Node");
    if (value.node.empty()) throw ParseError("Node", "empty");
    const auto type_name = required("BackendType");
    const auto type = backend_type_from_string(type_name);
    if (!type) throw ParseError("BackendType", "unknown backend \"" + type_name + "\"");
    const auto data = object.find("BackendData");
    if (data == object.end() || !data->is_object()) {
        throw ParseError("BackendData", "missing or not a JSON object");
    }
    if (*type == BackendType::vxlan) {
        auto mac = detail::optional_string(*data, "VtepMAC", "BackendData.VtepMAC");
        if (!mac) throw ParseError("BackendData.VtepMAC", "missing");
        value.backend_data = VxlanLeaseData{net::MacAddress::parse(*mac, "BackendData.VtepMAC")};
    } else {
        auto key = detail::optional_string(*data, "PublicKey", "BackendData.PublicKey");
        if (!key) throw ParseError("BackendData.PublicKey", "missing");
        value.backend_data = WireguardLeaseData::from_base64(*key);
    }
    return value;
}

}  // namespace twill::subnet
