#include "twill/firewall/masquerade.hpp"

namespace twill::firewall {

Outcome Masquerade::reconcile(const std::optional<MasqueradeSpec>& spec, bool dry_run) {
    auto listed = nft_.list_table(table_family, table_name);
    std::optional<nlohmann::json> actual;
    if (listed) actual = normalise_listing(*listed);
    if (!spec) {
        if (!actual) return {};
        if (!dry_run) nft_.run(delete_commands().dump(), "delete table inet twill");
        return {Outcome::Action::removed, "masquerade is off"};
    }
    const auto desired = desired_table(*spec);
    auto differs = difference(desired, actual);
    if (!differs) return {};
    if (!dry_run) nft_.run(replace_commands(desired).dump(), "replace table inet twill");
    return {actual ? Outcome::Action::replaced : Outcome::Action::created, *differs};
}

std::vector<std::string> Masquerade::dropping_forward_chains() {
    std::vector<std::string> result;
    const auto listing = nft_.list_chains();
    if (!listing.is_object() || !listing.contains("nftables")) return result;
    for (const auto& item : listing["nftables"]) {
        if (!item.contains("chain")) continue;
        const auto& chain = item["chain"];
        if (chain.value("table", "") == table_name && chain.value("family", "") == table_family)
            continue;
        if (chain.value("hook", "") == "forward" && chain.value("policy", "") == "drop") {
            result.push_back(chain.value("family", "") + " " + chain.value("table", "") + " " +
                             chain.value("name", ""));
        }
    }
    return result;
}

}  // namespace twill::firewall
