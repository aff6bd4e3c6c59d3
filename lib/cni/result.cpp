#include "twill/cni/result.hpp"

#include <nlohmann/json.hpp>

#include "json_fields.hpp"

namespace twill::cni {

using detail::index;
using detail::join;
using nlohmann::json;

namespace {

json strings_to_json(const std::vector<std::string>& values) {
    return json(values);
}

std::vector<std::string> strings_from_json(const json& object, std::string_view key,
                                           std::string_view parent) {
    std::vector<std::string> values;
    const auto* array = detail::optional_array(object, key, parent);
    if (!array) return values;
    const auto field = join(parent, key);
    for (std::size_t i = 0; i < array->size(); ++i) {
        if (!(*array)[i].is_string()) throw ParseError(index(field, i), "expected a string");
        values.push_back((*array)[i].get<std::string>());
    }
    return values;
}

json dns_to_json(const Dns& dns) {
    json out = json::object();
    if (!dns.nameservers.empty()) out["nameservers"] = strings_to_json(dns.nameservers);
    if (!dns.domain.empty()) out["domain"] = dns.domain;
    if (!dns.search.empty()) out["search"] = strings_to_json(dns.search);
    if (!dns.options.empty()) out["options"] = strings_to_json(dns.options);
    return out;
}

}  // namespace

json to_json(const Result& result, Version version) {
    json out{{"cniVersion", to_string(version)}};
    if (!result.interfaces.empty()) {
        json interfaces = json::array();
        for (const auto& i : result.interfaces) {
            json entry{{"name", i.name}};
            if (i.mac) entry["mac"] = i.mac->to_string();
            if (i.mtu && version >= Version::v1_1_0) entry["mtu"] = *i.mtu;
            if (!i.sandbox.empty()) entry["sandbox"] = i.sandbox;
            interfaces.push_back(std::move(entry));
        }
        out["interfaces"] = std::move(interfaces);
    }
    json ips = json::array();
    for (const auto& ip : result.ips) {
        json entry;
        if (ips_carry_version(version)) entry["version"] = ip.address.address().is_v4() ? "4" : "6";
        if (ip.interface) entry["interface"] = *ip.interface;
        entry["address"] = ip.address.to_string();
        if (ip.gateway) entry["gateway"] = ip.gateway->to_string();
        ips.push_back(std::move(entry));
    }
    if (!ips.empty()) out["ips"] = std::move(ips);
    if (!result.routes.empty()) {
        json routes = json::array();
        for (const auto& r : result.routes) {
            json entry{{"dst", r.dst.to_string()}};
            if (r.gw) entry["gw"] = r.gw->to_string();
            routes.push_back(std::move(entry));
        }
        out["routes"] = std::move(routes);
    }
    if (!result.dns.empty()) out["dns"] = dns_to_json(result.dns);
    return out;
}

std::string to_json_text(const Result& result, Version version) {
    return to_json(result, version).dump();
}

Dns dns_from_json(const json& value, std::string_view field) {
    detail::require_object(value, field);
    Dns dns;
    dns.nameservers = strings_from_json(value, "nameservers", field);
    dns.domain = detail::optional_string(value, "domain", field).value_or("");
    dns.search = strings_from_json(value, "search", field);
    dns.options = strings_from_json(value, "options", field);
    return dns;
}

Result result_from_json(const json& value, std::string_view field) {
    detail::require_object(value, field);
    Result result;
    if (const auto* interfaces = detail::optional_array(value, "interfaces", field)) {
        const auto name = join(field, "interfaces");
        for (std::size_t i = 0; i < interfaces->size(); ++i) {
            const auto& entry = (*interfaces)[i];
            const auto f = index(name, i);
            detail::require_object(entry, f);
            Interface iface;
            iface.name = detail::required_string(entry, "name", f);
            if (auto mac = detail::optional_string(entry, "mac", f); mac && !mac->empty()) {
                iface.mac = net::MacAddress::parse(*mac, join(f, "mac"));
            }
            iface.mtu = detail::optional_int(entry, "mtu", f);
            iface.sandbox = detail::optional_string(entry, "sandbox", f).value_or("");
            result.interfaces.push_back(std::move(iface));
        }
    }
    if (const auto* ips = detail::optional_array(value, "ips", field)) {
        const auto name = join(field, "ips");
        for (std::size_t i = 0; i < ips->size(); ++i) {
            const auto& entry = (*ips)[i];
            const auto f = index(name, i);
            detail::require_object(entry, f);
            IpConfig ip;
            ip.address = net::Prefix::parse(detail::required_string(entry, "address", f),
                                            join(f, "address"));
            if (auto gw = detail::optional_string(entry, "gateway", f); gw && !gw->empty()) {
                ip.gateway = net::Address::parse(*gw, join(f, "gateway"));
            }
            ip.interface = detail::optional_int(entry, "interface", f);
            if (ip.interface && *ip.interface >= static_cast<int>(result.interfaces.size())) {
                throw ParseError(join(f, "interface"),
                                 "index " + std::to_string(*ip.interface) + " names no interface");
            }
            result.ips.push_back(std::move(ip));
        }
    }
    if (const auto* routes = detail::optional_array(value, "routes", field)) {
        const auto name = join(field, "routes");
        for (std::size_t i = 0; i < routes->size(); ++i) {
            const auto& entry = (*routes)[i];
            const auto f = index(name, i);
            detail::require_object(entry, f);
            Route route;
            route.dst =
                net::Prefix::parse(detail::required_string(entry, "dst", f), join(f, "dst"));
            if (auto gw = detail::optional_string(entry, "gw", f); gw && !gw->empty()) {
                route.gw = net::Address::parse(*gw, join(f, "gw"));
            }
            result.routes.push_back(std::move(route));
        }
    }
    if (const auto* dns = detail::find(value, "dns"))
        result.dns = dns_from_json(*dns, join(field, "dns"));
    return result;
}

}  // namespace twill::cni
