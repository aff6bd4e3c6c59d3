#include "twill/subnet/config.hpp"

#include <set>

#include "json_fields.hpp"
#include "twill/error.hpp"

namespace twill::subnet {

using detail::optional_bool;
using detail::optional_integer;
using detail::optional_string;

std::string_view to_string(BackendType type) {
    switch (type) {
        case BackendType::vxlan:
            return "vxlan";
        case BackendType::wireguard:
            return "wireguard";
        case BackendType::host_gw:
            return "host-gw";
    }
    return "unknown";
}

std::optional<BackendType> backend_type_from_string(std::string_view text) {
    if (text == "vxlan") return BackendType::vxlan;
    if (text == "wireguard") return BackendType::wireguard;
    if (text == "host-gw") return BackendType::host_gw;
    return std::nullopt;
}

BackendType backend_type(const BackendConfig& backend) {
    if (std::holds_alternative<VxlanBackend>(backend)) return BackendType::vxlan;
    if (std::holds_alternative<WireguardBackend>(backend)) return BackendType::wireguard;
    return BackendType::host_gw;
}

namespace {

void collect_ignored(const nlohmann::json& object, const std::set<std::string>& known,
                     const std::string& parent, std::vector<std::string>& ignored) {
    for (const auto& [name, value] : object.items()) {
        if (!known.contains(name)) ignored.push_back(parent + name);
    }
}

// flannel's rule: a /24 per node when the network holds at least four of them, otherwise the
// network split in four (the first subnet is never handed out); /28 is the smallest useful.
int default_subnet_len(const net::Prefix& network, int smallest_network, int default_len,
                       std::string_view field) {
    if (network.length() > smallest_network) {
        throw ParseError(field, network.to_string() +
                                    " is too small: the minimum useful "
                                    "network prefix is /" +
                                    std::to_string(smallest_network));
    }
    if (network.length() <= default_len - 2) return default_len;
    return network.length() + 2;
}

std::optional<net::Address> optional_address(const nlohmann::json& object, const char* name) {
    auto text = optional_string(object, name, name);
    if (!text) return std::nullopt;
    return net::Address::parse(*text, name);
}

net::SubnetRange parse_range(const nlohmann::json& object, const char* network_field,
                             const char* len_field, const char* min_field, const char* max_field,
                             net::Family family, int smallest_network, int default_len) {
    auto network_text = optional_string(object, network_field, network_field);
    if (!network_text) throw ParseError(network_field, "missing (the pod network, in CIDR form)");
    const auto network = net::Prefix::parse(*network_text, network_field);
    if (network.family() != family) {
        throw ParseError(network_field, network.to_string() + " is not an " +
                                            std::string(net::to_string(family)) + " network");
    }
    const int bits = network.address().bits();
    auto len = optional_integer(object, len_field, len_field, 0, bits);
    const int subnet_len = len && *len != 0 ? static_cast<int>(*len)
                                            : default_subnet_len(network, smallest_network,
                                                                 default_len, network_field);
    // Of an IPv4 /31 or /32 nothing is left for a pod once the gateway has its address.
    if (family == net::Family::v4 && subnet_len > 30) {
        throw ParseError(len_field, std::to_string(subnet_len) +
                                        " leaves no pod address beside the gateway (at most /30)");
    }
    try {
        return net::SubnetRange(network, subnet_len, optional_address(object, min_field),
                                optional_address(object, max_field));
    } catch (const ParseError& e) {
        // SubnetRange names the v4 fields; the v6 ones carry an "IPv6" in front.
        if (family == net::Family::v6 && !e.field().starts_with("IPv6")) {
            throw ParseError("IPv6" + e.field(), e.reason());
        }
        throw;
    }
}

BackendConfig parse_backend(const nlohmann::json& config, std::vector<std::string>& ignored) {
    auto it = config.find("Backend");
    if (it == config.end() || it->is_null()) return VxlanBackend{};
    if (!it->is_object()) throw ParseError("Backend", "must be a JSON object");
    const auto& backend = *it;
    const auto type_name = optional_string(backend, "Type", "Backend.Type").value_or("vxlan");
    if (type_name == "udp") {
        throw ParseError("Backend.Type",
                         "\"udp\": flannel's udp backend is not supported by "
                         "twill (use \"vxlan\", \"wireguard\" or \"host-gw\")");
    }
    const auto type = backend_type_from_string(type_name);
    if (!type) {
        throw ParseError("Backend.Type", "unknown backend \"" + type_name +
                                             "\" (want \"vxlan\", \"wireguard\" or \"host-gw\")");
    }
    if (*type == BackendType::vxlan) {
        collect_ignored(backend, {"Type", "VNI", "Port", "DirectRouting"}, "Backend.", ignored);
        VxlanBackend vxlan;
        vxlan.direct_routing =
            optional_bool(backend, "DirectRouting", "Backend.DirectRouting").value_or(false);
        vxlan.vni = static_cast<std::uint32_t>(
            optional_integer(backend, "VNI", "Backend.VNI", 0, (1 << 24) - 1).value_or(vxlan.vni));
        const auto port = optional_integer(backend, "Port", "Backend.Port", 0, 65535).value_or(0);
        if (port != 0) vxlan.port = static_cast<std::uint16_t>(port);
        return vxlan;
    }
    if (*type == BackendType::host_gw) {
        collect_ignored(backend, {"Type"}, "Backend.", ignored);
        return HostGwBackend{};
    }
    collect_ignored(backend, {"Type", "ListenPort", "PersistentKeepaliveInterval"}, "Backend.",
                    ignored);
    WireguardBackend wireguard;
    wireguard.listen_port = static_cast<std::uint16_t>(
        optional_integer(backend, "ListenPort", "Backend.ListenPort", 1, 65535)
            .value_or(wireguard.listen_port));
    wireguard.persistent_keepalive_interval =
        static_cast<std::uint32_t>(optional_integer(backend, "PersistentKeepaliveInterval",
                                                    "Backend.PersistentKeepaliveInterval", 0, 65535)
                                       .value_or(0));
    return wireguard;
}

}  // namespace

NetworkConfig parse_network_config(std::string_view json) {
    const auto config = detail::parse_object(json, "config");
    std::vector<std::string> ignored;
    collect_ignored(
        config,
        {"Network", "SubnetLen", "SubnetMin", "SubnetMax", "Backend", "EnableIPv4", "EnableIPv6",
         "IPv6Network", "IPv6SubnetLen", "IPv6SubnetMin", "IPv6SubnetMax"},
        "", ignored);
    const bool enable_ipv4 = optional_bool(config, "EnableIPv4", "EnableIPv4").value_or(true);
    const bool enable_ipv6 = optional_bool(config, "EnableIPv6", "EnableIPv6").value_or(false);
    auto ipv6_range = [&] {
        return parse_range(config, "IPv6Network", "IPv6SubnetLen", "IPv6SubnetMin", "IPv6SubnetMax",
                           net::Family::v6, 126, 64);
    };
    auto backend = parse_backend(config, ignored);
    if (!enable_ipv4) {
        if (!enable_ipv6) {
            throw ParseError("EnableIPv4",
                             "false, and EnableIPv6 is not true: no address family is left");
        }
        // IPv6-only: the IPv6 range is the network's one range.
        return NetworkConfig{ipv6_range(), backend, std::nullopt, std::move(ignored)};
    }
    auto range = parse_range(config, "Network", "SubnetLen", "SubnetMin", "SubnetMax",
                             net::Family::v4, 28, 24);
    std::optional<IPv6Config> ipv6;
    if (enable_ipv6) ipv6 = IPv6Config{ipv6_range()};
    return NetworkConfig{std::move(range), backend, std::move(ipv6), std::move(ignored)};
}

}  // namespace twill::subnet
