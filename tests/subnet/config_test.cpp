#include "twill/subnet/config.hpp"

#include <gtest/gtest.h>

#include "twill/error.hpp"

using namespace twill;
using namespace twill::subnet;

namespace {

// The field a config is rejected for, and the message, or "" when it parses.
std::pair<std::string, std::string> rejection(std::string_view json) {
    try {
        parse_network_config(json);
        return {"", ""};
    } catch (const ParseError& e) {
        return {e.field(), e.what()};
    }
}

}  // namespace

TEST(NetworkConfig, FlannelDefaults) {
    auto config = parse_network_config(R"({"Network":"10.244.0.0/16"})");
    EXPECT_EQ(config.network().to_string(), "10.244.0.0/16");
    EXPECT_EQ(config.range.subnet_len(), 24);
    EXPECT_EQ(config.range.min().to_string(), "10.244.1.0/24");
    EXPECT_EQ(config.range.max().to_string(), "10.244.255.0/24");
    EXPECT_EQ(config.range.size(), 255u);
    EXPECT_EQ(config.backend_type(), BackendType::vxlan);
    EXPECT_EQ(std::get<VxlanBackend>(config.backend), (VxlanBackend{1, 8472}));
    EXPECT_FALSE(config.ipv6);
    EXPECT_TRUE(config.ignored_fields.empty());
}

TEST(NetworkConfig, DefaultSubnetLenFollowsFlannelForSmallNetworks) {
    // A /22 still holds four /24s; smaller networks are split in four; /28 is the smallest.
    EXPECT_EQ(parse_network_config(R"({"Network":"10.0.0.0/22"})").range.subnet_len(), 24);
    EXPECT_EQ(parse_network_config(R"({"Network":"10.0.0.0/23"})").range.subnet_len(), 25);
    EXPECT_EQ(parse_network_config(R"({"Network":"10.0.0.0/28"})").range.subnet_len(), 30);
    auto [field, message] = rejection(R"({"Network":"10.0.0.0/29"})");
    EXPECT_EQ(field, "Network");
    EXPECT_NE(message.find("minimum useful network prefix is /28"), std::string::npos) << message;
}

TEST(NetworkConfig, ExplicitFields) {
    auto config = parse_network_config(R"({"Network":"10.42.0.0/16","SubnetLen":26,
        "SubnetMin":"10.42.1.0","SubnetMax":"10.42.2.192",
        "Backend":{"Type":"vxlan","VNI":4096,"Port":4789}})");
    EXPECT_EQ(config.range.subnet_len(), 26);
    EXPECT_EQ(config.range.size(), 8u);
    EXPECT_EQ(std::get<VxlanBackend>(config.backend), (VxlanBackend{4096, 4789}));
}

TEST(NetworkConfig, VxlanPortZeroMeansKernelDefault) {
    auto config =
        parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","Port":0}})");
    EXPECT_EQ(std::get<VxlanBackend>(config.backend).port, 8472);
}

TEST(NetworkConfig, BackendWithoutTypeIsVxlan) {
    auto config = parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"VNI":7}})");
    EXPECT_EQ(std::get<VxlanBackend>(config.backend).vni, 7u);
}

TEST(NetworkConfig, Wireguard) {
    auto config =
        parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"wireguard"}})");
    EXPECT_EQ(config.backend_type(), BackendType::wireguard);
    EXPECT_EQ(std::get<WireguardBackend>(config.backend), (WireguardBackend{51820, 0}));
    config = parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"wireguard",
        "ListenPort":51999,"PersistentKeepaliveInterval":25}})");
    EXPECT_EQ(std::get<WireguardBackend>(config.backend), (WireguardBackend{51999, 25}));
}

TEST(NetworkConfig, FlannelOnlyFieldsAreAcceptedAndListed) {
    auto config = parse_network_config(R"({"Network":"10.244.0.0/16","EnableNFTables":true,
        "Backend":{"Type":"vxlan","GBP":true}})");
    EXPECT_EQ(config.ignored_fields, (std::vector<std::string>{"EnableNFTables", "Backend.GBP"}));
}

TEST(NetworkConfig, DirectRoutingAndHostGwAsFlannelHasThem) {
    auto config = parse_network_config(
        R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}})");
    EXPECT_TRUE(std::get<VxlanBackend>(config.backend).direct_routing);
    EXPECT_TRUE(config.ignored_fields.empty());
    config = parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}})");
    EXPECT_FALSE(std::get<VxlanBackend>(config.backend).direct_routing);
    config = parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}})");
    EXPECT_EQ(config.backend_type(), BackendType::host_gw);
    EXPECT_EQ(to_string(config.backend_type()), "host-gw");
    try {
        parse_network_config(
            R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","DirectRouting":"yes"}})");
        FAIL() << "a DirectRouting that is not a boolean was accepted";
    } catch (const ParseError& e) {
        EXPECT_EQ(e.field(), "Backend.DirectRouting");
    }
}

TEST(NetworkConfig, IPv6OnlyNetworkHasTheIPv6RangeAsItsRange) {
    const auto config = parse_network_config(
        R"({"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/48",)"
        R"("Backend":{"Type":"vxlan"}})");
    EXPECT_TRUE(config.ipv6_only());
    EXPECT_FALSE(config.ipv6);
    EXPECT_EQ(config.network().to_string(), "fd00:10:244::/48");
    EXPECT_EQ(config.range.subnet_len(), 64);
    // The Network field of a flannel config is not used then.
    EXPECT_EQ(parse_network_config(R"({"Network":"10.244.0.0/16","EnableIPv4":false,)"
                                   R"("EnableIPv6":true,"IPv6Network":"fd00:10:244::/48"})")
                  .network()
                  .to_string(),
              "fd00:10:244::/48");
    EXPECT_FALSE(parse_network_config(R"({"Network":"10.244.0.0/16"})").ipv6_only());
}

TEST(NetworkConfig, KeepsIPv6Fields) {
    auto config = parse_network_config(R"({"Network":"10.244.0.0/16","EnableIPv6":true,
        "IPv6Network":"fd00:10::/48"})");
    ASSERT_TRUE(config.ipv6);
    EXPECT_EQ(config.ipv6->range.network().to_string(), "fd00:10::/48");
    EXPECT_EQ(config.ipv6->range.subnet_len(), 64);
    // Without EnableIPv6 the v6 fields are not used (flannel does the same).
    EXPECT_FALSE(
        parse_network_config(R"({"Network":"10.244.0.0/16","IPv6Network":"fd00::/48"})").ipv6);
    EXPECT_EQ(rejection(R"({"Network":"10.244.0.0/16","EnableIPv6":true})").first, "IPv6Network");
    EXPECT_EQ(rejection(R"({"Network":"10.244.0.0/16","EnableIPv6":true,
        "IPv6Network":"fd00::/48","IPv6SubnetLen":40})")
                  .first,
              "IPv6SubnetLen");
    EXPECT_EQ(rejection(R"({"Network":"10.244.0.0/16","EnableIPv6":true,
        "IPv6Network":"10.1.0.0/16"})")
                  .first,
              "IPv6Network");
}

TEST(NetworkConfig, RejectsUdpBackendSayingSo) {
    auto [field, message] = rejection(R"({"Network":"10.244.0.0/16","Backend":{"Type":"udp"}})");
    EXPECT_EQ(field, "Backend.Type");
    EXPECT_NE(message.find("flannel's udp backend is not supported"), std::string::npos) << message;
}

TEST(NetworkConfig, ErrorsNameTheField) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"(not json)", "config"},
        {R"([1,2])", "config"},
        {R"({})", "Network"},
        {R"({"Network":"10.244.0.0"})", "Network"},
        {R"({"Network":42})", "Network"},
        {R"({"Network":"fd00::/48"})", "Network"},
        {R"({"Network":"10.244.1.0/16"})", "Network"},
        {R"({"Network":"10.244.0.0/16","SubnetLen":16})", "SubnetLen"},
        {R"({"Network":"10.244.0.0/16","SubnetLen":33})", "SubnetLen"},
        {R"({"Network":"10.244.0.0/16","SubnetLen":"24"})", "SubnetLen"},
        {R"({"Network":"10.244.0.0/16","SubnetLen":24.5})", "SubnetLen"},
        {R"({"Network":"10.244.0.0/16","SubnetMin":"10.245.0.0"})", "SubnetMin"},
        {R"({"Network":"10.244.0.0/16","SubnetMin":"10.244.1.7"})", "SubnetMin"},
        {R"({"Network":"10.244.0.0/16","SubnetMax":"10.0.0.0"})", "SubnetMax"},
        {R"({"Network":"10.244.0.0/16","SubnetMax":"bogus"})", "SubnetMax"},
        {R"({"Network":"10.244.0.0/16","Backend":"vxlan"})", "Backend"},
        {R"({"Network":"10.244.0.0/16","Backend":{"Type":"ipip"}})", "Backend.Type"},
        {R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":16777216}})", "Backend.VNI"},
        {R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":-1}})", "Backend.VNI"},
        {R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","Port":65536}})", "Backend.Port"},
        {R"({"Network":"10.244.0.0/16","Backend":{"Type":"wireguard","ListenPort":0}})",
         "Backend.ListenPort"},
        {R"({"Network":"10.244.0.0/16","Backend":{"Type":"wireguard",
            "PersistentKeepaliveInterval":"25s"}})",
         "Backend.PersistentKeepaliveInterval"},
        {R"({"Network":"10.244.0.0/16","EnableIPv4":false})", "EnableIPv4"},
        {R"({"EnableIPv4":false,"EnableIPv6":true})", "IPv6Network"},
        {R"({"Network":"10.244.0.0/16","EnableIPv6":"yes"})", "EnableIPv6"},
    };
    for (const auto& [json, field] : cases) {
        EXPECT_EQ(rejection(json).first, field) << json << " -> " << rejection(json).second;
    }
}

TEST(NetworkConfig, BackendTypeNames) {
    EXPECT_EQ(to_string(BackendType::vxlan), "vxlan");
    EXPECT_EQ(to_string(BackendType::wireguard), "wireguard");
    EXPECT_EQ(backend_type_from_string("wireguard"), BackendType::wireguard);
    EXPECT_FALSE(backend_type_from_string("udp"));
}

TEST(NetworkConfig, IPv4SubnetLenLeavingNoPodAddressIsRefused) {
    // A /31 or /32 per node leaves no address for a pod once the gateway has one.
    for (const auto* json : {R"({"Network":"10.244.0.0/16","SubnetLen":31})",
                             R"({"Network":"10.244.0.0/16","SubnetLen":32})"}) {
        const auto [field, message] = rejection(json);
        EXPECT_EQ(field, "SubnetLen") << json << " -> " << message;
        EXPECT_NE(message.find("/30"), std::string::npos) << message;
    }
    EXPECT_EQ(
        parse_network_config(R"({"Network":"10.244.0.0/16","SubnetLen":30})").range.subnet_len(),
        30);
}
