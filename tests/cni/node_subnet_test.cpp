#include "twill/cni/node_subnet.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "twill/error.hpp"
#include "twill/sys/file.hpp"

namespace twill::cni {
namespace {

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
    for (const auto& [text, field] : cases) {
        try {
            parse_node_subnet(text);
            ADD_FAILURE() << text;
        } catch (const ParseError& e) {
            EXPECT_EQ(e.field(), field) << text;
        }
    }
    EXPECT_THROW(parse_node_subnet("{"), ParseError);
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
