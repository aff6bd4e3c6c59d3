#include "twill/subnet/lease.hpp"

#include <gtest/gtest.h>

#include <regex>

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
    EXPECT_EQ(parse_subnet_key(kPrefix, "/twill/network/subnets/10.244.3.0-24"), SubnetKey{subnet});
    EXPECT_EQ(parse_subnet_key(kPrefix, "/twill/network/subnets/fd00:1::-64"),
              SubnetKey{net::Prefix::parse("fd00:1::/64")});
    EXPECT_EQ(subnets_key_prefix(kPrefix), "/twill/network/subnets/");
    EXPECT_EQ(config_key(kPrefix), "/twill/network/config");
}

// flannel's dual-stack keys (pkg/subnet: MakeSubnetKey joins the halves with "&").
TEST(LeaseKey, DualStackKeysAsFlannelWritesThem) {
    const auto v4 = net::Prefix::parse("10.244.3.0/24");
    const auto v6 = net::Prefix::parse("fd00:10:244:3::/64");
    const auto key = subnet_key(kPrefix, v4, v6);
    EXPECT_EQ(key, "/twill/network/subnets/10.244.3.0-24&fd00:10:244:3::-64");
    EXPECT_EQ(parse_subnet_key(kPrefix, key), (SubnetKey{v4, v6}));
    // flannel's own examples: a v4-only key, a dual-stack one, and its IPv6-only form with an
    // empty IPv4 half.
    const std::string flannel = "/coreos.com/network";
    EXPECT_EQ(parse_subnet_key(flannel, "/coreos.com/network/subnets/10.5.34.0-24"),
              SubnetKey{net::Prefix::parse("10.5.34.0/24")});
    EXPECT_EQ(
        parse_subnet_key(flannel, "/coreos.com/network/subnets/10.42.0.0-24&2001:cafe:42::-64"),
        (SubnetKey{net::Prefix::parse("10.42.0.0/24"), net::Prefix::parse("2001:cafe:42::/64")}));
    EXPECT_EQ(parse_subnet_key(flannel, "/coreos.com/network/subnets/0.0.0.0-0&fc00:0:0:1::-64"),
              SubnetKey{net::Prefix::parse("fc00:0:0:1::/64")});
    // The keys twill writes match flannel's pattern:
    // (\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$
    const std::regex pattern(R"((\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$)");
    EXPECT_TRUE(std::regex_search(key, pattern)) << key;
    EXPECT_TRUE(std::regex_search(subnet_key(kPrefix, v4), pattern));
}

TEST(LeaseKey, RejectsBadDualStackKeys) {
    for (auto key : {"/twill/network/subnets/10.244.3.0-24&",
                     "/twill/network/subnets/10.244.3.0-24&10.244.4.0-24",
                     "/twill/network/subnets/10.244.3.0-24&fd00::1-64",
                     "/twill/network/subnets/fd00:1::-64&fd00:2::-64",
                     "/twill/network/subnets/10.244.3.0-24&fd00::-64&fd01::-64",
                     "/twill/network/subnets/&fd00::-64"}) {
        EXPECT_FALSE(parse_subnet_key(kPrefix, key)) << key;
    }
}

TEST(LeaseValue, DualStackFieldsAsFlannelWritesThem) {
    // flannel's vxlan value with an IPv6 underlay beside the IPv4 one (its VNI is ignored).
    const auto value = decode_lease_value(
        R"({"PublicIP":"192.168.1.10","PublicIPv6":"2001:db8::10","BackendType":"vxlan",)"
        R"("BackendData":{"VNI":1,"VtepMAC":"0a:58:0a:f4:03:00"},)"
        R"("BackendV6Data":{"VNI":1,"VtepMAC":"0a:58:0a:f4:03:06"},"Node":"n1"})");
    EXPECT_EQ(value.public_ip, net::Address::parse("192.168.1.10"));
    EXPECT_EQ(value.public_ipv6, net::Address::parse("2001:db8::10"));
    ASSERT_TRUE(value.backend_v6_data);
    EXPECT_EQ(std::get<VxlanLeaseData>(*value.backend_v6_data).vtep_mac,
              net::MacAddress::parse("0a:58:0a:f4:03:06"));
    EXPECT_EQ(decode_lease_value(encode_lease_value(value)), value);
    // flannel's IPv6-only value: PublicIP "0.0.0.0", the address in PublicIPv6.
    const auto v6_only = decode_lease_value(
        R"({"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::11","BackendType":"vxlan",)"
        R"("BackendV6Data":{"VtepMAC":"0a:58:0a:f4:03:07"},)"
        R"("BackendData":{"VtepMAC":"0a:58:0a:f4:03:08"},"Node":"n2"})");
    EXPECT_EQ(v6_only.public_ip, net::Address::parse("2001:db8::11"));
    // A v4-only value has neither.
    const auto v4 =
        decode_lease_value(R"({"PublicIP":"192.168.1.10","BackendType":"vxlan","Node":"n3",)"
                           R"("BackendData":{"VtepMAC":"0a:58:0a:f4:03:00"}})");
    EXPECT_FALSE(v4.public_ipv6);
    EXPECT_FALSE(v4.backend_v6_data);
    EXPECT_EQ(encode_lease_value(v4).find("V6"), std::string::npos);
}

TEST(LeaseValue, DualStackErrorsNameTheField) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"PublicIP":"1.2.3.4","PublicIPv6":"1.2.3.5","Node":"a","BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:00:01"}})",
         "PublicIPv6"},
        {R"({"PublicIP":"1.2.3.4","PublicIPv6":"fd00::g","Node":"a","BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:00:01"}})",
         "PublicIPv6"},
        {R"({"PublicIP":"1.2.3.4","Node":"a","BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:00:01"},"BackendV6Data":{}})",
         "BackendV6Data.VtepMAC"},
        {R"({"PublicIP":"1.2.3.4","Node":"a","BackendType":"vxlan",
             "BackendData":{"VtepMAC":"0a:00:00:00:00:01"},"BackendV6Data":"x"})",
         "BackendV6Data"},
    };
    for (const auto& [json, field] : cases) {
        try {
            decode_lease_value(json);
            ADD_FAILURE() << "no error for " << json;
        } catch (const ParseError& e) {
            EXPECT_EQ(e.field(), field) << json;
        }
    }
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

// flannel's host-gw leases carry no BackendData; twill writes them the same way.
TEST(LeaseValue, HostGwAsFlannelWritesIt) {
    const auto value =
        decode_lease_value(R"({"PublicIP":"192.0.2.5","Node":"b","BackendType":"host-gw"})");
    EXPECT_EQ(value.backend_type(), BackendType::host_gw);
    EXPECT_EQ(
        decode_lease_value(
            R"({"PublicIP":"192.0.2.5","Node":"b","BackendType":"host-gw","BackendData":null})"),
        value);
    const auto text = encode_lease_value(value);
    EXPECT_EQ(text.find("BackendData"), std::string::npos) << text;
    EXPECT_EQ(decode_lease_value(text), value);
}
