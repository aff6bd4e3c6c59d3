#include "twill/cni/node_subnet.hpp"

#include <nlohmann/json.hpp>

#include "json_fields.hpp"
#include "twill/sys/file.hpp"

namespace twill::cni {

namespace {

// The fields `<prefix>network`, `<prefix>subnet`, `<prefix>gateway` ("" or "ipv6", which
// capitalises the rest: ipv6Network).
FamilySubnet parse_family(const nlohmann::json& value, const std::string& prefix) {
    auto field = [&](std::string name) {
        if (!prefix.empty()) name[0] = static_cast<char>(name[0] - 'a' + 'A');
        return prefix + name;
    };
    const auto network_field = field("network");
    const auto subnet_field = field("subnet");
    const auto gateway_field = field("gateway");
    FamilySubnet s;
    s.network =
        net::Prefix::parse(detail::required_string(value, network_field.c_str(), ""), network_field)
            .network();
    s.subnet =
        net::Prefix::parse(detail::required_string(value, subnet_field.c_str(), ""), subnet_field);
    if (!s.subnet.is_network())
        throw ParseError(subnet_field, s.subnet.to_string() + " has host bits set");
    if (!s.network.contains(s.subnet)) {
        throw ParseError(subnet_field,
                         s.subnet.to_string() + " is not inside network " + s.network.to_string());
    }
    s.gateway = net::Address::parse(detail::required_string(value, gateway_field.c_str(), ""),
                                    gateway_field);
    if (!s.subnet.contains(s.gateway) || s.gateway == s.subnet.first() ||
        (s.gateway.is_v4() && s.gateway == s.subnet.last())) {
        throw ParseError(
            gateway_field,
            s.gateway.to_string() + " is not a host address of subnet " + s.subnet.to_string());
    }
    return s;
}

}  // namespace

std::vector<FamilySubnet> NodeSubnet::families() const {
    std::vector<FamilySubnet> result{{network, subnet, gateway}};
    if (ipv6) result.push_back(*ipv6);
    return result;
}

std::optional<FamilySubnet> NodeSubnet::family_of(const net::Address& address) const {
    for (const auto& family : families()) {
        if (family.subnet.contains(address)) return family;
    }
    return std::nullopt;
}

NodeSubnet parse_node_subnet(std::string_view text) {
    const auto value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded()) throw ParseError(node_subnet_file_name, "not valid JSON");
    detail::require_object(value, node_subnet_file_name);
    NodeSubnet s;
    const auto first = parse_family(value, "");
    s.network = first.network;
    s.subnet = first.subnet;
    s.gateway = first.gateway;
    if (value.contains("ipv6Network") || value.contains("ipv6Subnet") ||
        value.contains("ipv6Gateway")) {
        s.ipv6 = parse_family(value, "ipv6");
        if (!s.ipv6->network.address().is_v6())
            throw ParseError("ipv6Network", s.ipv6->network.to_string() + " is not IPv6");
        if (!s.network.address().is_v4())
            throw ParseError("network",
                             s.network.to_string() + " is not IPv4 but an IPv6 half is given");
    }
    s.bridge = detail::required_string(value, "bridge", "");
    if (s.bridge.empty() || s.bridge.size() > 15)
        throw ParseError("bridge", "\"" + s.bridge + "\" is not an interface name");
    const auto mtu = detail::optional_int(value, "mtu", "");
    if (mtu) {
        if (*mtu < 68 || *mtu > 65535)
            throw ParseError("mtu", std::to_string(*mtu) + " out of range 68..65535");
        s.mtu = *mtu;
    }
    return s;
}

std::string to_json_text(const NodeSubnet& s) {
    nlohmann::json json{{"network", s.network.to_string()},
                        {"subnet", s.subnet.to_string()},
                        {"gateway", s.gateway.to_string()},
                        {"bridge", s.bridge},
                        {"mtu", s.mtu}};
    if (s.ipv6) {
        json["ipv6Network"] = s.ipv6->network.to_string();
        json["ipv6Subnet"] = s.ipv6->subnet.to_string();
        json["ipv6Gateway"] = s.ipv6->gateway.to_string();
    }
    return json.dump();
}

std::optional<NodeSubnet> read_node_subnet(const std::filesystem::path& run_dir) {
    const auto path = run_dir / node_subnet_file_name;
    const auto text = sys::read_file(path);
    if (!text) return std::nullopt;
    try {
        return parse_node_subnet(*text);
    } catch (const ParseError& e) {
        throw ParseError(path.string(), e.what());
    }
}

void write_node_subnet(const std::filesystem::path& run_dir, const NodeSubnet& subnet) {
    sys::write_file_atomic(run_dir / node_subnet_file_name, to_json_text(subnet) + "\n");
}

}  // namespace twill::cni
