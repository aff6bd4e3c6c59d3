#include "twill/firewall/ruleset.hpp"

#include <gtest/gtest.h>

namespace twill::firewall {
namespace {

using nlohmann::json;

MasqueradeSpec spec() {
    return {net::Prefix::parse("10.244.0.0/16"), net::Prefix::parse("10.244.3.0/24")};
}

json rule_exprs(const json& table, std::size_t index) {
    return table.at(index).at("rule").at("expr");
}

TEST(Ruleset, TableHasTwoBaseChainsThenFlannelsRules) {
    const auto table = desired_table(spec());
    ASSERT_EQ(table.size(), 9u);
    EXPECT_EQ(table[0], json::parse(R"({"table":{"family":"inet","name":"twill"}})"));
    EXPECT_EQ(table[1]["chain"]["name"], "postrouting");
    EXPECT_EQ(table[1]["chain"]["type"], "nat");
    EXPECT_EQ(table[1]["chain"]["hook"], "postrouting");
    EXPECT_EQ(table[1]["chain"]["prio"], 100);
    EXPECT_EQ(table[2]["chain"]["name"], "forward");
    EXPECT_EQ(table[2]["chain"]["hook"], "forward");
    EXPECT_EQ(table[2]["chain"]["policy"], "accept");
    for (std::size_t i = 3; i < 7; ++i) EXPECT_EQ(table[i]["rule"]["chain"], "postrouting");
    for (std::size_t i = 7; i < 9; ++i) EXPECT_EQ(table[i]["rule"]["chain"], "forward");
}

TEST(Ruleset, DualStackAddsTheIPv6RulesAfterTheIPv4OnesOfEachChain) {
    auto dual = spec();
    dual.ipv6 = MasqueradeSpec::Family{net::Prefix::parse("fd00:10:244::/48"),
                                       net::Prefix::parse("fd00:10:244:3::/64")};
    const auto table = desired_table(dual);
    ASSERT_EQ(table.size(), 15u);
    for (std::size_t i = 3; i < 11; ++i) EXPECT_EQ(table[i]["rule"]["chain"], "postrouting");
    for (std::size_t i = 11; i < 15; ++i) EXPECT_EQ(table[i]["rule"]["chain"], "forward");
    // The IPv4 rules are those of an IPv4-only table.
    const auto v4 = desired_table(spec());
    for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(table[i], v4[i]);
    EXPECT_EQ(rule_exprs(table, 9)[1], json::parse(R"(
      {"match":{"op":"==","left":{"payload":{"protocol":"ip6","field":"daddr"}},
                "right":{"prefix":{"addr":"fd00:10:244:3::","len":64}}}})"));
    EXPECT_EQ(table[11], v4[7]);
    EXPECT_EQ(rule_exprs(table, 13)[0]["match"]["left"]["payload"]["protocol"], "ip6");
}

TEST(Ruleset, PodToPodReturnsBeforeMasquerade) {
    const auto exprs = rule_exprs(desired_table(spec()), 3);
    EXPECT_EQ(exprs, json::parse(R"([
      {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},
                "right":{"prefix":{"addr":"10.244.0.0","len":16}}}},
      {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},
                "right":{"prefix":{"addr":"10.244.0.0","len":16}}}},
      {"return":null}])"));
}

TEST(Ruleset, EgressMasqueradesFullyRandomExceptMulticast) {
    const auto exprs = rule_exprs(desired_table(spec()), 4);
    EXPECT_EQ(exprs[1]["match"]["op"], "!=");
    EXPECT_EQ(exprs[1]["match"]["right"]["prefix"]["addr"], "224.0.0.0");
    EXPECT_EQ(exprs[1]["match"]["right"]["prefix"]["len"], 4);
    EXPECT_EQ(exprs[2], json::parse(R"({"masquerade":{"flags":"fully-random"}})"));
}

TEST(Ruleset, OutsideToOwnSubnetReturnsOutsideToNetworkMasquerades) {
    const auto table = desired_table(spec());
    const auto own = rule_exprs(table, 5);
    EXPECT_EQ(own[0]["match"]["op"], "!=");
    EXPECT_EQ(own[1]["match"]["right"]["prefix"]["addr"], "10.244.3.0");
    EXPECT_EQ(own[1]["match"]["right"]["prefix"]["len"], 24);
    EXPECT_EQ(own[2], json::parse(R"({"return":null})"));
    const auto others = rule_exprs(table, 6);
    EXPECT_EQ(others[0]["match"]["op"], "!=");
    EXPECT_EQ(others[1]["match"]["right"]["prefix"]["len"], 16);
    EXPECT_TRUE(others[2].contains("masquerade"));
}

TEST(Ruleset, Ipv6NetworkUsesIp6PayloadAndItsMulticast) {
    const auto table =
        desired_table({net::Prefix::parse("fd00:10::/56"), net::Prefix::parse("fd00:10:0:3::/64")});
    const auto exprs = rule_exprs(table, 4);
    EXPECT_EQ(exprs[0]["match"]["left"]["payload"]["protocol"], "ip6");
    EXPECT_EQ(exprs[1]["match"]["right"]["prefix"]["addr"], "ff00::");
}

TEST(Ruleset, SubnetRenderedByItsNetworkAddress) {
    const auto table =
        desired_table({net::Prefix::parse("10.244.0.0/16"), net::Prefix::parse("10.244.3.1/24")});
    EXPECT_EQ(rule_exprs(table, 5)[1]["match"]["right"]["prefix"]["addr"], "10.244.3.0");
}

// A listing as libnftables prints it: metainfo first, handles everywhere.
json listing_of(const json& objects) {
    json items =
        json::array({json::parse(R"({"metainfo":{"version":"1.0.6","json_schema_version":1}})")});
    int handle = 1;
    for (auto object : objects) {
        for (auto& [kind, body] : object.items()) body["handle"] = handle++;
        items.push_back(object);
    }
    return {{"nftables", items}};
}

TEST(Ruleset, NormalisedListingOfDesiredMatches) {
    const auto desired = desired_table(spec());
    EXPECT_EQ(normalise_listing(listing_of(desired)), desired);
    EXPECT_EQ(difference(desired, normalise_listing(listing_of(desired))), std::nullopt);
}

TEST(Ruleset, MissingTableDiffers) {
    auto d = difference(desired_table(spec()), std::nullopt);
    ASSERT_TRUE(d);
    EXPECT_NE(d->find("missing"), std::string::npos);
}

TEST(Ruleset, EditedRuleDiffers) {
    const auto desired = desired_table(spec());
    auto actual = desired;
    actual[4]["rule"]["expr"][2] = json::parse(R"({"accept":null})");
    auto d = difference(desired, actual);
    ASSERT_TRUE(d);
    EXPECT_NE(d->find("postrouting"), std::string::npos);
}

TEST(Ruleset, DeletedAndExtraRulesDiffer) {
    const auto desired = desired_table(spec());
    auto fewer = desired;
    fewer.erase(fewer.size() - 1);
    ASSERT_TRUE(difference(desired, fewer));
    EXPECT_NE(difference(desired, fewer)->find("missing"), std::string::npos);
    auto more = desired;
    more.push_back(desired[7]);
    ASSERT_TRUE(difference(desired, more));
    EXPECT_NE(difference(desired, more)->find("extra"), std::string::npos);
}

TEST(Ruleset, OtherSubnetOrNetworkDiffers) {
    const auto desired = desired_table(spec());
    const auto moved =
        desired_table({net::Prefix::parse("10.244.0.0/16"), net::Prefix::parse("10.244.4.0/24")});
    EXPECT_TRUE(difference(desired, moved));
}

TEST(Ruleset, ReplaceIsOneTransactionThatCannotFailOnAMissingTable) {
    const auto desired = desired_table(spec());
    const auto commands = replace_commands(desired)["nftables"];
    ASSERT_EQ(commands.size(), desired.size() + 2);
    EXPECT_TRUE(commands[0]["add"].contains("table"));
    EXPECT_TRUE(commands[1]["delete"].contains("table"));
    for (std::size_t i = 0; i < desired.size(); ++i) EXPECT_EQ(commands[i + 2]["add"], desired[i]);
    EXPECT_EQ(delete_commands()["nftables"][0]["delete"]["table"]["name"], "twill");
}

}  // namespace
}  // namespace twill::firewall
