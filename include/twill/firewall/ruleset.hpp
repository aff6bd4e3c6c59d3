#pragma once
// twill's nftables table as data: the desired ruleset rendered in the JSON form that
// libnftables lists back (so desired and listed compare as plain JSON), and the comparison.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "twill/net/prefix.hpp"

namespace twill::firewall {

inline constexpr std::string_view table_family = "inet";
inline constexpr std::string_view table_name = "twill";

// What the masquerade rules depend on: the cluster Network and this node's own subnet, and
// in a dual-stack network the IPv6 ones (their rules follow the first family's in each chain).
struct MasqueradeSpec {
    net::Prefix network;
    net::Prefix subnet;
    struct Family {
        net::Prefix network;
        net::Prefix subnet;
        bool operator==(const Family&) const = default;
    };
    std::optional<Family> ipv6{};
    bool operator==(const MasqueradeSpec&) const = default;
};

// The table as libnftables lists it, without handles: [{"table":…}, {"chain":…}…, {"rule":…}…],
// chains in order, then each chain's rules in order. flannel's semantics:
//   postrouting (nat, srcnat):  Network -> Network            return (pods keep their IP)
//                               Network -> !multicast          masquerade fully-random
//                               !Network -> own subnet         return
//                               !Network -> Network            masquerade fully-random
//   forward (filter, policy accept): from Network accept, to Network accept.
nlohmann::json desired_table(const MasqueradeSpec& spec);

// `nft -j list table inet twill` output reduced to the desired_table() form: metainfo and
// handles dropped.
nlohmann::json normalise_listing(const nlohmann::json& listing);

// nullopt when `actual` (normalised, nullopt: no table) equals `desired`; otherwise what
// differs first, for reports ("table missing", "rule 2 of chain postrouting differs", …).
std::optional<std::string> difference(const nlohmann::json& desired,
                                      const std::optional<nlohmann::json>& actual);

// The one nft transaction that makes the table exactly `desired` (add table so the delete
// cannot fail, delete it, add it back with its chains and rules), as libnftables JSON input.
nlohmann::json replace_commands(const nlohmann::json& desired);
// The transaction that removes the table.
nlohmann::json delete_commands();

}  // namespace twill::firewall
