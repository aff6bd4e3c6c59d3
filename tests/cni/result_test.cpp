#include "twill/cni/result.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "twill/error.hpp"

namespace twill::cni {
namespace {

Result sample() {
    Result r;
    r.interfaces.push_back(
        {"tw0123456789ab", net::MacAddress::parse("02:00:00:00:00:01"), 1450, ""});
    r.interfaces.push_back(
        {"eth0", net::MacAddress::parse("02:00:00:00:00:02"), 1450, "/var/run/netns/pod"});
    r.ips.push_back({net::Prefix::parse("10.244.3.5/24"), net::Address::parse("10.244.3.1"), 1});
    r.routes.push_back({net::Prefix::parse("0.0.0.0/0"), net::Address::parse("10.244.3.1")});
    r.dns.nameservers = {"10.43.0.10"};
    return r;
}

TEST(CniResult, OldVersionsCarryIpVersion) {
    for (const auto version : {Version::v0_3_0, Version::v0_3_1, Version::v0_4_0}) {
        const auto json = to_json(sample(), version);
        EXPECT_EQ(json["cniVersion"], to_string(version));
        EXPECT_EQ(json["ips"][0]["version"], "4");
        EXPECT_FALSE(json["interfaces"][0].contains("mtu"));
    }
}

TEST(CniResult, Version1Shape) {
    const auto json = to_json(sample(), Version::v1_0_0);
    EXPECT_EQ(json["cniVersion"], "1.0.0");
    EXPECT_FALSE(json["ips"][0].contains("version"));
    EXPECT_EQ(json["ips"][0]["address"], "10.244.3.5/24");
    EXPECT_EQ(json["ips"][0]["gateway"], "10.244.3.1");
    EXPECT_EQ(json["ips"][0]["interface"], 1);
    EXPECT_FALSE(json["interfaces"][0].contains("sandbox"));  // the host end
    EXPECT_EQ(json["interfaces"][1]["sandbox"], "/var/run/netns/pod");
    EXPECT_EQ(json["interfaces"][1]["mac"], "02:00:00:00:00:02");
    EXPECT_FALSE(json["interfaces"][1].contains("mtu"));
    EXPECT_EQ(json["routes"][0]["dst"], "0.0.0.0/0");
    EXPECT_EQ(json["routes"][0]["gw"], "10.244.3.1");
    EXPECT_EQ(json["dns"]["nameservers"][0], "10.43.0.10");
    EXPECT_EQ(to_json(sample(), Version::v1_1_0)["interfaces"][1]["mtu"], 1450);
}

TEST(CniResult, NoDnsKeyWhenEmpty) {
    auto r = sample();
    r.dns = {};
    EXPECT_FALSE(to_json(r, Version::v1_0_0).contains("dns"));
}

TEST(CniResult, RoundTripsThroughEveryVersion) {
    for (const auto version : supported_versions()) {
        auto expected = sample();
        if (version < Version::v1_1_0) {
            for (auto& i : expected.interfaces) i.mtu.reset();
        }
        EXPECT_EQ(result_from_json(to_json(sample(), version)), expected) << to_string(version);
    }
}

TEST(CniResult, ParseErrorsNameTheField) {
    const auto bad = nlohmann::json::parse(R"({"interfaces":[{"name":"a","mac":"zz"}]})");
    try {
        result_from_json(bad);
        FAIL();
    } catch (const ParseError& e) {
        EXPECT_EQ(e.field(), "prevResult.interfaces[0].mac");
    }
    EXPECT_THROW(result_from_json(nlohmann::json::parse(R"({"routes":[{"gw":"10.0.0.1"}]})")),
                 ParseError);
    EXPECT_THROW(result_from_json(nlohmann::json::parse("[]")), ParseError);
}

}  // namespace
}  // namespace twill::cni
