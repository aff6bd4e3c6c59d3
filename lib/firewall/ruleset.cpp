#include "twill/firewall/ruleset.hpp"

namespace twill::firewall {

namespace {

using nlohmann::json;

constexpr std::string_view kPostrouting = "postrouting";
constexpr std::string_view kForward = "forward";
constexpr int kSrcnatPriority = 100;
constexpr int kFilterPriority = 0;

json table_object() {
    return {{"family", table_family}, {"name", table_name}};
}

json prefix_value(const net::Prefix& prefix) {
    const int full = prefix.family() == net::Family::v4 ? 32 : 128;
    const auto network = prefix.network();
    if (network.length() == full) return network.address().to_string();
    return {{"prefix", {{"addr", network.address().to_string()}, {"len", network.length()}}}};
}

json match(const net::Prefix& network, std::string_view field, bool equal,
           const net::Prefix& prefix) {
    const std::string protocol = network.family() == net::Family::v4 ? "ip" : "ip6";
    return {{"match",
             {{"op", equal ? "==" : "!="},
              {"left", {{"payload", {{"protocol", protocol}, {"field", field}}}}},
              {"right", prefix_value(prefix)}}}};
}

json verdict(std::string_view name) {
    return {{std::string(name), nullptr}};
}
json masquerade() {
    return {{"masquerade", {{"flags", "fully-random"}}}};
}

json chain(std::string_view name, std::string_view type, std::string_view hook, int priority) {
    return {{"chain",
             {{"family", table_family},
              {"table", table_name},
              {"name", name},
              {"type", type},
              {"hook", hook},
              {"prio", priority},
              {"policy", "accept"}}}};
}

json rule(std::string_view chain_name, json expressions) {
    return {{"rule",
             {{"family", table_family},
              {"table", table_name},
              {"chain", chain_name},
              {"expr", std::move(expressions)}}}};
}

net::Prefix multicast(net::Family family) {
    return family == net::Family::v4 ? net::Prefix::parse("224.0.0.0/4", "multicast")
                                     : net::Prefix::parse("ff00::/8", "multicast");
}

std::string describe(const json& object) {
    if (object.contains("table")) return "table";
    if (object.contains("chain")) return "chain " + object["chain"].value("name", "?");
    if (object.contains("rule")) return "a rule of chain " + object["rule"].value("chain", "?");
    return object.dump();
}

}  // namespace

json desired_table(const MasqueradeSpec& spec) {
    std::vector<MasqueradeSpec::Family> families{{spec.network, spec.subnet}};
    if (spec.ipv6) families.push_back(*spec.ipv6);
    json objects = json::array();
    objects.push_back({{"table", table_object()}});
    objects.push_back(chain(kPostrouting, "nat", "postrouting", kSrcnatPriority));
    objects.push_back(chain(kForward, "filter", "forward", kFilterPriority));
    for (const auto& family : families) {
        const auto& n = family.network;
        objects.push_back(rule(kPostrouting, {match(n, "saddr", true, n),
                                              match(n, "daddr", true, n), verdict("return")}));
        objects.push_back(
            rule(kPostrouting, {match(n, "saddr", true, n),
                                match(n, "daddr", false, multicast(n.family())), masquerade()}));
        objects.push_back(
            rule(kPostrouting, {match(n, "saddr", false, n), match(n, "daddr", true, family.subnet),
                                verdict("return")}));
        objects.push_back(rule(
            kPostrouting, {match(n, "saddr", false, n), match(n, "daddr", true, n), masquerade()}));
    }
    for (const auto& family : families) {
        const auto& n = family.network;
        objects.push_back(rule(kForward, {match(n, "saddr", true, n), verdict("accept")}));
        objects.push_back(rule(kForward, {match(n, "daddr", true, n), verdict("accept")}));
    }
    return objects;
}

json normalise_listing(const json& listing) {
    json objects = json::array();
    if (!listing.is_object() || !listing.contains("nftables")) return objects;
    for (const auto& item : listing["nftables"]) {
        if (!item.is_object() || item.contains("metainfo")) continue;
        json copy = item;
        for (auto& [kind, body] : copy.items()) {
            if (body.is_object()) body.erase("handle");
        }
        objects.push_back(std::move(copy));
    }
    return objects;
}

std::optional<std::string> difference(const json& desired, const std::optional<json>& actual) {
    if (!actual) return "table inet twill missing";
    const std::size_t common = std::min(desired.size(), actual->size());
    for (std::size_t i = 0; i < common; ++i) {
        if (desired[i] != (*actual)[i])
            return describe(desired[i]) + " differs: " + (*actual)[i].dump();
    }
    if (actual->size() > desired.size())
        return "extra " + describe((*actual)[desired.size()]) + ": " +
               (*actual)[desired.size()].dump();
    if (desired.size() > actual->size()) return describe(desired[actual->size()]) + " missing";
    return std::nullopt;
}

json replace_commands(const json& desired) {
    json commands = json::array();
    commands.push_back({{"add", {{"table", table_object()}}}});
    commands.push_back({{"delete", {{"table", table_object()}}}});
    for (const auto& object : desired) commands.push_back({{"add", object}});
    return {{"nftables", std::move(commands)}};
}

json delete_commands() {
    return {{"nftables", json::array({{{"delete", {{"table", table_object()}}}}})}};
}

}  // namespace twill::firewall
