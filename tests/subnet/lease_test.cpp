#include "twill/subnet/lease.hpp"

#include <gtest/gtest.h>

#include "twill/error.hpp"

using namespace twill;
using namespace twill::subnet;

namespace {
const std::string kPrefix = "/twill/network";
constexpr auto kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31
}  // namespace

TEST(LeaseKey, RoundTrips) {
    auto subnet = net::Prefix::parse("10.244.3.0/24");
    EXPECT_EQ(subnet_key(kPrefix, subnet), "/twill/network/subnets/10.244.3.0-24");
    EXPECT_EQ(subnet_key(kPrefix + "/", subnet), "/twill/network/subnets/10.244.3.0-24");
    EXPECT_EQ(parse_subnet_key(kPrefix, "/twill/network/subnets/10.244.3.0-24"), subnet);
    EXPECT_EQ(parse_subnet_key(kPrefix, "/twill/network/subnets/fd00:1::-64"),
              net::Prefix::parse("fd00:1::/64"));
    EXPECT_EQ(subnets_key_prefix(kPrefix), "/twill/network/subnets/");
    EXPECT_EQ(config_key(kPrefix), "/twill/network/config");
}

TEST(LeaseKey, RejectsForeignKeys) {
    for (auto key :
         {"/twill/network/subnets/10.244.3.0", "/twill/network/subnets/10.244.3.0-",
          "/twill/network/subnets/10.244.3.0-33", "/twill/network/subnets/10.244.3.1-24",
          "/twill/network/subnets/10.244.3.0-24x", "/twill/network/subnets/x-24",
          "/twill/network/subnets/", "/twill/network/subnets/10.244.3.0-24/extra",
          "/other/subnets/10.244.3.0-24", "/twill/network/config", "/twill/network/subnets/-24"}) {
        EXPECT_FALSE(parse_subnet_key(kPrefix, key)) << key;
    }
}

TEST(LeaseValue, VxlanRoundTrip) {
    LeaseValue value{net::Address::parse("192.168.1.10"), "node-a",
                     VxlanLeaseData{net::MacAddress::parse("0a:58:0a:f4:03:00")}};
    const auto json = encode_lease_value(value);
    EXPECT_EQ(json, R"({"BackendData":{"VtepMAC":"0a:58:0a:f4:03:00"},"BackendType":"vxlan",)"
                    R"("Node":"node-a","PublicIP":"192.168.1.10"})");
    EXPECT_EQ(decode_lease_value(json), value);
}

TEST(LeaseValue, WireguardRoundTrip) {
    auto data = WireguardLeaseData::from_base64(kKey);
    EXPECT_EQ(data.public_key[0], 0);
    EXPECT_EQ(data.public_key[31], 31);
    EXPECT_EQ(data.public_key_base64(), kKey);
    LeaseValue value{net::Address::parse("fd00::10"), "node-b", data};
    EXPECT_EQ(decode_lease_value(encode_lease_value(value)), value);
    EXPECT_EQ(value.backend_type(), BackendType::wireguard);
}

TEST(LeaseValue, ErrorsNameTheField) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{", "lease value"},
        {"[]", "lease value"},
        {R"({"Node":"a","BackendType":"vxlan","BackendData":{"VtepMAC":"0a:00:00:00:00:01"}})",
         "PublicIP"},
        {R"({"PublicIP":"1.2.3","Node":"a","BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:00:01"}})",
         "PublicIP"},
        {R"({"PublicIP":"1.2.3.4","BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:00:01"}})",
         "Node"},
        {R"({"PublicIP":"1.2.3.4","Node":"","BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:00:01"}})",
         "Node"},
        {R"({"PublicIP":"1.2.3.4","Node":7,"BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:00:01"}})",
         "Node"},
        {R"({"PublicIP":"1.2.3.4","Node":"a","BackendType":"udp","BackendData":{}})",
         "BackendType"},
        {R"({"PublicIP":"1.2.3.4","Node":"a","BackendType":"vxlan"})", "BackendData"},
        {R"({"PublicIP":"1.2.3.4","Node":"a","BackendType":"vxlan","BackendData":{}})",
         "BackendData.VtepMAC"},
        {R"({"PublicIP":"1.2.3.4","Node":"a","BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:01"}})",
         "BackendData.VtepMAC"},
        {R"({"PublicIP":"1.2.3.4","Node":"a","BackendType":"wireguard",
             "BackendData":{"PublicKey":"c2hvcnQ="}})",
         "BackendData.PublicKey"},
        {R"({"PublicIP":"1.2.3.4","Node":"a","BackendType":"wireguard",
             "BackendData":{"PublicKey":"not base64!"}})",
         "BackendData.PublicKey"},
    };
    for (const auto& [json, field] : cases) {
        try {
            decode_lease_value(json);
            ADD_FAILURE() << "accepted " << json;
        } catch (const ParseError& e) {
            EXPECT_EQ(e.field(), field) << json << " -> " << e.what();
        }
    }
}
