#pragma once
// A CNI ADD result (interfaces, IPs, routes, DNS) and its JSON form in every supported
// version: 0.3.x/0.4.0 carry "version" in each IP, 1.1.0 adds interface MTU.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "twill/cni/version.hpp"
#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"

namespace twill::cni {

struct Interface {
    std::string name;
    std::optional<net::MacAddress> mac;
    std::optional<int> mtu;
    std::string sandbox;  // the netns path; empty for a host interface
    friend bool operator==(const Interface&, const Interface&) = default;
};

struct IpConfig {
    net::Prefix address;  // keeps host bits: 10.244.3.5/24
    std::optional<net::Address> gateway;
    std::optional<int> interface;  // index into Result::interfaces
    friend bool operator==(const IpConfig&, const IpConfig&) = default;
};

struct Route {
    net::Prefix dst;
    std::optional<net::Address> gw;
    friend bool operator==(const Route&, const Route&) = default;
};

struct Dns {
    std::vector<std::string> nameservers;
    std::string domain;
    std::vector<std::string> search;
    std::vector<std::string> options;
    bool empty() const {
        return nameservers.empty() && domain.empty() && search.empty() && options.empty();
    }
    friend bool operator==(const Dns&, const Dns&) = default;
};

struct Result {
    std::vector<Interface> interfaces;
    std::vector<IpConfig> ips;
    std::vector<Route> routes;
    Dns dns;
    friend bool operator==(const Result&, const Result&) = default;
};

// The result in `version`'s shape, "cniVersion" included.
nlohmann::json to_json(const Result& result, Version version);
std::string to_json_text(const Result& result, Version version);
// Parses a result (a prevResult) of any supported version; throws ParseError naming the
// field ("prevResult.ips[0].address").
Result result_from_json(const nlohmann::json& json, std::string_view field = "prevResult");
Dns dns_from_json(const nlohmann::json& json, std::string_view field = "dns");

}  // namespace twill::cni
