#include "twill/cni/node_subnet.hpp"

#include <nlohmann/json.hpp>

#include "json_fields.hpp"
#include "twill/sys/file.hpp"

namespace twill::cni {

NodeSubnet parse_node_subnet(std::string_view text) {
    const auto value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded()) throw ParseError(node_subnet_file_name, "not valid JSON");
    detail::require_object(value, node_subnet_file_name);
    NodeSubnet s;
    s.network =
        net::Prefix::parse(detail::required_string(value, "network", ""), "network").network();
    s.subnet = net::Prefix::parse(detail::required_string(value, "subnet", ""), "subnet");
    if (!s.subnet.is_network())
        throw ParseError("subnet", s.subnet.to_string() + " has host bits set");
    if (!s.network.contains(s.subnet)) {
        throw ParseError("subnet",
                         s.subnet.to_string() + " is not inside network " + s.network.to_string());
    }
    s.gateway = net::Address::parse(detail::required_string(value, "gateway", ""), "gateway");
    if (!s.subnet.contains(s.gateway) || s.gateway == s.subnet.first() ||
        (s.gateway.is_v4() && s.gateway == s.subnet.last())) {
        throw ParseError("gateway", s.gateway.to_string() + " is not a host address of subnet " +
                                        s.subnet.to_string());
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
    return nlohmann::json{{"network", s.network.to_string()},
                          {"subnet", s.subnet.to_string()},
                          {"gateway", s.gateway.to_string()},
                          {"bridge", s.bridge},
                          {"mtu", s.mtu}}
        .dump();
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
