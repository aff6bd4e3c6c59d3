#include "twill/cni/node_subnet.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "twill/error.hpp"
#include "twill/sys/file.hpp"

namespace twill::cni {
namespace {

// Each text is refused with a ParseError naming its field.
void expect_field_errors(const std::vector<std::pair<std::string, std::string>>& cases) {
    for (const auto& [text, field] : cases) {
        try {
            parse_node_subnet(text);
            ADD_FAILURE() << text;
        } catch (const ParseError& e) {
            EXPECT_EQ(e.field(), field) << text;
        }
    }
}

TEST(NodeSubnet, ParsesTheDaemonsFile) {
    const auto s = parse_node_subnet(
        R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.3.1","bridge":"twill0","mtu":1450})");
    EXPECT_EQ(s.network.to_string(), "10.244.0.0/16");
    EXPECT_EQ(s.subnet.to_string(), "10.244.3.0/24");
    EXPECT_EQ(s.gateway.to_string(), "10.244.3.1");
    EXPECT_EQ(s.bridge, "twill0");
    EXPECT_EQ(s.mtu, 1450);
    EXPECT_EQ(parse_node_subnet(to_json_text(s)), s);
}

TEST(NodeSubnet, RejectsInconsistentFilesNamingTheField) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"({"network":"10.244.0.0/16","subnet":"10.245.3.0/24","gateway":"10.245.3.1","bridge":"twill0"})",
         "subnet"},
        {R"({"network":"10.244.0.0/16","subnet":"10.244.3.1/24","gateway":"10.244.3.1","bridge":"twill0"})",
         "subnet"},
        {R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.4.1","bridge":"twill0"})",
         "gateway"},
        {R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.3.0","bridge":"twill0"})",
         "gateway"},
        {R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.3.1"})",
         "bridge"},
        {R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.3.1","bridge":"twill0","mtu":20})",
         "mtu"},
        {R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24","bridge":"twill0"})", "gateway"},
    };
    expect_field_errors(cases);
    EXPECT_THROW(parse_node_subnet("{"), ParseError);
}

TEST(NodeSubnet, DualStackFileHasBothFamilies) {
    const auto s = parse_node_subnet(
        R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.3.1",)"
        R"("ipv6Network":"fd00:10:244::/48","ipv6Subnet":"fd00:10:244:3::/64",)"
        R"("ipv6Gateway":"fd00:10:244:3::1","bridge":"twill0","mtu":1450})");
    ASSERT_TRUE(s.ipv6);
    EXPECT_EQ(s.ipv6->subnet.to_string(), "fd00:10:244:3::/64");
    EXPECT_EQ(s.ipv6->gateway.to_string(), "fd00:10:244:3::1");
    ASSERT_EQ(s.families().size(), 2u);
    EXPECT_EQ(s.families()[0].gateway.to_string(), "10.244.3.1");
    EXPECT_EQ(s.family_of(net::Address::parse("fd00:10:244:3::7"))->gateway, s.ipv6->gateway);
    EXPECT_FALSE(s.family_of(net::Address::parse("fd00:10:244:4::7")));
    EXPECT_EQ(parse_node_subnet(to_json_text(s)), s);
    EXPECT_EQ(parse_node_subnet(R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24",)"
                                R"("gateway":"10.244.3.1","bridge":"twill0"})")
                  .families()
                  .size(),
              1u);

    const std::string base =
        R"({"network":"10.244.0.0/16","subnet":"10.244.3.0/24","gateway":"10.244.3.1","bridge":"twill0",)";
    const std::vector<std::pair<std::string, std::string>> cases{
        {base + R"("ipv6Subnet":"fd00:10:244:3::/64","ipv6Gateway":"fd00:10:244:3::1"})",
         "ipv6Network"},
        {base +
             R"("ipv6Network":"fd00:10:244::/48","ipv6Subnet":"fd00:10:245:3::/64","ipv6Gateway":"fd00:10:245:3::1"})",
         "ipv6Subnet"},
        {base +
             R"("ipv6Network":"fd00:10:244::/48","ipv6Subnet":"fd00:10:244:3::/64","ipv6Gateway":"fd00:10:244:4::1"})",
         "ipv6Gateway"},
        {base +
             R"("ipv6Network":"10.245.0.0/16","ipv6Subnet":"10.245.3.0/24","ipv6Gateway":"10.245.3.1"})",
         "ipv6Network"},
    };
    expect_field_errors(cases);
}

TEST(NodeSubnet, ReadReportsAbsenceAsNullopt) {
    char dir_template[] = "/tmp/twill-subnet-XXXXXX";
    const std::filesystem::path dir = ::mkdtemp(dir_template);
    EXPECT_FALSE(read_node_subnet(dir));
    NodeSubnet s{net::Prefix::parse("10.1.0.0/16"), net::Prefix::parse("10.1.7.0/24"),
                 net::Address::parse("10.1.7.1"), "twill0", 1400};
    write_node_subnet(dir, s);
    EXPECT_EQ(read_node_subnet(dir), s);
    sys::write_file_atomic(dir / "subnet.json", "{}");
    EXPECT_THROW(read_node_subnet(dir), ParseError);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace twill::cni
